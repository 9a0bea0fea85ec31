// BLAKE3 in JavaScript: the official test vectors (hash mode, extended
// output) and hashes computed by the Rust `blake3` crate.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { hash, toHex } = require('../src/blake3.js');
const fx = require('../test-support/fixtures.js');

test('official BLAKE3 test vectors, 32-byte and 131-byte outputs', () => {
  const { cases } = fx.json('blake3-vectors.json');
  assert.equal(cases.length, 22);
  for (const c of cases) {
    const input = new Uint8Array(c.input_len).map((_, i) => i % 251);
    assert.equal(toHex(hash(input, 131)), c.hash, `input_len ${c.input_len}`);
    assert.equal(toHex(hash(input)), c.hash.slice(0, 64), `input_len ${c.input_len}`);
  }
});

test('hashes computed by the Rust blake3 crate', () => {
  const { cases } = fx.json('blake3-rust.json');
  for (const c of cases) {
    const input = new Uint8Array(c.len);
    for (let i = 0; i < c.len; i++) input[i] = Number((BigInt(i) * 2654435761n) >> 7n) & 0xff;
    assert.equal(toHex(hash(input)), c.hash, `len ${c.len}`);
  }
});

test('hashing a view hashes only its bytes', () => {
  const buf = new Uint8Array(3000).map((_, i) => i % 251);
  assert.equal(toHex(hash(buf.subarray(1000, 2023))), toHex(hash(buf.slice(1000, 2023))));
});
