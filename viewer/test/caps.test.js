// The viewer's own caps (src/trace.js, as the Rust reader's
// `Reader::open_capped`): a header that records a limit above a cap is
// refused before any event, naming the limit, the recorded value and the
// cap; everything the decoder builds without bytes of the trace is charged
// to its `alloc_bytes` cap, and decoding stops there with an error naming
// the event and the cap, in bounded memory. Both committed reader bombs
// (crates/chronicle-core/tests/golden/hostile/, written by the core's
// `trace::testing::cow_push_bomb`: long runs of copy-on-write pushes of a
// large array) are read from there, never copied, as they may be
// re-generated. Raised caps read genuine traces that the defaults refuse.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const T = require('../src/trace.js');
const { TraceView } = require('../src/model.js');
const fx = require('../test-support/fixtures.js');
const { rewrite, limitsOf, parse } = require('../test-support/rewrite.js');

const HOSTILE = path.join(__dirname, '..', '..', 'crates', 'chronicle-core', 'tests', 'golden', 'hostile');
/// Shape (a): default limits in the header, 100,000 copy-on-write pushes.
const SHAPE_A = path.join(HOSTILE, 'cow-push-default.ctrace');
/// Shape (b): an unbounded header, 3,000,000 copy-on-write pushes.
const SHAPE_B = path.join(HOSTILE, 'cow-push-unbounded.ctrace');
const U64_MAX = 2n ** 64n - 1n;
const DEFAULT_ALLOC = 268435456n;

const read = (file) => new Uint8Array(fs.readFileSync(file));
const noOffset = (message) => message.replace(/ \(at byte \d+\)$/, '');

test('the default caps are the CLI run defaults (Limits::DEFAULT)', () => {
  // crates/chronicle-core/src/limits.rs, `Limits::DEFAULT`.
  const limits = fs.readFileSync(path.join(__dirname, '..', '..', 'crates', 'chronicle-core', 'src', 'limits.rs'), 'utf8');
  const block = /pub const DEFAULT: Limits = Limits \{([^}]*)\}/.exec(limits)[1];
  const rust = Object.fromEntries([...block.matchAll(/(\w+): ([\d_]+),/g)].map(([, k, v]) => [k, BigInt(v.replace(/_/g, ''))]));
  assert.deepEqual({ ...T.DEFAULT_CAPS }, rust);
  assert.deepEqual(Object.keys(T.DEFAULT_CAPS), T.LIMIT_NAMES);
  assert.ok(Object.values(T.UNBOUNDED_CAPS).every((v) => v === U64_MAX));
  assert.deepEqual(T.capsFrom({ instructions: '50000000', alloc_bytes: 1 << 30 }),
    { ...T.DEFAULT_CAPS, instructions: 50000000n, alloc_bytes: BigInt(1 << 30) });
  assert.throws(() => T.capsFrom({ instructions: '-1' }), /instructions cap must be a whole number/);
  assert.throws(() => T.capsFrom({ alloc_bytes: (2n ** 64n).toString() }), /alloc_bytes cap/);
  assert.throws(() => T.capsFrom({ fuel: 1 }), /unknown cap fuel/);
});

test('shape (a): default limits in the header; decoding stops at the alloc_bytes cap, naming the event', () => {
  const bytes = read(SHAPE_A);
  const t0 = process.hrtime.bigint();
  const data = T.loadTraceSync(bytes);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const e = data.error;
  assert.ok(e, 'refused');
  assert.equal(e.kind, 'reader_alloc_cap');
  assert.equal(e.category, 'reader-cap');
  assert.equal(e.cap, DEFAULT_ALLOC);
  assert.equal(e.event, data.eventCount, 'the events before it are kept');
  assert.equal(e.text, `reading event #${e.event} needs more than this reader's alloc_bytes cap of 268435456 bytes`);
  assert.ok(!data.ok && !data.verified);
  // The header verified: it is shown, and the events before the stop are
  // browsable, also where the cap was nearly spent.
  assert.equal(data.header.pluginName, 'cow_push_bomb');
  assert.equal(data.header.limits.alloc_bytes, DEFAULT_ALLOC);
  const footerEvents = Number(data.footer.events);
  assert.ok(e.event > 1000 && e.event < footerEvents / 2, `stopped at #${e.event} of ${footerEvents}`);
  const view = new TraceView(data);
  const last = view.event(view.count - 1);
  assert.equal(last.index, view.count - 1);
  assert.ok(view.state(view.count - 1).frames.length === 1);
  console.log(`shape (a): stopped at event #${e.event} of ${footerEvents} in ${ms.toFixed(0)} ms`);
});

test('shape (b): an unbounded header is refused before any event, naming the limit, its value and the cap', () => {
  const data = T.loadTraceSync(read(SHAPE_B));
  const e = data.error;
  assert.equal(e.kind, 'over_reader_cap');
  assert.equal(e.category, 'reader-cap');
  assert.deepEqual([e.limit, e.recorded, e.cap], ['instructions', U64_MAX, 5000000n]);
  assert.equal(e.text, `the trace's recorded instructions limit ${U64_MAX} is above this reader's cap 5000000`);
  assert.equal(data.header, null, 'nothing is shown');
  assert.equal(data.eventCount, 0);
  assert.equal(data.snapshots.length, 0);
  assert.equal(data.stream.length, 0, 'no chunk was even decompressed');
  // Every cap lifted but alloc_bytes: refused for alloc_bytes, the first
  // limit over its cap then. A finite alloc_bytes cap never reads shape (b).
  const caps = { ...T.UNBOUNDED_CAPS, alloc_bytes: 1n << 40n };
  const again = T.loadTraceSync(read(SHAPE_B), { caps }).error;
  assert.deepEqual([again.kind, again.limit, again.recorded, again.cap], ['over_reader_cap', 'alloc_bytes', U64_MAX, 1n << 40n]);
});

/// Runs `script` (which prints one JSON line) in a child Node with a heap
/// of 256 MB; returns its output, parsed.
function child(script, args) {
  const out = execFileSync(process.execPath, ['--max-old-space-size=256', '-e', script, ...args], {
    cwd: __dirname, timeout: 120000, maxBuffer: 1 << 20,
  });
  return JSON.parse(out.toString('utf8'));
}

const DECODE = `
  // The peak RSS of this process: VmHWM (the resource usage's maxRSS may
  // carry the parent's over fork and exec).
  function peakRssMb() {
    try {
      const m = /VmHWM:\\s*(\\d+) kB/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'));
      if (m) return Number(m[1]) / 1024;
    } catch (_) {}
    return process.resourceUsage().maxRSS / 1024;
  }
  const T = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'trace.js'))});
  const bytes = new Uint8Array(require('node:fs').readFileSync(process.argv[1]));
  const caps = process.argv[2] ? JSON.parse(process.argv[2]) : undefined;
  const data = T.loadTraceSync(bytes, caps ? { caps } : {});
  const { View } = { View: require(${JSON.stringify(path.join(__dirname, '..', 'src', 'model.js'))}).TraceView };
  const view = new View(data);
  // Random access over what was read, as the page does.
  for (let i = Math.max(0, view.count - 50); i < view.count; i++) { view.event(i); view.state(i); }
  console.log(JSON.stringify({
    kind: data.error && data.error.kind, events: data.eventCount,
    maxRssMb: peakRssMb(),
  }));
`;

test('both shapes are stopped in bounded memory (a child with a 256 MB heap exits normally with the error)', () => {
  const a = child(DECODE, [SHAPE_A]);
  assert.equal(a.kind, 'reader_alloc_cap');
  // The machine and its snapshots allocate at most twice the cap (512
  // MiB); an uncharging decoder builds about 40 GB.
  assert.ok(a.maxRssMb < 1024, `shape (a): peak RSS ${a.maxRssMb} MB`);
  const b = child(DECODE, [SHAPE_B]);
  assert.equal(b.kind, 'over_reader_cap');
  assert.equal(b.events, 0);
  assert.ok(b.maxRssMb < 200, `shape (b): peak RSS ${b.maxRssMb} MB`);
  // A lower cap, and a header that records it, stops sooner in less.
  const small = rewrite(read(SHAPE_A), { limits: [...limitsOf(read(SHAPE_A)).slice(0, 5), 8n << 20n] });
  const file = path.join(require('node:os').tmpdir(), `viewer-caps-${process.pid}.ctrace`);
  fs.writeFileSync(file, small);
  try {
    const c = child(DECODE, [file, JSON.stringify({ alloc_bytes: String(8 << 20) })]);
    assert.equal(c.kind, 'reader_alloc_cap');
    assert.ok(c.events < a.events, `${c.events} events with 8 MiB, ${a.events} with 256 MiB`);
    assert.ok(c.maxRssMb < a.maxRssMb, `peak RSS ${c.maxRssMb} MB with 8 MiB, ${a.maxRssMb} MB with 256 MiB`);
    console.log(`peak RSS: shape (a) ${a.maxRssMb.toFixed(0)} MB, (a) under an 8 MiB cap ${c.maxRssMb.toFixed(0)} MB, (b) ${b.maxRssMb.toFixed(0)} MB`);
  } finally {
    fs.rmSync(file, { force: true });
  }
});

test('a lower alloc_bytes cap stops shape (a) sooner, and the allocations charged stay within twice the cap', () => {
  const bytes = read(SHAPE_A);
  const five = limitsOf(bytes).slice(0, 5);
  let before = 0;
  for (const cap of [1n << 20n, 4n << 20n, 16n << 20n]) {
    const data = T.loadTraceSync(rewrite(bytes, { limits: [...five, cap] }), { caps: { alloc_bytes: cap } });
    assert.equal(data.error.kind, 'reader_alloc_cap', `cap ${cap}`);
    assert.equal(data.error.cap, cap);
    const events = data.eventCount;
    assert.ok(events > before, `cap ${cap}: ${events} events`);
    before = events;
    // Each loop of three steps pushes onto x, copying it (8 bytes per
    // element): about (events / 3)^2 / 2 elements copied in all.
    const copied = (events / 3) ** 2 / 2 * 8;
    assert.ok(copied <= 2 * Number(cap) * 1.05, `cap ${cap}: about ${copied} bytes copied`);
    assert.ok(copied >= Number(cap) * 0.9, `cap ${cap}: about ${copied} bytes copied: stopped too early`);
  }
});

test('a header with a limit above its cap is refused before any event; at the cap it is read', () => {
  const bytes = fx.bytes('kitchen-sink.ctrace');
  const recorded = limitsOf(bytes);
  const expected = fx.json('kitchen-sink.expected.json.gz').events;
  // After the preamble (10 bytes) and the header length (a varint).
  let fieldsAt = 10;
  while (bytes[fieldsAt] & 0x80) fieldsAt++;
  fieldsAt++;
  T.LIMIT_NAMES.forEach((name, k) => {
    const caps = T.capsFrom({ [name]: recorded[k] });
    // At the cap: read whole.
    const at = T.loadTraceSync(bytes, { caps });
    assert.equal(at.error, null, `${name} at its cap`);
    assert.equal(at.eventCount, expected.length);
    // One below the recorded value: refused, naming it.
    const below = recorded[k] - 1n;
    const data = T.loadTraceSync(bytes, { caps: T.capsFrom({ [name]: below }) });
    const e = data.error;
    assert.equal(e.kind, 'over_reader_cap', name);
    assert.deepEqual([e.limit, e.recorded, e.cap], [name, recorded[k], below]);
    assert.equal(noOffset(e.message), `the trace's recorded ${name} limit ${recorded[k]} is above this reader's cap ${below}`);
    assert.equal(e.offset, fieldsAt, 'the offset of the header fields');
    assert.equal(data.header, null);
    assert.equal(data.eventCount, 0);
  });
  // Several over their caps: the first in header order is named.
  const e = T.loadTraceSync(bytes, { caps: { call_depth: 1, alloc_bytes: 1 } }).error;
  assert.equal(e.limit, 'call_depth');
  // A version 1 trace records no alloc_bytes: it is read under the cap.
  const v1 = T.loadTraceSync(fx.bytes('golden-audit.ctrace'), { caps: { alloc_bytes: 1 << 20 } });
  assert.equal(v1.error, null);
  assert.equal(v1.formatVersion, 1);
});

test('raised caps read a genuine trace that the defaults refuse, event for event', () => {
  const name = 'kitchen-sink';
  const bytes = fx.bytes(`${name}.ctrace`);
  const expected = fx.json(`${name}.expected.json.gz`).events;
  const five = limitsOf(bytes).slice(0, 5);
  // As a run with `--instructions 50000000` records it.
  const big = rewrite(bytes, { limits: [50000000n, ...five.slice(1), ...limitsOf(bytes).slice(5)] });
  const refused = T.loadTraceSync(big).error;
  assert.deepEqual([refused.kind, refused.limit, refused.recorded], ['over_reader_cap', 'instructions', 50000000n]);
  for (const caps of [{ instructions: 50000000 }, T.UNBOUNDED_CAPS]) {
    const data = T.loadTraceSync(big, { caps, snapEvery: 16 });
    assert.equal(data.error, null, JSON.stringify(caps, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
    const view = new TraceView(data);
    assert.deepEqual(view.events(0, view.count).map((ev) => fx.eventJson(view, ev)), expected);
  }
  // An alloc_bytes cap so low that the decoder's own allocations pass it:
  // stopped, with a cap error; a higher one reads it all.
  const low = rewrite(bytes, { limits: [...five, 64n] });
  const stopped = T.loadTraceSync(low, { caps: { alloc_bytes: 64 } });
  assert.equal(stopped.error.kind, 'reader_alloc_cap');
  const read = T.loadTraceSync(low, { caps: { alloc_bytes: 1 << 20 } });
  assert.equal(read.error && read.error.text, `malformed event #${read.eventCount}: ${T.ALLOC_BEYOND}`,
    'the recorded limit is still checked');
});

test('every fixture decodes under the default caps, with the same events as without caps', () => {
  for (const name of fx.traceFixtures()) {
    const bytes = fx.bytes(`${name}.ctrace`);
    const capped = T.loadTraceSync(bytes, { snapEvery: 32 });
    const open = T.loadTraceSync(bytes, { caps: T.UNBOUNDED_CAPS, snapEvery: 32 });
    assert.equal(capped.error, null, name);
    assert.equal(capped.eventCount, open.eventCount, name);
    assert.deepEqual(capped.snapshotAt, open.snapshotAt, `${name}: no snapshot skipped`);
    const a = new TraceView(capped);
    const b = new TraceView(open);
    assert.deepEqual(a.events(0, a.count).map((ev) => fx.eventJson(a, ev)), b.events(0, b.count).map((ev) => fx.eventJson(b, ev)), name);
  }
});

test('random access never fails on an event the first pass read, even when the caller keeps every state', () => {
  // Shape (a) read to just before the cap: every state handed out shares
  // x and the outer array, so the next push copies x again; the model
  // starts again from a snapshot when its allowance runs out.
  const data = T.loadTraceSync(read(SHAPE_A));
  assert.equal(data.error.kind, 'reader_alloc_cap');
  const view = new TraceView(data);
  const kept = [];
  const from = Math.max(0, view.count - 3000);
  for (let i = from; i < view.count; i++) kept.push(view.state(i).frames[0].regs[2]);
  // The states kept are intact: x grew by one element every three events.
  const lengths = kept.map((x) => x.n);
  for (let k = 3; k < lengths.length; k++) assert.equal(lengths[k], lengths[k - 3] + 1, `state #${from + k}`);
  // And so are the transient events of forEachEvent (no copy for them).
  let n = 0;
  view.forEachEvent(from, view.count, (ev) => { n++; assert.equal(ev.index, from + n - 1); });
  assert.equal(n, view.count - from);
});

test('snapshots the allowance cannot pay for are skipped: random access is still exact', () => {
  const name = 'kitchen-sink';
  const bytes = fx.bytes(`${name}.ctrace`);
  const expected = fx.json(`${name}.expected.json.gz`).events;
  const five = limitsOf(bytes).slice(0, 5);
  // A cap (and a recorded limit) of 5,000 bytes: enough for the run, not
  // for a snapshot every 4 events.
  const data = T.loadTraceSync(rewrite(bytes, { limits: [...five, 5000n] }), { caps: { alloc_bytes: 5000 }, snapEvery: 4 });
  assert.equal(data.error, null, data.error && data.error.message);
  assert.equal(data.eventCount, expected.length);
  assert.ok(data.snapshotAt.length > 1 && data.snapshotAt.length < expected.length / 4 / 4, `${data.snapshotAt.length} snapshots`);
  assert.deepEqual(data.snapshotAt, data.snapshots.map((s) => s.events));
  const view = new TraceView(data);
  let seed = 11;
  for (let k = 0; k < 300; k++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const i = seed % view.count;
    assert.deepEqual(fx.eventJson(view, view.event(i)), expected[i], `#${i}`);
    const ev = expected[i];
    if (ev.kind === 'step' && ev.writes.length) {
      const top = view.state(i).frames.at(-1);
      for (const [r, v] of ev.writes) assert.deepEqual(fx.valueJson(top.regs[r]), v, `#${i} r${r}`);
    }
  }
});

/// A trace with `kitchen-sink.ctrace`'s header and `chunks` LZ4 chunks of
/// 64 KiB of zero bytes each (about 300 bytes apiece in the file), hash
/// chained, whose footer claims `events` events.
function lz4Bomb(chunks, events) {
  const { hash } = require('../src/blake3.js');
  const base = fx.bytes('kitchen-sink.ctrace');
  const header = base.subarray(0, T.readHeader(base).headerEnd);
  // One literal zero, a match of 65,530 bytes at offset 1, five literals.
  const ext = 65530 - 4 - 15;
  const block = Uint8Array.from([0x1f, 0, 1, 0, ...new Array(Math.floor(ext / 255)).fill(255), ext % 255, 0x50, 0, 0, 0, 0, 0]);
  const frame = Uint8Array.from([2, 0x80, 0x80, 0x04, block.length & 0x7f | 0x80, block.length >> 7, ...block]);
  const parts = [header];
  let chain = header.subarray(header.length - 32);
  for (let k = 0; k < chunks; k++) {
    const linked = new Uint8Array(32 + frame.length);
    linked.set(chain, 0);
    linked.set(frame, 32);
    chain = hash(linked);
    parts.push(frame, chain);
  }
  const footer = new Uint8Array(57);
  const dv = new DataView(footer.buffer);
  footer[0] = 0xff;
  dv.setBigUint64(1, BigInt(chunks), true);
  dv.setBigUint64(9, BigInt(events), true);
  dv.setBigUint64(17, BigInt(events), true);
  footer.set(chain, 25);
  parts.push(footer);
  return Buffer.concat(parts);
}

/// DECODE, counting the bytes of the Uint16Arrays allocated by length
/// (three of the four per-event arrays are). Pages never touched do not
/// show in the RSS, but a browser refuses multi-gigabyte buffers: what is
/// asked for is what counts here.
const COUNTED = `
  let allocated = 0;
  const Base = Uint16Array;
  globalThis.Uint16Array = class extends Base {
    constructor(...args) {
      super(...args);
      if (typeof args[0] === 'number') allocated += args[0] * Base.BYTES_PER_ELEMENT;
    }
  };
  const log = console.log;
  console.log = (line) => log(JSON.stringify(Object.assign(JSON.parse(line), { allocatedMb: allocated / 1048576 })));
` + DECODE;

test('a footer that claims billions of events does not size the per-event arrays', () => {
  // 1,024 chunks (a 300 KB file) decompress to a 64 MiB stream; a decoder
  // that trusted the footer up to two events per stream byte would
  // allocate 128 Mi entries of 7 bytes (900 MB) before the first event.
  const bytes = lz4Bomb(1024, 2n ** 62n);
  assert.ok(bytes.length < 400 << 10, `${bytes.length} bytes`);
  const file = path.join(require('node:os').tmpdir(), `viewer-lz4-${process.pid}.ctrace`);
  fs.writeFileSync(file, bytes);
  try {
    const out = child(COUNTED, [file]);
    assert.equal(out.kind, 'bad_event', 'the zero bytes are no event stream');
    assert.equal(out.events, 0);
    // At most 4 Mi entries of per-event arrays (24 MB of them in Uint16Arrays).
    assert.ok(out.allocatedMb < 100, `${out.allocatedMb} MB of per-event arrays allocated`);
    assert.ok(out.maxRssMb < 500, `peak RSS ${out.maxRssMb} MB`);
  } finally {
    fs.rmSync(file, { force: true });
  }
  const data = T.loadTraceSync(bytes);
  assert.equal(data.chunkCount, 1024);
  assert.equal(data.stream.length, 64 << 20);
  assert.equal(data.error.text, 'malformed event #0: a step outside a running frame');
});

test('the decompressed event stream is bounded by the alloc_bytes cap too', () => {
  // Raw chunks of 97 bytes; a cap (and a recorded limit) of 5,000 bytes
  // holds some of them: the events in those are shown, then the stop.
  const bytes = fx.bytes('audit-plugin-raw97.ctrace');
  const expected = fx.json('audit-plugin-raw97.expected.json.gz').events;
  const five = limitsOf(bytes).slice(0, 5);
  const small = rewrite(bytes, { limits: [...five, 5000n] });
  const data = T.loadTraceSync(small, { caps: { alloc_bytes: 5000 } });
  // The first chunk that does not fit, counted from the file's framing.
  const sizes = parse(small).chunks.map((c) => c.length);
  let fit = 0;
  let k = 0;
  while (fit + sizes[k] <= 5000) fit += sizes[k++];
  assert.ok(k > 10 && k < sizes.length, `${k} of ${sizes.length} chunks fit`);
  const e = data.error;
  assert.equal(e.kind, 'reader_stream_cap');
  assert.equal(e.category, 'reader-cap');
  assert.deepEqual([e.chunk, e.cap], [k, 5000n]);
  assert.equal(e.text, `the event stream up to chunk ${k} needs ${fit + sizes[k]} bytes, more than this reader's alloc_bytes cap of 5000 bytes`);
  assert.equal(data.stream.length, fit);
  assert.ok(data.eventCount > 100 && data.eventCount < expected.length, `${data.eventCount} events`);
  const view = new TraceView(data);
  assert.deepEqual(view.events(0, view.count).map((ev) => fx.eventJson(view, ev)), expected.slice(0, view.count));
  // The whole stream under a cap that holds it.
  assert.equal(T.loadTraceSync(small, { caps: { alloc_bytes: 12000 } }).error, null);
});
