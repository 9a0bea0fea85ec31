// The JavaScript decoder against the real CLI: `chronicle inspect T --json
// --events 0..` (the Rust reader) on traces that `chronicle trace` records
// now, and on the committed fixtures. Needs $CHRONICLE_BIN (the Rust test
// crates/chronicle-cli/tests/viewer.rs and .ci/run set it); without it the
// test is skipped with a message, except under CI, where it fails.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const T = require('../src/trace.js');
const { TraceView } = require('../src/model.js');
const fx = require('../test-support/fixtures.js');
const traceSupport = require('../test-support/traces.js');
const { chronicleBin, makeTraces, uncapped } = traceSupport;
const { execFileSync } = require('node:child_process');
const { rewrite, limitsOf } = require('../test-support/rewrite.js');

const bin = chronicleBin();
if (!bin && process.env.CI) {
  test('CHRONICLE_BIN is set under CI', () => assert.fail('set CHRONICLE_BIN to the chronicle binary'));
}
const skip = bin ? false : 'CHRONICLE_BIN is not set: skipping the comparison with `chronicle inspect --json`';

// Both readers read without caps here, so that rewritten headers with any
// limits are compared (test/caps.test.js compares the caps themselves).
const OPEN = { caps: T.UNBOUNDED_CAPS };
const inspect = (b, file, events) => traceSupport.inspect(b, file, events, uncapped(b));
const rustVerdict = (b, file) => traceSupport.rustVerdict(b, file, uncapped(b));

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/// A value as `chronicle inspect --json` writes it.
function valueJson(v) {
  if (v === null) return null;
  if (typeof v === 'bigint') return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : { int: v.toString() };
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  return T.arrValues(v).map(valueJson);
}

function eventJson(view, ev) {
  const kind = T.KIND_NAMES[ev.kind];
  const fn = () => ({ function: ev.func, function_name: view.funcName(ev.func) });
  switch (ev.kind) {
    case T.ENTER: return { index: ev.index, kind, ...fn(), args: ev.args.map(valueJson) };
    case T.STEP:
      return { index: ev.index, kind, ...fn(), pc: ev.pc, line: ev.line, writes: ev.writes.map(([r, v]) => ({ register: r, value: valueJson(v) })) };
    case T.RETURN: return { index: ev.index, kind, ...fn(), value: valueJson(ev.value) };
    case T.CAPABILITY: {
      const imp = view.cm.imports[ev.import];
      return {
        index: ev.index, kind, import: ev.import, name: imp.name, version: `${imp.major}.${imp.minor}`,
        args: ev.args.map(valueJson),
        outcome: 'ok' in ev ? { ok: true, value: valueJson(ev.ok) } : { ok: false, error: ev.err },
        opened: 'opened' in ev ? ev.opened : null,
      };
    }
    case T.TRAP: {
      const error = { kind: ev.name, message: ev.what, function: view.funcName(ev.func), pc: ev.pc, line: ev.line };
      if (ev.limit) Object.assign(error, { limit: ev.limit.name, value: Number(ev.limit.value) });
      return { index: ev.index, kind, error };
    }
    default:
      return 'returned' in ev
        ? { index: ev.index, kind, outcome: 'returned', value: valueJson(ev.returned) }
        : { index: ev.index, kind, outcome: 'failed', value: null };
  }
}

/// Compares everything the viewer decodes with what the CLI printed.
function compare(bytes, cli, label) {
  const data = T.loadTraceSync(bytes, OPEN);
  assert.equal(data.error, null, `${label}: ${data.error && data.error.message}`);
  const { ok, error, offset } = cli.integrity;
  assert.deepEqual({ ok, error, offset }, { ok: true, error: null, offset: null });
  const h = data.header;
  const enc = new TextEncoder();
  const header = {
    tool_version: h.toolVersion,
    plugin_name: h.pluginName,
    recorded_at_ms: Number(h.recordedAtMs),
    recorded_at: new Date(Number(h.recordedAtMs)).toISOString(),
    host: h.host,
    module_format_version: h.moduleFormatVersion,
    module_hash: h.moduleHash,
    module_bytes: h.moduleLen,
    source_hash: h.sourceHash,
    source_bytes: h.source === null ? null : enc.encode(h.source).length,
    policy_hash: h.policyHash,
    policy: h.policy,
    header_hash: data.headerHash,
    capabilities: h.capabilities,
    limits: Object.fromEntries(Object.entries(h.limits).map(([k, v]) => [k, Number(v)])),
  };
  for (const [k, v] of Object.entries(header)) {
    assert.deepEqual(v, cli.header[k] === undefined ? null : cli.header[k], `${label}: header.${k}`);
  }
  assert.equal(data.formatVersion, cli.format_version);
  assert.deepEqual(data.codeMap.funcs.map((f, index) => ({ index, instructions: f.n, name: f.name, params: f.params, registers: f.regCount })), cli.functions);
  const sig = (i) => `(${i.params.map(T.typeName).join(', ')})${i.ret === null ? '' : ` -> ${T.typeName(i.ret)}`}`;
  assert.deepEqual(data.codeMap.imports.map((i, index) => ({ index, name: i.name, signature: sig(i), version: `${i.major}.${i.minor}` })), cli.imports);
  const f = data.footer;
  assert.deepEqual({ chunks: Number(f.chunks), events: Number(f.events), final_hash: f.finalHash, steps: Number(f.steps) }, cli.footer);
  assert.equal(data.eventCount, cli.events_total);
  const counts = Object.fromEntries(T.KIND_NAMES.map((k) => [k, 0]));
  for (const k of data.kinds) counts[T.KIND_NAMES[k]]++;
  assert.deepEqual(counts, cli.counts);
  const view = new TraceView(data);
  const events = view.events(0, view.count);
  assert.equal(cli.events.length, events.length);
  events.forEach((ev, i) => assert.deepEqual(eventJson(view, ev), cli.events[i], `${label}: event #${i}`));
  return view;
}

test('traces recorded by `chronicle trace` now: the viewer decodes what `chronicle inspect --json` prints', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chronicle-viewer-cli-'));
  try {
    const traces = makeTraces(bin, dir);
    for (const [name, file] of Object.entries(traces)) {
      compare(new Uint8Array(fs.readFileSync(file)), inspect(bin, file, true), name);
    }
    // The audit plugin's result, as `chronicle run` prints it.
    const audit = inspect(bin, traces['audit-plugin'], false);
    assert.deepEqual(audit.outcome, { ok: true, result: 130, literal: '130' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('committed fixtures: the viewer decodes what `chronicle inspect --json` prints', { skip }, () => {
  for (const name of fx.traceFixtures()) {
    const file = path.join(fx.FIXTURES, `${name}.ctrace`);
    compare(fx.bytes(`${name}.ctrace`), inspect(bin, file, true), name);
  }
});

/// A temporary directory for the duration of `f(dir)`.
function inTemp(f) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chronicle-viewer-cli-'));
  try {
    return f(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/// The viewer's verdict on bytes, in `rustVerdict`'s shape.
function jsVerdict(bytes) {
  const data = T.loadTraceSync(bytes, OPEN);
  return [data.error ? data.error.message : 'ok', data.eventCount];
}

/// Records PLUGIN (a path from the repository root) with ARGS into DIR.
function record(dir, name, plugin, args) {
  const file = path.join(dir, `${name}.ctrace`);
  try {
    execFileSync(bin, ['trace', plugin, ...args, '--out', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (!(e.status === 1 && fs.existsSync(file))) throw new Error(`chronicle trace ${plugin} failed: ${e.stderr}`);
  }
  return file;
}

const ROOT = path.resolve(__dirname, '..', '..');

/// A version 4 trace with its signature block's kind byte set to `kind`
/// and, if given, its last byte to `last` (neither is then a valid block).
function signatureKind(bytes, kind, last) {
  const out = bytes.slice();
  out[out.length - 97] = kind;
  if (last !== undefined) out[out.length - 1] = last;
  return out;
}

const ALLOC_BEYOND = /^malformed event #(\d+): allocations beyond the recorded alloc_bytes limit \(at byte \d+\)$/;

test('format versions 1 to 4, the limits field, limit codes and opened paths: the Rust reader\'s verdicts', { skip }, () => inTemp((dir) => {
  const v1 = fx.bytes('golden-audit.ctrace');
  const v3 = fx.bytes('golden-v3-audit.ctrace');
  const fib = fx.bytes('golden-fib-depth-limit.ctrace');
  const five = limitsOf(v1);
  const limitCode = (code) => (s) => {
    assert.deepEqual([...s.subarray(s.length - 8, s.length - 5)], [0x06, 0x04, 0x02]);
    s[s.length - 6] = code;
  };
  const fibFive = limitsOf(fib);
  const cases = {
    'v1 as recorded': v1,
    'v1 re-framed': rewrite(v1),
    'v2, six limits': rewrite(v1, { version: 2, limits: [...five, 268435456n] }),
    'v2, alloc_bytes 2^64-1': rewrite(v1, { version: 2, limits: [...five, 2n ** 64n - 1n] }),
    'v2, five limits': rewrite(v1, { version: 2 }),
    'v2, seven limits': rewrite(v1, { version: 2, limits: [...five, 1n, 2n] }),
    'v1, six limits': rewrite(v1, { limits: [...five, 1n] }),
    'v0': rewrite(v1, { version: 0 }),
    'v3, five limits': rewrite(v1, { version: 3 }),
    'v3, six limits': rewrite(v1, { version: 3, limits: [...five, 268435456n] }),
    'v3, alloc_bytes 1': rewrite(v1, { version: 3, limits: [...five, 1n] }),
    'v3 with an opened path': v3,
    'v3 with an opened path, as v2': rewrite(v3, { version: 2 }),
    'v3 with an opened path, as v1': rewrite(v3, { version: 1, limits: five }),
    'v4, unsigned': rewrite(v3, { version: 4 }),
    'v4, bad signature kind': signatureKind(rewrite(v3, { version: 4 }), 2),
    'v4, nonzero unsigned block': signatureKind(rewrite(v3, { version: 4 }), 0, 1),
    'v5': rewrite(v1, { version: 5 }),
    'v65535': rewrite(v1, { version: 0xffff }),
    'v1, limit code 6': rewrite(fib, { stream: limitCode(6) }),
    'v2, limit code 6': rewrite(fib, { version: 2, limits: [...fibFive, 1000n], stream: limitCode(6) }),
    'v2, limit code 7': rewrite(fib, { version: 2, limits: [...fibFive, 1000n], stream: limitCode(7) }),
    'v2, limit code 0': rewrite(fib, { version: 2, limits: [...fibFive, 1000n], stream: limitCode(0) }),
  };
  const verdicts = {};
  for (const [name, bytes] of Object.entries(cases)) {
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}.ctrace`);
    fs.writeFileSync(file, bytes);
    const rust = rustVerdict(bin, file);
    assert.deepEqual(jsVerdict(bytes), rust, name);
    if (rust[0] === 'ok') compare(bytes, inspect(bin, file, true), name);
    verdicts[name] = rust[0];
  }
  // What these cases are about, as both readers see them.
  assert.match(verdicts.v5, /^unsupported trace format version 5 \(written by a newer ChronicleVM: upgrade to read it; this build reads version 4\)/);
  assert.match(verdicts.v0, /^unsupported trace format version 0 \(not a version this build knows; this build reads version 4\)/);
  assert.equal(verdicts['v4, unsigned'], 'ok');
  assert.match(verdicts['v4, bad signature kind'], /^bad footer: malformed signature block/);
  assert.match(verdicts['v4, nonzero unsigned block'], /^bad footer: malformed signature block/);
  assert.equal(verdicts['v3, six limits'], 'ok');
  assert.equal(verdicts['v3 with an opened path'], 'ok');
  // The record of a call with its opened path (tag 8) is new in version 3.
  assert.match(verdicts['v3 with an opened path, as v2'], /^unknown event record tag 8/);
  assert.match(verdicts['v3 with an opened path, as v1'], /^unknown event record tag 8/);
  assert.equal(verdicts['v2, six limits'], 'ok');
  assert.equal(verdicts['v1, limit code 6'], 'ok');
  assert.equal(verdicts['v2, limit code 6'], 'ok');
  assert.match(verdicts['v2, limit code 7'], /^unknown limit tag 7/);
  const trap = T.loadTraceSync(cases['v2, limit code 6']).traps[0];
  assert.equal(trap.what, 'limit exceeded: alloc_bytes (limit 6)');
}));

test('traces that stop at alloc_bytes, wherever that is: read by both, event by event', { skip }, () => inTemp((dir) => {
  const traces = makeTraces(bin, dir);
  const view = compare(new Uint8Array(fs.readFileSync(traces['alloc-limit'])), inspect(bin, traces['alloc-limit'], true), 'alloc-limit');
  const data = view.data;
  assert.equal(data.formatVersion, 4);
  assert.equal(data.header.limits.alloc_bytes, 2000n);
  assert.equal(data.traps.length, 1);
  assert.equal(data.traps[0].name, 'limit exceeded');
  assert.deepEqual(data.traps[0].limit, { name: 'alloc_bytes', value: 2000n });
  assert.match(view.outcome(), /^failed: limit exceeded: alloc_bytes \(limit 2000\) at line \d+ \(in `main`, pc \d+\)$/);
  // Recorded with other limits: the run stops at another instruction each time.
  const stops = new Set();
  for (const limit of [0, 1, 8, 9, 17, 40, 41, 99, 100, 257, 500, 777, 1000, 1234, 3000, 6000]) {
    const file = record(dir, `alloc-${limit}`, 'viewer/test/fixtures/alloc-limit.chr', ['--alloc-bytes', String(limit)]);
    const v = compare(new Uint8Array(fs.readFileSync(file)), inspect(bin, file, true), `--alloc-bytes ${limit}`);
    assert.equal(v.data.header.limits.alloc_bytes, BigInt(limit));
    const trap = v.data.traps[0];
    if (trap) assert.equal(trap.what, `limit exceeded: alloc_bytes (limit ${limit})`);
    stops.add(trap ? `${trap.event}` : 'returned');
  }
  assert.ok(stops.size >= 10 && !stops.has('returned'), `${stops.size} different ends`);
}));

/// Verdicts of both readers on `file` with its recorded alloc_bytes replaced
/// by each of `limits`: a list of { limit, rust, js }.
function allocSweep(dir, file, limits) {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const five = limitsOf(bytes).slice(0, 5);
  return limits.map((limit) => {
    const altered = rewrite(bytes, { limits: [...five, BigInt(limit)] });
    const out = path.join(dir, 'altered.ctrace');
    fs.writeFileSync(out, altered);
    return { limit, rust: rustVerdict(bin, out), js: jsVerdict(altered) };
  });
}

/// Every limit just below one of the viewer's charges (counted from the
/// events, test-support/fixtures.js), and the total.
function chargeLimits(file) {
  const list = fx.allocCharges(T.loadTraceSync(new Uint8Array(fs.readFileSync(file))));
  const limits = [];
  let total = 0;
  for (const [, cost] of list) {
    if (cost > 0) limits.push(total + cost - 1);
    total += cost;
  }
  return [...limits, total];
}

test('alloc_bytes altered in the header, no value shared: the same verdict as the Rust reader at every charge', { skip }, () => inTemp((dir) => {
  // Pushes onto arrays and appends to a string that nothing else holds:
  // no copy-on-write copies, so the viewer counts all that the Rust reader
  // charges.
  const plugin = path.join(dir, 'no-copies.chr');
  fs.writeFileSync(plugin, [
    'fn main() -> int {',
    '    let ints: [int] = [];',
    '    let flags: [bool] = [];',
    '    let names: [str] = [];',
    '    let text = "";',
    '    for i in 0..12 {',
    '        push(ints, i);',
    '        push(flags, i % 2 == 0);',
    '        push(names, "k");',
    '        text = text + "ab";',
    '    }',
    '    return len(text);',
    '}',
    '',
  ].join('\n'));
  const file = record(dir, 'no-copies', plugin, []);
  const limits = chargeLimits(file);
  assert.ok(limits.length > 40);
  let refused = 0;
  for (const { limit, rust, js } of allocSweep(dir, file, limits)) {
    assert.deepEqual(js, rust, `alloc_bytes ${limit}`);
    if (ALLOC_BEYOND.test(rust[0])) refused++;
  }
  assert.equal(refused, limits.length - 1, 'refused below the total, read at the total');
}));

test('alloc_bytes altered in the header, values shared: the viewer and the Rust event reader agree', { skip }, () => inTemp((dir) => {
  // alloc-limit.chr pushes its string before appending to it again, so
  // values are shared. A reader that hands out events (the viewer, and the
  // Rust reader behind `chronicle inspect`) charges appends and pushes but
  // not copy-on-write copies (a caller keeping events would make it copy
  // what the run did not); only `verify` and replay, behind `chronicle
  // audit`, charge copies too. So the verdicts must be the same at every limit.
  const file = makeTraces(bin, dir)['alloc-limit'];
  const limits = [...chargeLimits(file)];
  for (let l = 0; l <= 2100; l += 50) limits.push(l);
  let refused = 0;
  for (const { limit, rust, js } of allocSweep(dir, file, limits)) {
    const label = `alloc_bytes ${limit}: rust ${rust[0]}, js ${js[0]}`;
    assert.equal(js[0], rust[0], label);
    assert.equal(js[1], rust[1], label);
    if (ALLOC_BEYOND.test(rust[0])) refused++;
  }
  assert.ok(refused > 5, `${refused} limits refused for allocations by both`);
}));

test('with the default caps, the viewer and `chronicle inspect` refuse the same traces for the same cap', { skip: skip || (!traceSupport.inspectHasCaps(bin) && '`chronicle inspect` has no reader caps in this build') }, () => inTemp((dir) => {
  const hostile = path.join(ROOT, 'crates', 'chronicle-core', 'tests', 'golden', 'hostile');
  // A header over each cap in turn, and the unbounded bomb: the same
  // refusal, word for word, before any event.
  const v2 = fx.bytes('kitchen-sink.ctrace');
  const six = limitsOf(v2);
  const cases = T.LIMIT_NAMES.map((name, k) => {
    const limits = six.slice();
    limits[k] = T.DEFAULT_CAPS[name] + 1n;
    return [`${name} one over its cap`, rewrite(v2, { limits })];
  });
  cases.push(['cow-push-unbounded', new Uint8Array(fs.readFileSync(path.join(hostile, 'cow-push-unbounded.ctrace')))]);
  for (const [label, bytes] of cases) {
    const file = path.join(dir, 'over.ctrace');
    fs.writeFileSync(file, bytes);
    const [rust, rustEvents] = traceSupport.rustVerdict(bin, file);
    const data = T.loadTraceSync(bytes);
    assert.equal(data.error && data.error.kind, 'over_reader_cap', label);
    // The CLI names no offset for a refusal before any event.
    assert.deepEqual([data.error.text, data.eventCount], [rust.replace(/ \(at byte \d+\)$/, ''), rustEvents], label);
  }
  // The default-limits bomb: both stop at their alloc_bytes cap (at events
  // of their own: the viewer also charges its snapshots, and copies
  // whenever a value may be shared, the Rust reader when it is).
  const file = path.join(hostile, 'cow-push-default.ctrace');
  const [rust, rustEvents] = traceSupport.rustVerdict(bin, file);
  const capError = /^reading event #(\d+) needs more than this reader's alloc_bytes cap of 268435456 bytes \(at byte \d+\)$/;
  assert.match(rust, capError);
  assert.equal(Number(capError.exec(rust)[1]), rustEvents);
  const data = T.loadTraceSync(new Uint8Array(fs.readFileSync(file)));
  assert.match(data.error.message, capError);
  // Lifted caps on both sides read a header over the defaults alike.
  const [, over] = cases[0];
  const lifted = path.join(dir, 'lifted.ctrace');
  fs.writeFileSync(lifted, over);
  assert.deepEqual(jsVerdict(over), rustVerdict(bin, lifted));
}));

test('a signed and an unsigned version 4 trace: decoded as the Rust reader reads them, signer named as audit names it', { skip }, () => inTemp((dir) => {
  const key = path.join(dir, 'host.key');
  execFileSync(bin, ['keygen', '--out', key], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const traces = {};
  for (const [name, extra] of [['signed', ['--sign', key]], ['unsigned', []]]) {
    const file = path.join(dir, `${name}.ctrace`);
    execFileSync(bin, ['trace', 'examples/audit-plugin.chr', '--policy', 'examples/audit-policy.toml', ...extra, '--out', file],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    traces[name] = file;
  }
  const audit = (file) => JSON.parse(execFileSync(bin, ['audit', file, '--json', '--trusted-key', `${key}.pub`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8'));
  const signed = new Uint8Array(fs.readFileSync(traces.signed));
  const view = compare(signed, inspect(bin, traces.signed, true), 'signed');
  assert.equal(view.data.formatVersion, 4);
  const sig = view.data.footer.signature;
  const a = audit(traces.signed);
  assert.equal(a.verdict, 'pass');
  assert.equal(sig.fingerprint, a.signature.key);
  assert.equal(sig.key, a.signature.public_key);
  assert.match(sig.signature, /^[0-9a-f]{128}$/);
  const unsigned = new Uint8Array(fs.readFileSync(traces.unsigned));
  const uview = compare(unsigned, inspect(bin, traces.unsigned, true), 'unsigned');
  assert.equal(uview.data.footer.signature, null);
  // The footers end in the signature block: kind 1, key and signature for
  // the signed trace; kind 0 and zeros for the unsigned one. (The files'
  // lengths may differ: each header records its own recording time.)
  assert.equal(signed[signed.length - 97], 1);
  assert.ok(unsigned.subarray(unsigned.length - 97).every((b) => b === 0));
  // A signature block the Rust reader refuses, the viewer refuses alike.
  for (const [label, bytes] of [['kind 2', signatureKind(signed, 2)], ['unsigned, not zero', signatureKind(unsigned, 0, 7)]]) {
    const file = path.join(dir, 'bad.ctrace');
    fs.writeFileSync(file, bytes);
    assert.deepEqual(jsVerdict(bytes), rustVerdict(bin, file), label);
  }
}));
