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
const { chronicleBin, makeTraces, inspect } = require('../test-support/traces.js');

const bin = chronicleBin();
if (!bin && process.env.CI) {
  test('CHRONICLE_BIN is set under CI', () => assert.fail('set CHRONICLE_BIN to the chronicle binary'));
}
const skip = bin ? false : 'CHRONICLE_BIN is not set: skipping the comparison with `chronicle inspect --json`';

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
  const data = T.loadTraceSync(bytes);
  assert.equal(data.error, null, `${label}: ${data.error && data.error.message}`);
  assert.deepEqual(cli.integrity, { ok: true, error: null, offset: null });
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
