// The LZ4 block decoder: blocks compressed by lz4_flex (the Rust writer's
// compressor) decode to their input; malformed blocks are refused with an
// Lz4Error, never another exception, and never write past the output.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { decompress, decompressInto, Lz4Error } = require('../src/lz4.js');
const fx = require('../test-support/fixtures.js');

const unhex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));

test('blocks compressed by lz4_flex decode to their input', () => {
  const { blocks } = fx.json('lz4-blocks.json');
  assert.ok(blocks.length >= 7);
  for (const b of blocks) {
    const raw = unhex(b.raw);
    assert.deepEqual(decompress(unhex(b.lz4), raw.length), raw, b.name);
  }
});

test('hand-made blocks: literals only, overlapping match, long lengths', () => {
  // "abc" as literals.
  assert.deepEqual(decompress(Uint8Array.of(0x30, 97, 98, 99), 3), Uint8Array.of(97, 98, 99));
  // "a" then a match of 9 at offset 1 (overlapping), then 1 literal "b".
  const run = decompress(Uint8Array.of(0x15, 97, 1, 0, 0x10, 98), 11);
  assert.equal(Buffer.from(run).toString(), 'aaaaaaaaaab');
  // 20 literals (15 + 5) and a match of 19 + 4 + 255 + 2 = 280? (15 + 255 + 2 + 4 = 276).
  const lits = Array.from({ length: 20 }, (_, i) => 65 + i);
  const block = Uint8Array.of(0xff, 5, ...lits, 20, 0, 255, 2, 0x00);
  const out = decompress(block, 20 + 276);
  assert.deepEqual(out.subarray(20, 40), Uint8Array.from(lits));
  assert.equal(out[295], lits[(275) % 20]);
});

test('malformed blocks are refused', () => {
  const bad = [
    [Uint8Array.of(), 1, 'empty block'],
    [Uint8Array.of(0x30, 97, 98), 3, 'literals past the end'],
    [Uint8Array.of(0x10, 97, 0, 0), 5, 'offset 0'],
    [Uint8Array.of(0x10, 97, 2, 0), 5, 'offset before the start'],
    [Uint8Array.of(0x10, 97, 1), 5, 'truncated offset'],
    [Uint8Array.of(0xf0), 20, 'truncated literal length'],
    [Uint8Array.of(0x1f, 97, 1, 0), 30, 'truncated match length'],
    [Uint8Array.of(0x30, 97, 98, 99), 2, 'literals overflow the output'],
    [Uint8Array.of(0x1f, 97, 1, 0, 200), 10, 'match overflows the output'],
    [Uint8Array.of(0x20, 97, 98), 5, 'too short'],
  ];
  for (const [block, n, why] of bad) {
    assert.throws(() => decompress(block, n), Lz4Error, why);
  }
  // Never writes outside its window.
  const dst = new Uint8Array(8).fill(9);
  assert.throws(() => decompressInto(Uint8Array.of(0x60, 1, 2, 3, 4, 5, 6), dst, 2, 4), Lz4Error);
  assert.deepEqual(dst.subarray(0, 2), Uint8Array.of(9, 9));
  assert.deepEqual(dst.subarray(6), Uint8Array.of(9, 9));
});

test('mutated blocks never throw anything but Lz4Error', () => {
  const { blocks } = fx.json('lz4-blocks.json');
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (const b of blocks) {
    const block = unhex(b.lz4);
    const n = b.raw.length / 2;
    if (block.length === 0) continue;
    for (let k = 0; k < 300; k++) {
      const m = block.slice(0, block.length - rand(Math.min(block.length, 4)));
      if (m.length) m[rand(m.length)] ^= 1 << rand(8);
      try {
        decompress(m, Math.max(0, n + rand(3) - 1));
      } catch (e) {
        assert.ok(e instanceof Lz4Error, `${b.name}: ${e}`);
      }
    }
  }
});
