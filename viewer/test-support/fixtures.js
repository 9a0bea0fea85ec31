// Shared by the Node tests (viewer/test/*.test.js): fixture loading and the
// conversion of decoded values to the JSON shape the Rust generator writes.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const T = require('../src/trace.js');

const FIXTURES = path.join(__dirname, '..', 'test', 'fixtures');

/// The bytes of a fixture file.
function bytes(name) {
  return new Uint8Array(fs.readFileSync(path.join(FIXTURES, name)));
}

/// A fixture's JSON (gunzipped if it ends in .gz).
function json(name) {
  let data = fs.readFileSync(path.join(FIXTURES, name));
  if (name.endsWith('.gz')) data = zlib.gunzipSync(data);
  return JSON.parse(data.toString('utf8'));
}

/// The traces that have an expected JSON beside them.
function traceFixtures() {
  return fs.readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.expected.json.gz'))
    .map((f) => f.replace('.expected.json.gz', ''))
    .sort();
}

/// A decoded value in the generator's JSON shape.
function valueJson(v) {
  if (v === null) return 'unit';
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'string') return { str: v };
  const items = T.arrValues(v);
  if (v.c === 0) return { ints: items.map((x) => x.toString()) };
  if (v.c === 1) return { bools: items };
  return { refs: items.map(valueJson) };
}

/// A decoded event (TraceView.event) in the generator's JSON shape.
function eventJson(view, ev) {
  const kind = T.KIND_NAMES[ev.kind];
  const out = { kind };
  switch (ev.kind) {
    case T.ENTER: Object.assign(out, { func: ev.func, args: ev.args.map(valueJson) }); break;
    case T.STEP:
      Object.assign(out, { func: ev.func, pc: ev.pc, line: ev.line, writes: ev.writes.map(([r, v]) => [r, valueJson(v)]) });
      break;
    case T.RETURN: Object.assign(out, { func: ev.func, value: valueJson(ev.value) }); break;
    case T.CAPABILITY:
      Object.assign(out, { import: ev.import, args: ev.args.map(valueJson) });
      if ('ok' in ev) out.ok = valueJson(ev.ok); else out.err = ev.err;
      if ('opened' in ev) out.opened = ev.opened;
      break;
    case T.TRAP:
      Object.assign(out, { func: ev.func, pc: ev.pc, line: ev.line, message: ev.message, name: ev.name });
      break;
    default:
      if ('returned' in ev) out.returned = valueJson(ev.returned); else out.failed = true;
  }
  out.text = view.rustText(ev);
  return out;
}

/// Re-seals altered trace bytes as the Rust `trace::testing::reseal` does:
/// header checksum, chunk links and final hash recomputed where the framing parses.
function reseal(input) {
  const { hash } = require('../src/blake3.js');
  const out = input.slice();
  if (out.length < 10) return out;
  for (let i = 0; i < 8; i++) if (out[i] !== 'CHRTRACE'.charCodeAt(i)) return out;
  let pos = 10;
  const varint = () => {
    let v = 0, shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= out.length) return null;
      const b = out[pos++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return v;
    }
    return null;
  };
  const len = varint();
  if (len === null) return out;
  const headerEnd = pos + len;
  if (headerEnd + 32 > out.length) return out;
  const frames = [];
  let p = headerEnd + 32;
  let footer = -1;
  while (p < out.length) {
    const start = p;
    const kind = out[p];
    if (kind === 0xff) { footer = start; break; }
    if (kind !== 1 && kind !== 2) return out;
    pos = p + 1;
    const raw = varint();
    if (raw === null) return out;
    const stored = kind === 2 ? varint() : raw;
    if (stored === null) return out;
    const end = pos + stored;
    if (end + 32 > out.length) return out;
    frames.push([start, end]);
    p = end + 32;
  }
  let chain = hash(out.subarray(0, headerEnd));
  out.set(chain, headerEnd);
  for (const [start, end] of frames) {
    const buf = new Uint8Array(32 + end - start);
    buf.set(chain, 0);
    buf.set(out.subarray(start, end), 32);
    chain = hash(buf);
    out.set(chain, end);
  }
  if (footer >= 0 && footer + 57 === out.length) out.set(chain, footer + 25);
  return out;
}

/// What the Rust reader charges against `alloc_bytes` at least, counted from
/// the events of `data` (a loaded trace), not with the viewer's charging
/// code: every appended byte and every pushed element (int 8, bool 1,
/// string or array 16). A list of [event, cost, 'append' or 'push'].
function allocCharges(data) {
  const { TraceView } = require('../src/model.js');
  const view = new TraceView(data);
  const cm = data.codeMap;
  const out = [];
  for (let i = 0; i < view.count; i++) {
    if (data.kinds[i] !== T.STEP) continue;
    const k = cm.funcs[data.funcs[i]].base + data.pcs[i];
    const code = cm.eff[k];
    if (code !== T.EFFECTS.APPEND && code !== T.EFFECTS.PUSH) continue;
    const before = view.state(i - 1).frames.at(-1).regs;
    if (code === T.EFFECTS.APPEND) {
      out.push([i, Buffer.byteLength(before[cm.ops[4 * k + 1]], 'utf8'), 'append']);
    } else {
      out.push([i, [8, 1, 16][before[cm.ops[4 * k]].c], 'push']);
    }
  }
  return out;
}

module.exports = { FIXTURES, bytes, json, traceFixtures, valueJson, eventJson, reseal, allocCharges };
