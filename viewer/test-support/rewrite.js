// Rewrites a trace for the Node tests: another format version or other
// limits in its header, or an edited event stream, then framed and sealed
// again (header checksum, raw chunks at the original boundaries, hash chain,
// footer), so that the result is a consistent trace that reaches the part
// of the reader under test. Written from docs/TRACE_FORMAT.md; not a
// recorder: the events are the original ones unless `stream` edits them.
'use strict';

const { hash } = require('../src/blake3.js');
const lz4 = require('../src/lz4.js');

const LIMITS_FIELD = 12;

function varintBytes(v) {
  let x = BigInt(v);
  const out = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}

/// Reads a varint at `pos` of `bytes`: [value (BigInt), next position].
function readVarint(bytes, pos) {
  let v = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const b = bytes[pos++];
    if (b === undefined) throw new Error('a varint runs past the end');
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [v, pos];
  }
}

/// The parts of an intact trace: its version, header fields (in order,
/// `{ tag, payload }`), raw chunk payloads, and the footer's event and step
/// counts.
function parse(bytes) {
  const version = bytes[8] | (bytes[9] << 8);
  let [len, pos] = readVarint(bytes, 10);
  const fieldsEnd = pos + Number(len);
  const fields = [];
  while (true) {
    let tag, n;
    [tag, pos] = readVarint(bytes, pos);
    if (tag === 0n) break;
    [n, pos] = readVarint(bytes, pos);
    fields.push({ tag: Number(tag), payload: bytes.slice(pos, pos + Number(n)) });
    pos += Number(n);
  }
  if (pos !== fieldsEnd) throw new Error('the header fields do not end where the header does');
  pos = fieldsEnd + 32;
  const chunks = [];
  while (bytes[pos] !== 0xff) {
    const kind = bytes[pos];
    let raw, stored;
    [raw, pos] = readVarint(bytes, pos + 1);
    raw = Number(raw);
    stored = raw;
    if (kind === 2) {
      [stored, pos] = readVarint(bytes, pos);
      stored = Number(stored);
    }
    const payload = bytes.subarray(pos, pos + stored);
    if (kind === 2) {
      const out = new Uint8Array(raw);
      lz4.decompressInto(payload, out, 0, raw);
      chunks.push(out);
    } else {
      chunks.push(payload.slice());
    }
    pos += stored + 32;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset + pos, 57);
  return { version, fields, chunks, events: dv.getBigUint64(9, true), steps: dv.getBigUint64(17, true) };
}

/// A trace from parts (as `parse` returns them), every chunk stored raw.
function build({ version, fields, chunks, events, steps }) {
  const head = [];
  for (const f of fields) head.push(...varintBytes(f.tag), ...varintBytes(f.payload.length), ...f.payload);
  head.push(0);
  const pre = [0x43, 0x48, 0x52, 0x54, 0x52, 0x41, 0x43, 0x45, version & 0xff, version >> 8, ...varintBytes(head.length)];
  const parts = [];
  const header = Uint8Array.from([...pre, ...head]);
  let chain = hash(header);
  parts.push(header, chain);
  for (const c of chunks) {
    const frame = Uint8Array.from([1, ...varintBytes(c.length), ...c]);
    const linked = new Uint8Array(32 + frame.length);
    linked.set(chain, 0);
    linked.set(frame, 32);
    chain = hash(linked);
    parts.push(frame, chain);
  }
  const footer = new Uint8Array(57);
  const dv = new DataView(footer.buffer);
  footer[0] = 0xff;
  dv.setBigUint64(1, BigInt(chunks.length), true);
  dv.setBigUint64(9, BigInt(events), true);
  dv.setBigUint64(17, BigInt(steps), true);
  footer.set(chain, 25);
  parts.push(footer);
  // From version 4 the footer ends in a signature block: unsigned, zeros.
  if (version >= 4) parts.push(new Uint8Array(97));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/// `bytes` (an intact trace) rewritten: `version` in the preamble, `limits`
/// (a list of numbers or BigInts, in header order) as the limits field, and
/// `stream(s)` editing the whole event stream in place (a Uint8Array), or
/// returning a new one (the last chunk then takes what the length changed).
function rewrite(bytes, { version, limits, stream } = {}) {
  const t = parse(bytes);
  if (version !== undefined) t.version = version;
  if (limits !== undefined) {
    const f = t.fields.find((x) => x.tag === LIMITS_FIELD);
    f.payload = Uint8Array.from(limits.flatMap((v) => varintBytes(v)));
  }
  if (stream) {
    const whole = new Uint8Array(t.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of t.chunks) {
      whole.set(c, at);
      at += c.length;
    }
    const edited = stream(whole) || whole;
    at = 0;
    const last = t.chunks.length - 1;
    t.chunks = t.chunks.map((c, i) => edited.slice(at, i === last ? edited.length : (at += c.length)));
  }
  return build(t);
}

/// The limits recorded in `bytes` (an intact trace), as BigInts in header order.
function limitsOf(bytes) {
  const f = parse(bytes).fields.find((x) => x.tag === LIMITS_FIELD);
  const out = [];
  for (let pos = 0; pos < f.payload.length;) {
    let v;
    [v, pos] = readVarint(f.payload, pos);
    out.push(v);
  }
  return out;
}

module.exports = { parse, build, rewrite, limitsOf };
