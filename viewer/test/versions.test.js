// Trace format versions and the `alloc_bytes` limit, without the CLI:
// version 1 traces (the core's golden traces, copied as fixtures) are still
// read, with `alloc_bytes` unbounded; version 2 headers hold six limits;
// version 3 adds the record of a call with the path it opened (tag 8),
// refused in older versions; other versions are refused; a trap with limit code 6 is `limit exceeded:
// alloc_bytes`; and the allocations the viewer charges against
// `alloc_bytes` (appends and pushes; see Machine.charge in src/trace.js)
// are counted here independently. Version 2 traces are made from the
// fixtures by rewriting their header (test-support/rewrite.js);
// test/cli.test.js compares all of this with the Rust reader.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const T = require('../src/trace.js');
const { TraceView } = require('../src/model.js');
const fx = require('../test-support/fixtures.js');
const { rewrite, limitsOf, parse } = require('../test-support/rewrite.js');

const U64_MAX = 2n ** 64n - 1n;
const ALLOC_BEYOND = 'allocations beyond the recorded alloc_bytes limit';
const V1 = ['golden-audit', 'golden-fib-depth-limit'];

/// `bytes` as format version 2 with `alloc_bytes` as its sixth limit.
function asV2(bytes, allocBytes) {
  const five = limitsOf(bytes).slice(0, 5);
  return rewrite(bytes, { version: 2, limits: [...five, BigInt(allocBytes)] });
}

/// The events of `data`, in the generator's JSON shape.
function eventsOf(data) {
  const view = new TraceView(data);
  return view.events(0, view.count).map((ev) => fx.eventJson(view, ev));
}

test('the reader knows format versions 1 to 4 and six limits', () => {
  assert.equal(T.FORMAT_VERSION, 4);
  assert.equal(T.OPENED_PATHS_SINCE, 3);
  assert.equal(T.SIGNATURE_SINCE, 4);
  assert.equal(T.OLDEST_FORMAT_VERSION, 1);
  assert.deepEqual(T.LIMIT_NAMES, ['instructions', 'call_depth', 'registers', 'array_len', 'string_bytes', 'alloc_bytes']);
});

test('format version 1 (the golden traces) is still read; its alloc_bytes is unbounded', () => {
  for (const name of V1) {
    const bytes = fx.bytes(`${name}.ctrace`);
    assert.equal(bytes[8] | (bytes[9] << 8), 1, `${name} is a version 1 trace`);
    assert.equal(limitsOf(bytes).length, 5, `${name} records five limits`);
    const data = T.loadTraceSync(bytes);
    assert.equal(data.error, null, name);
    assert.equal(data.formatVersion, 1);
    assert.deepEqual(Object.keys(data.header.limits), T.LIMIT_NAMES);
    assert.equal(data.header.limits.alloc_bytes, U64_MAX);
    assert.deepEqual(eventsOf(data), fx.json(`${name}.expected.json.gz`).events, name);
  }
});

test('format version 2: six limits, the same events', () => {
  for (const name of [...V1, 'kitchen-sink', 'audit-plugin-lz4-700']) {
    const v1 = fx.bytes(`${name}.ctrace`);
    const five = limitsOf(v1).slice(0, 5);
    const data = T.loadTraceSync(asV2(v1, 268435456));
    assert.equal(data.error, null, `${name}: ${data.error && data.error.message}`);
    assert.equal(data.formatVersion, 2);
    assert.deepEqual(Object.values(data.header.limits), [...five, 268435456n]);
    assert.deepEqual(Object.keys(data.header.limits), T.LIMIT_NAMES);
    assert.deepEqual(eventsOf(data), fx.json(`${name}.expected.json.gz`).events, name);
  }
  // The largest value a varint holds: read exactly (a BigInt), by a
  // reader without caps; the default caps refuse it.
  const huge = asV2(fx.bytes('golden-audit.ctrace'), U64_MAX);
  const data = T.loadTraceSync(huge, { caps: T.UNBOUNDED_CAPS });
  assert.equal(data.header.limits.alloc_bytes, U64_MAX);
  assert.equal(T.loadTraceSync(huge).error.kind, 'over_reader_cap');
});

test('the limits field holds exactly as many limits as the version says', () => {
  const v1 = fx.bytes('golden-audit.ctrace');
  const five = limitsOf(v1);
  const text = (bytes) => {
    const data = T.loadTraceSync(bytes);
    assert.equal(data.header, null, 'a header that does not decode shows nothing');
    return data.error.text;
  };
  // As the Rust reader says (test/cli.test.js checks these against it).
  assert.equal(text(rewrite(v1, { version: 2 })), 'truncated trace: the input ends before the footer (an interrupted write?)');
  assert.equal(text(rewrite(v1, { limits: [...five, 1n] })), 'malformed header: a field has bytes left over');
  assert.equal(text(rewrite(v1, { version: 2, limits: [...five, 1n, 1n] })), 'malformed header: a field has bytes left over');
});

test('format versions other than 1 to 4 are refused', () => {
  const base = fx.bytes('golden-audit.ctrace');
  const cases = [
    [0, 'not a version this build knows'],
    [5, 'written by a newer ChronicleVM: upgrade to read it'],
    [0x100, 'written by a newer ChronicleVM: upgrade to read it'],
    [0xffff, 'written by a newer ChronicleVM: upgrade to read it'],
  ];
  for (const [version, why] of cases) {
    const message = `unsupported trace format version ${version} (${why}; this build reads version 4) (at byte 8)`;
    // Sealed again (a consistent file of another version) or not: the
    // version is checked before anything else.
    const edited = base.slice();
    edited[8] = version & 0xff;
    edited[9] = version >> 8;
    for (const bytes of [rewrite(base, { version }), edited]) {
      const data = T.loadTraceSync(bytes);
      assert.equal(data.error && data.error.message, message);
      assert.equal(data.error.kind, 'unsupported_version');
      assert.equal(data.error.category, 'unsupported');
      assert.equal(data.header, null);
    }
  }
});

test('format version 3: a call records what it opened; the record is refused in older versions', () => {
  const bytes = fx.bytes('golden-v3-audit.ctrace');
  assert.equal(bytes[8] | (bytes[9] << 8), 3);
  const data = T.loadTraceSync(bytes);
  assert.equal(data.error, null, data.error && data.error.message);
  assert.equal(data.formatVersion, 3);
  const expected = fx.json('golden-v3-audit.expected.json.gz').events;
  const events = eventsOf(data);
  assert.deepEqual(events, expected);
  // The fs.read call (import 0) opened `data/app.log`; no other call says.
  const opened = events.filter((e) => 'opened' in e);
  assert.equal(opened.length, 1);
  assert.equal(opened[0].import, 0);
  assert.equal(opened[0].opened, 'data/app.log');
  assert.ok(opened[0].text.endsWith(' (opened "data/app.log")'), opened[0].text);
  // The loader's list of calls carries it, and the panel text shows it.
  const call = data.calls.find((c) => 'opened' in c);
  assert.equal(call.opened, 'data/app.log');
  const view = new TraceView(data);
  assert.match(view.describe(view.event(call.event)), /^fs\.read@1\.0\("app\.log"\) -> ".*" \(opened "data\/app\.log"\)$/);
  // The same stream labelled version 2 (or 1): tag 8 is unknown there.
  const i = events.findIndex((e) => 'opened' in e);
  const asV1 = rewrite(bytes, { version: 1, limits: limitsOf(bytes).slice(0, 5) });
  for (const older of [rewrite(bytes, { version: 2 }), asV1]) {
    const d = T.loadTraceSync(older);
    assert.match(d.error && d.error.message, /^unknown event record tag 8 \(at byte \d+\)$/);
    assert.equal(d.error.category, 'malformed');
    assert.equal(d.eventCount, i);
  }
});

test('format version 3: an opened path is bounded (64 KiB) and must be UTF-8', () => {
  const bytes = fx.bytes('golden-v3-audit.ctrace');
  const path = new TextEncoder().encode('data/app.log');
  // The opened path ends the fs.read record: its length byte (12), then it.
  const at = (s) => {
    for (let k = 0; k + path.length < s.length; k++) {
      if (s[k] === path.length && path.every((b, j) => s[k + 1 + j] === b)) return k;
    }
    throw new Error('no opened path in the stream');
  };
  const utf8 = T.loadTraceSync(rewrite(bytes, { stream: (s) => { s[at(s) + 1] = 0xff; } }));
  assert.match(utf8.error && utf8.error.message, /^invalid UTF-8 in opened path/);
  // A length past the bound, in the same number of bytes: the stream is
  // rebuilt with a three-byte length (2^20) in place of the one-byte one.
  const long = rewrite(bytes, {
    stream: (s) => {
      const k = at(s);
      const out = new Uint8Array(s.length + 2);
      out.set(s.subarray(0, k));
      out.set([0x80, 0x80, 0x40], k);
      out.set(s.subarray(k + 1), k + 3);
      return out;
    },
  });
  const d = T.loadTraceSync(long);
  assert.match(d.error && d.error.message, /^opened path length 1048576 exceeds the maximum 65536 \(at byte \d+\)$/);
});

/// The golden depth-limit trace with its trap's limit code replaced by `code`
/// (the stream ends with: trap, limit exceeded, code, 6, fn 1, pc 4, end, failed).
function withLimitCode(code, v2) {
  let bytes = fx.bytes('golden-fib-depth-limit.ctrace');
  if (v2) bytes = asV2(bytes, 268435456);
  return rewrite(bytes, {
    stream: (s) => {
      const at = s.length - 8;
      assert.deepEqual([...s.subarray(at, at + 3)], [0x06, 0x04, 0x02], 'the trap record');
      s[at + 2] = code;
    },
  });
}

test('a trap with limit code 6 is `limit exceeded: alloc_bytes`', () => {
  const expected = fx.json('golden-fib-depth-limit.expected.json.gz').events;
  for (const v2 of [false, true]) {
    const data = T.loadTraceSync(withLimitCode(6, v2));
    assert.equal(data.error, null, data.error && data.error.message);
    const trap = data.traps[0];
    assert.equal(trap.name, 'limit exceeded');
    assert.deepEqual(trap.limit, { name: 'alloc_bytes', value: 6n });
    assert.equal(trap.what, 'limit exceeded: alloc_bytes (limit 6)');
    assert.equal(trap.message, 'limit exceeded: alloc_bytes (limit 6) at line 5 (in `fib`, pc 4)');
    const view = new TraceView(data);
    assert.equal(view.outcome(), `failed: ${trap.message}`);
    // Everything else as recorded; the trap's text as the Rust Display writes it.
    const events = eventsOf(data);
    const i = expected.findIndex((e) => e.kind === 'trap');
    const call = (s) => s.replace('call_depth', 'alloc_bytes');
    assert.deepEqual(events[i], { ...expected[i], message: call(expected[i].message), text: call(expected[i].text) });
    events.forEach((e, k) => k === i || assert.deepEqual(e, expected[k], `event #${k}`));
  }
  // Codes 1-5 are the other limits; 0 and 7 are no limit at all.
  T.LIMIT_NAMES.forEach((name, k) => {
    assert.equal(T.loadTraceSync(withLimitCode(k + 1, true)).traps[0].limit.name, name);
  });
  for (const code of [0, 7, 0xff]) {
    const data = T.loadTraceSync(withLimitCode(code, true));
    assert.equal(data.error && data.error.text, `unknown limit tag ${code}`);
    assert.equal(data.error.category, 'malformed');
  }
});

const charges = fx.allocCharges;

test('alloc_bytes: appends and pushes are charged; the trace is refused at the step that passes the limit', () => {
  // The kitchen sink appends and pushes ints, bools and strings.
  const v1 = fx.bytes('kitchen-sink.ctrace');
  const list = charges(T.loadTraceSync(v1));
  const kinds = new Set(list.map(([, cost]) => cost));
  assert.ok(list.length > 20 && kinds.has(8) && kinds.has(1) && kinds.has(16), 'every kind of charge');
  let total = 0;
  let checked = 0;
  for (const [event, cost] of list) {
    // A limit one byte short of this charge: refused at this event.
    const short = total + cost - 1;
    if (cost > 0) {
      const data = T.loadTraceSync(asV2(v1, short));
      assert.equal(data.error && data.error.message.replace(/ \(at byte \d+\)$/, ''), `malformed event #${event}: ${ALLOC_BEYOND}`, `alloc_bytes ${short}`);
      assert.equal(data.error.category, 'malformed');
      assert.equal(data.eventCount, event);
      assert.ok(!data.verified);
      checked++;
    }
    total += cost;
  }
  assert.ok(checked > 20);
  // Exactly enough: read to the end, and random access (from snapshots
  // taken along the way) reads the same events again.
  const data = T.loadTraceSync(asV2(v1, total), { snapEvery: 16 });
  assert.equal(data.error, null, data.error && data.error.message);
  assert.ok(data.snapshots.length > 5);
  const view = new TraceView(data);
  const expected = fx.json('kitchen-sink.expected.json.gz').events;
  for (let i = view.count - 1; i >= 0; i -= 7) assert.deepEqual(fx.eventJson(view, view.event(i)), expected[i], `#${i}`);
  // Format version 1 and the largest limit (read without caps): nothing
  // is ever refused for the recorded limit.
  const open = { caps: T.UNBOUNDED_CAPS };
  assert.equal(T.loadTraceSync(v1).error, null);
  assert.equal(T.loadTraceSync(asV2(v1, U64_MAX), open).error, null);
  assert.equal(T.loadTraceSync(asV2(v1, 2 ** 53), open).error, null);
});

test('alloc_bytes: a push is charged before the array length is checked, as in the Rust reader', () => {
  // Both an array length limit and alloc_bytes passed at the same push:
  // the allocation is reported.
  const v1 = fx.bytes('kitchen-sink.ctrace');
  const [first] = charges(T.loadTraceSync(v1)).filter(([, , kind]) => kind === 'push');
  const five = limitsOf(v1).slice(0, 5);
  five[3] = 0n; // array_len 0: every push fails
  const at = (alloc) => T.loadTraceSync(rewrite(v1, { version: 2, limits: [...five, BigInt(alloc)] })).error.text;
  assert.equal(at(0), `malformed event #${first[0]}: ${ALLOC_BEYOND}`);
  assert.equal(at(1000), `malformed event #${first[0]}: a push that failed`);
});

test('rewritten traces are consistent (the helper keeps every event)', () => {
  const name = 'audit-plugin-lz4-700';
  const bytes = fx.bytes(`${name}.ctrace`);
  const t = parse(bytes);
  assert.ok(t.chunks.length > 3);
  const same = T.loadTraceSync(rewrite(bytes));
  assert.equal(same.error, null);
  assert.equal(same.chunkCount, t.chunks.length);
  assert.equal(same.lz4Chunks, 0);
});
