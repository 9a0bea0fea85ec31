// Integrity and robustness: the JavaScript reader refuses exactly what the
// Rust reader refuses, with the same message. The differential corpus
// (fixtures/mutations.json.gz) holds, for one trace in raw 61-byte chunks,
// every byte altered with three masks and re-sealed (so that the hash chain
// is consistent again and the event decoder itself is tested), and every
// proper prefix, each with the Rust reader's verdict.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const T = require('../src/trace.js');
const fx = require('../test-support/fixtures.js');

const corpus = fx.json('mutations.json.gz');
const base = fx.bytes(corpus.base);

/// The JS verdict on bytes: 'ok' or the error message, and the events decoded.
/// Read without caps: the corpus holds the verdicts of the Rust reader that
/// has none (`Reader::open`); test/caps.test.js tests the caps.
function verdict(bytes) {
  const data = T.loadTraceSync(bytes, { caps: T.UNBOUNDED_CAPS });
  return [data.error ? data.error.message : 'ok', data.eventCount, data];
}

// Rust errors the JavaScript reader cannot give, because it does not decode
// the embedded bytecode (it trusts the code map, which the checksum covers).
const BYTECODE_ONLY = /^(the embedded module does not (decode|verify)|the header's code map does not match)/;

// The verdicts on an altered version number name the newest version of the
// build that made the corpus ("this build reads version N"). A corpus made
// before the newest format version was added (regenerate it:
// fixtures/README.md) still holds for every case, and for these the current
// newest version is expected. Only the number is replaced: a version that
// became readable would still be a mismatch.
const UNSUPPORTED = /^(unsupported trace format version \d+ \(.*; this build reads version )\d+(\) \(at byte 8\))$/;
function current(rust) {
  return rust.replace(UNSUPPORTED, `$1${T.FORMAT_VERSION}$2`);
}

test('the base trace verifies', () => {
  assert.equal(verdict(base)[0], 'ok');
});

test('every altered and re-sealed byte: same verdict and message as the Rust reader', () => {
  let same = 0;
  let bytecodeOnly = 0;
  const mismatches = [];
  for (const [offset, mask, recorded, rustEvents] of corpus.cases) {
    const rust = current(recorded);
    const bytes = base.slice();
    bytes[offset] ^= mask;
    const [js, jsEvents, data] = verdict(fx.reseal(bytes));
    if (BYTECODE_ONLY.test(rust)) {
      bytecodeOnly++;
      continue;
    }
    if (js === rust && (js !== 'ok' || jsEvents === rustEvents)) {
      same++;
    } else {
      mismatches.push(`offset ${offset} ^${mask}: rust "${rust}" (${rustEvents} events), js "${js}" (${jsEvents})`);
    }
    // Whatever the verdict, the viewer never shows an unverified trace as verified.
    assert.equal(data.verified, js === 'ok');
  }
  assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} mismatches`);
  assert.ok(same > 10000, `${same} cases compared`);
  assert.ok(bytecodeOnly < corpus.cases.length / 4);
});

test('every proper prefix is reported as truncated, as by the Rust reader', () => {
  for (const [len, rust, rustEvents] of corpus.cuts) {
    const [js, jsEvents, data] = verdict(base.subarray(0, len));
    assert.equal(js, rust, `prefix of ${len} bytes`);
    assert.equal(jsEvents, rustEvents, `events before the cut at ${len}`);
    assert.equal(data.error.category, 'truncated', `prefix of ${len} bytes`);
  }
});

test('an altered byte without re-sealing is an integrity failure', () => {
  const trace = fx.bytes('audit-plugin.ctrace');
  for (let offset = 0; offset < trace.length; offset += 97) {
    const bytes = trace.slice();
    bytes[offset] ^= 0x20;
    const [msg, , data] = verdict(bytes);
    assert.notEqual(msg, 'ok', `offset ${offset}`);
    assert.ok(['integrity', 'not-a-trace', 'unsupported', 'truncated', 'malformed'].includes(data.error.category));
    if (offset >= 10) assert.equal(data.error.category, 'integrity', `offset ${offset}: ${msg}`);
  }
});

test('clear verdicts for files that are not traces', () => {
  const enc = (s) => new TextEncoder().encode(s);
  assert.equal(verdict(enc('hello, this is not a trace'))[2].error.category, 'not-a-trace');
  assert.equal(verdict(enc('%PDF-1.7 ...'))[2].error.category, 'not-a-trace');
  assert.equal(verdict(new Uint8Array(0))[2].error.category, 'truncated');
  const newer = base.slice();
  newer[8] = 5;
  const [msg, , data] = verdict(newer);
  assert.equal(data.error.category, 'unsupported');
  assert.match(msg, /newer ChronicleVM: upgrade to read it; this build reads version 4\)/);
  // Version 2 is read, so a version 1 trace relabelled as 2 (five limits
  // where six are due) fails its header checksum, unless re-sealed.
  const relabelled = fx.bytes('golden-audit.ctrace');
  assert.equal(relabelled[8], 1);
  relabelled[8] = 2;
  assert.equal(verdict(relabelled)[2].error.category, 'integrity');
  assert.equal(verdict(fx.reseal(relabelled))[2].error.category, 'truncated');
});

test('random garbage after a valid header never crashes the reader', () => {
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  const trace = fx.bytes('kitchen-sink.ctrace');
  for (let k = 0; k < 300; k++) {
    const bytes = trace.slice();
    const n = 1 + (rand() % 8);
    for (let j = 0; j < n; j++) bytes[rand() % bytes.length] = rand() & 0xff;
    const data = T.loadTraceSync(fx.reseal(bytes));
    assert.ok(data.ok || data.error.message.length > 0);
  }
});
