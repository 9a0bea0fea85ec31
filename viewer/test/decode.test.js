// The JavaScript decoder against the Rust reader, field by field: for every
// fixture trace (recorded by the Rust recorder), the header, the module
// summary, the footer and every event with all its values must equal what
// the Rust reader decoded (the *.expected.json.gz files, see
// fixtures/README.md), and each event's text must equal Rust's Display.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const T = require('../src/trace.js');
const { TraceView } = require('../src/model.js');
const fx = require('../test-support/fixtures.js');

/// Compares a decoded trace with the Rust side's JSON; returns the view.
function compare(data, expected, label) {
  assert.equal(data.error, null, `${label}: ${data.error && data.error.message}`);
  assert.ok(data.ok && data.verified, label);
  const h = data.header;
  const e = expected.header;
  assert.equal(h.toolVersion, e.tool_version);
  assert.equal(h.pluginName, e.plugin_name);
  assert.equal(h.recordedAtMs.toString(), e.recorded_at_ms);
  assert.equal(h.host, e.host);
  assert.equal(h.moduleFormatVersion, e.module_format_version);
  assert.equal(h.moduleHash, e.module_hash);
  assert.equal(h.moduleLen, e.module_len);
  assert.equal(h.sourceHash, e.source_hash);
  assert.equal(h.source, e.source);
  assert.equal(h.policyHash, e.policy_hash);
  assert.equal(h.policy, e.policy);
  // Six limits whatever the version; a version 1 trace (whose expected JSON
  // may predate `alloc_bytes`) has it unbounded.
  assert.deepEqual(Object.keys(h.limits), T.LIMIT_NAMES);
  const limits = Object.assign({ alloc_bytes: '18446744073709551615' }, e.limits);
  for (const [k, v] of Object.entries(limits)) assert.equal(h.limits[k].toString(), v, `limit ${k}`);
  if (data.formatVersion === 1) assert.equal(h.limits.alloc_bytes, 2n ** 64n - 1n);
  if ('format_version' in expected) assert.equal(data.formatVersion, expected.format_version);
  assert.deepEqual(h.capabilities, e.capabilities);
  assert.equal(data.headerHash, e.header_hash);
  // The module as the code map describes it.
  const cm = data.codeMap;
  assert.equal(cm.entry, expected.module.entry);
  assert.deepEqual(
    cm.funcs.map((f) => ({ name: f.name, params: f.params, regs: f.regCount, instrs: f.n, reg_types: f.regTypes.map(T.typeName) })),
    expected.module.funcs,
  );
  assert.deepEqual(cm.imports.map((i) => ({ name: i.name, version: `${i.major}.${i.minor}` })), expected.module.imports);
  // The footer and the counts.
  assert.equal(data.footer.chunks.toString(), expected.footer.chunks);
  assert.equal(data.footer.events.toString(), expected.footer.events);
  assert.equal(data.footer.steps.toString(), expected.footer.steps);
  assert.equal(data.footer.finalHash, expected.footer.final_hash);
  assert.equal(data.eventCount, expected.events.length);
  assert.equal(String(data.steps), expected.footer.steps);
  // Every event.
  const view = new TraceView(data);
  const events = view.events(0, view.count);
  for (let i = 0; i < events.length; i++) {
    assert.deepEqual(fx.eventJson(view, events[i]), expected.events[i], `${label}: event #${i}`);
    assert.equal(T.KIND_NAMES[data.kinds[i]], expected.events[i].kind);
  }
  return view;
}

for (const name of fx.traceFixtures()) {
  test(`${name}: the JavaScript decoder agrees with the Rust reader`, () => {
    const data = T.loadTraceSync(fx.bytes(`${name}.ctrace`));
    compare(data, fx.json(`${name}.expected.json.gz`), name);
  });
}

test('random access (snapshots every 64 events) gives the same events and states', () => {
  for (const name of ['log-stats', 'kitchen-sink', 'audit-plugin-raw97']) {
    const expected = fx.json(`${name}.expected.json.gz`);
    const data = T.loadTraceSync(fx.bytes(`${name}.ctrace`), { snapEvery: 64 });
    const view = new TraceView(data);
    assert.ok(data.snapshots.length > 3);
    let seed = 7;
    for (let k = 0; k < 400; k++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const i = seed % view.count;
      assert.deepEqual(fx.eventJson(view, view.event(i)), expected.events[i], `${name} #${i}`);
      // The state after a step holds the values it wrote.
      const ev = expected.events[i];
      if (ev.kind === 'step' && ev.writes.length) {
        const top = view.state(i).frames.at(-1);
        for (const [r, v] of ev.writes) assert.deepEqual(fx.valueJson(top.regs[r]), v, `${name} #${i} r${r}`);
      }
    }
  }
});

test('values of earlier events stay intact when later steps mutate arrays (copy-on-write)', () => {
  const data = T.loadTraceSync(fx.bytes('kitchen-sink.ctrace'), { snapEvery: 16 });
  const view = new TraceView(data);
  const expected = fx.json('kitchen-sink.expected.json.gz');
  // Hold every event's values, decoded in one pass, then check them all at the end.
  const held = view.events(0, view.count);
  view.state(view.count - 1);
  view.events(0, view.count);
  held.forEach((ev, i) => assert.deepEqual(fx.eventJson(view, ev), expected.events[i], `#${i}`));
});

test('provenance of the audit plugin trace', () => {
  const data = T.loadTraceSync(fx.bytes('audit-plugin.ctrace'));
  const view = new TraceView(data);
  assert.equal(data.header.pluginName, 'audit-plugin.chr');
  assert.deepEqual(data.header.capabilities.map((c) => `${c.name}@${c.requested} ${c.decision}`), [
    'fs.read@1.0 grant', 'clock.now@1.0 mock', 'random.int@1.0 grant', 'log.write@1.0 grant',
  ]);
  assert.equal(data.header.limits.instructions, 5000000n);
  assert.equal(view.outcome(), 'returned 130');
  assert.ok(data.calls.length > 0 && data.calls.every((c) => view.importName(c.import).endsWith('@1.0')));
  assert.equal(data.lz4Chunks, 1);
});
