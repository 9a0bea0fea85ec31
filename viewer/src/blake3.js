// BLAKE3 (default hash mode, with extendable output) in plain JavaScript.
//
// Written for the trace viewer from the BLAKE3 specification
// (https://github.com/BLAKE3-team/BLAKE3-specs): browsers' Web Crypto has no
// BLAKE3, and the viewer must work offline without a bundler. Only the
// unkeyed hash is implemented, because that is all `.ctrace` files use.
// Tested against the official test vectors and against hashes computed by
// the Rust `blake3` crate (viewer/test/blake3.test.js).
//
// A classic script: in a browser or worker it defines `Chronicle.blake3`;
// under Node it is a CommonJS module.
(function (root, factory) {
  'use strict';
  const api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else (root.Chronicle = root.Chronicle || {}).blake3 = api;
})(typeof self !== 'undefined' ? self : globalThis, function () {
  'use strict';

  const IV = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const CHUNK_START = 1;
  const CHUNK_END = 2;
  const PARENT = 4;
  const ROOT = 8;
  const BLOCK_LEN = 64;
  const CHUNK_LEN = 1024;

  // The message word order of each of the 7 rounds: the permutation
  // applied 0..6 times, flattened so that the compression loop indexes once.
  const SCHEDULE = (() => {
    const perm = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
    const out = new Uint8Array(7 * 16);
    let order = Array.from({ length: 16 }, (_, i) => i);
    for (let r = 0; r < 7; r++) {
      out.set(order, r * 16);
      order = perm.map((p) => order[p]);
    }
    return out;
  })();

  // Scratch space shared by every call (the hash is synchronous).
  const state = new Uint32Array(16);
  const block = new Uint32Array(16);

  /// The compression function: `state` = compress(cv, block, counter, len, flags).
  /// `cv` is 8 words; the full 16-word output is left in `state`.
  function compress(cv, cvOff, counterLo, counterHi, blockLen, flags) {
    let v0 = cv[cvOff], v1 = cv[cvOff + 1], v2 = cv[cvOff + 2], v3 = cv[cvOff + 3];
    let v4 = cv[cvOff + 4], v5 = cv[cvOff + 5], v6 = cv[cvOff + 6], v7 = cv[cvOff + 7];
    let v8 = IV[0], v9 = IV[1], v10 = IV[2], v11 = IV[3];
    let v12 = counterLo | 0, v13 = counterHi | 0, v14 = blockLen | 0, v15 = flags | 0;
    const m = block;
    const s = SCHEDULE;
    for (let r = 0; r < 112; r += 16) {
      // Columns.
      v0 = (v0 + v4 + m[s[r]]) | 0; v12 ^= v0; v12 = (v12 >>> 16) | (v12 << 16);
      v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 12) | (v4 << 20);
      v0 = (v0 + v4 + m[s[r + 1]]) | 0; v12 ^= v0; v12 = (v12 >>> 8) | (v12 << 24);
      v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 7) | (v4 << 25);

      v1 = (v1 + v5 + m[s[r + 2]]) | 0; v13 ^= v1; v13 = (v13 >>> 16) | (v13 << 16);
      v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 12) | (v5 << 20);
      v1 = (v1 + v5 + m[s[r + 3]]) | 0; v13 ^= v1; v13 = (v13 >>> 8) | (v13 << 24);
      v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 7) | (v5 << 25);

      v2 = (v2 + v6 + m[s[r + 4]]) | 0; v14 ^= v2; v14 = (v14 >>> 16) | (v14 << 16);
      v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 12) | (v6 << 20);
      v2 = (v2 + v6 + m[s[r + 5]]) | 0; v14 ^= v2; v14 = (v14 >>> 8) | (v14 << 24);
      v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 7) | (v6 << 25);

      v3 = (v3 + v7 + m[s[r + 6]]) | 0; v15 ^= v3; v15 = (v15 >>> 16) | (v15 << 16);
      v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 12) | (v7 << 20);
      v3 = (v3 + v7 + m[s[r + 7]]) | 0; v15 ^= v3; v15 = (v15 >>> 8) | (v15 << 24);
      v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 7) | (v7 << 25);

      // Diagonals.
      v0 = (v0 + v5 + m[s[r + 8]]) | 0; v15 ^= v0; v15 = (v15 >>> 16) | (v15 << 16);
      v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 12) | (v5 << 20);
      v0 = (v0 + v5 + m[s[r + 9]]) | 0; v15 ^= v0; v15 = (v15 >>> 8) | (v15 << 24);
      v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 7) | (v5 << 25);

      v1 = (v1 + v6 + m[s[r + 10]]) | 0; v12 ^= v1; v12 = (v12 >>> 16) | (v12 << 16);
      v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 12) | (v6 << 20);
      v1 = (v1 + v6 + m[s[r + 11]]) | 0; v12 ^= v1; v12 = (v12 >>> 8) | (v12 << 24);
      v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 7) | (v6 << 25);

      v2 = (v2 + v7 + m[s[r + 12]]) | 0; v13 ^= v2; v13 = (v13 >>> 16) | (v13 << 16);
      v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 12) | (v7 << 20);
      v2 = (v2 + v7 + m[s[r + 13]]) | 0; v13 ^= v2; v13 = (v13 >>> 8) | (v13 << 24);
      v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 7) | (v7 << 25);

      v3 = (v3 + v4 + m[s[r + 14]]) | 0; v14 ^= v3; v14 = (v14 >>> 16) | (v14 << 16);
      v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 12) | (v4 << 20);
      v3 = (v3 + v4 + m[s[r + 15]]) | 0; v14 ^= v3; v14 = (v14 >>> 8) | (v14 << 24);
      v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 7) | (v4 << 25);
    }
    state[0] = v0 ^ v8; state[1] = v1 ^ v9; state[2] = v2 ^ v10; state[3] = v3 ^ v11;
    state[4] = v4 ^ v12; state[5] = v5 ^ v13; state[6] = v6 ^ v14; state[7] = v7 ^ v15;
    state[8] = v8 ^ cv[cvOff]; state[9] = v9 ^ cv[cvOff + 1];
    state[10] = v10 ^ cv[cvOff + 2]; state[11] = v11 ^ cv[cvOff + 3];
    state[12] = v12 ^ cv[cvOff + 4]; state[13] = v13 ^ cv[cvOff + 5];
    state[14] = v14 ^ cv[cvOff + 6]; state[15] = v15 ^ cv[cvOff + 7];
  }

  /// Loads `len` (<= 64) bytes at `off` into `block` as little-endian words, zero-padded.
  function loadBlock(bytes, off, len) {
    if (len === BLOCK_LEN) {
      for (let i = 0; i < 16; i++, off += 4) {
        block[i] = bytes[off] | (bytes[off + 1] << 8) | (bytes[off + 2] << 16) | (bytes[off + 3] << 24);
      }
      return;
    }
    block.fill(0);
    for (let i = 0; i < len; i++) block[i >> 2] |= bytes[off + i] << ((i & 3) * 8);
  }

  /// The chaining value of a whole (non-final) 1024-byte chunk, into `out[outOff..+8]`.
  function chunkCv(bytes, off, chunkIndex, out, outOff) {
    const cv = new Uint32Array(IV);
    const lo = chunkIndex >>> 0;
    const hi = Math.floor(chunkIndex / 0x100000000) >>> 0;
    for (let b = 0; b < 16; b++) {
      loadBlock(bytes, off + b * BLOCK_LEN, BLOCK_LEN);
      const flags = (b === 0 ? CHUNK_START : 0) | (b === 15 ? CHUNK_END : 0);
      compress(cv, 0, lo, hi, BLOCK_LEN, flags);
      cv.set(state.subarray(0, 8));
    }
    out.set(cv, outOff);
  }

  /// BLAKE3 of `bytes` (a Uint8Array), `outLen` bytes of output (default 32).
  function hash(bytes, outLen) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('blake3: expected a Uint8Array');
    outLen = outLen === undefined ? 32 : outLen;
    const n = bytes.length;
    // Whole chunks before the last one (which may be whole, partial or empty)
    // are merged into a stack of subtree chaining values.
    const chunks = n === 0 ? 1 : Math.ceil(n / CHUNK_LEN);
    const stack = new Uint32Array(8 * 64);
    let depth = 0;
    const parentBlock = (leftOff) => {
      // block = left cv || right cv, both already on the stack at leftOff.
      for (let i = 0; i < 16; i++) block[i] = stack[leftOff + i];
    };
    for (let c = 0; c < chunks - 1; c++) {
      chunkCv(bytes, c * CHUNK_LEN, c, stack, depth * 8);
      depth++;
      // Merge completed subtrees: after chunk c, the number of trailing
      // ones of (c + 1) in binary says how many parents close.
      let total = c + 1;
      while ((total & 1) === 0) {
        parentBlock((depth - 2) * 8);
        compress(IV, 0, 0, 0, BLOCK_LEN, PARENT);
        stack.set(state.subarray(0, 8), (depth - 2) * 8);
        depth--;
        total = Math.floor(total / 2);
      }
    }
    // The last chunk: compress every block but its last, keep the last as the output node.
    const lastIndex = chunks - 1;
    const start = lastIndex * CHUNK_LEN;
    const len = n - start;
    const cv = new Uint32Array(IV);
    const lo = lastIndex >>> 0;
    const hi = Math.floor(lastIndex / 0x100000000) >>> 0;
    const blocks = len === 0 ? 1 : Math.ceil(len / BLOCK_LEN);
    for (let b = 0; b < blocks - 1; b++) {
      loadBlock(bytes, start + b * BLOCK_LEN, BLOCK_LEN);
      compress(cv, 0, lo, hi, BLOCK_LEN, b === 0 ? CHUNK_START : 0);
      cv.set(state.subarray(0, 8));
    }
    const lastLen = len - (blocks - 1) * BLOCK_LEN;
    loadBlock(bytes, start + (blocks - 1) * BLOCK_LEN, lastLen);
    // The output node: (input cv, block, counter, length, flags).
    let outCv = cv;
    let outBlock = new Uint32Array(block);
    let outCounterLo = lo;
    let outCounterHi = hi;
    let outLenBytes = lastLen;
    let outFlags = (blocks === 1 ? CHUNK_START : 0) | CHUNK_END;
    // Fold the stack into the output node, from the top.
    while (depth > 0) {
      block.set(outBlock);
      compress(outCv, 0, outCounterLo, outCounterHi, outLenBytes, outFlags);
      const right = state.slice(0, 8);
      depth--;
      const left = stack.slice(depth * 8, depth * 8 + 8);
      outCv = IV;
      outBlock = new Uint32Array(16);
      outBlock.set(left, 0);
      outBlock.set(right, 8);
      outCounterLo = 0;
      outCounterHi = 0;
      outLenBytes = BLOCK_LEN;
      outFlags = PARENT;
    }
    // Root output: as many 64-byte blocks as needed, counting up.
    const out = new Uint8Array(outLen);
    for (let k = 0, pos = 0; pos < outLen; k++) {
      block.set(outBlock);
      compress(outCv, 0, k >>> 0, 0, outLenBytes, outFlags | ROOT);
      for (let w = 0; w < 16 && pos < outLen; w++) {
        const word = state[w];
        for (let byte = 0; byte < 4 && pos < outLen; byte++) out[pos++] = (word >>> (8 * byte)) & 0xff;
      }
    }
    return out;
  }

  /// Lowercase hexadecimal of bytes.
  function toHex(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return s;
  }

  /// Whether two byte arrays are equal.
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  return { hash, toHex, equal };
});
