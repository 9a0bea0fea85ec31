// LZ4 block decompression (the block format, not the frame format), as
// `.ctrace` chunks of kind 0x02 use it (docs/TRACE_FORMAT.md, section 5).
//
// Hardened for hostile input: every read and write is bounds-checked, the
// output never grows beyond the length the caller expects, and any
// malformed block is an `Lz4Error`, never an exception of another kind or
// an endless loop. Tested in viewer/test/lz4.test.js against blocks that the
// Rust writer (lz4_flex) compressed and against malformed blocks.
//
// A classic script: in a browser or worker it defines `Chronicle.lz4`;
// under Node it is a CommonJS module.
(function (root, factory) {
  'use strict';
  const api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else (root.Chronicle = root.Chronicle || {}).lz4 = api;
})(typeof self !== 'undefined' ? self : globalThis, function () {
  'use strict';

  /// A malformed LZ4 block.
  class Lz4Error extends Error {
    constructor(message) {
      super(message);
      this.name = 'Lz4Error';
    }
  }

  /// Decompresses the LZ4 block `src` into `dst[dstOff .. dstOff + expected]`.
  /// The block must produce exactly `expected` bytes; returns `expected`.
  function decompressInto(src, dst, dstOff, expected) {
    const end = dstOff + expected;
    if (end > dst.length) throw new Lz4Error('output buffer too small');
    let s = 0;
    let d = dstOff;
    const n = src.length;
    while (true) {
      if (s >= n) throw new Lz4Error('block ends before a sequence');
      const token = src[s++];
      // Literals.
      let lit = token >>> 4;
      if (lit === 15) {
        let b;
        do {
          if (s >= n) throw new Lz4Error('block ends in a literal length');
          b = src[s++];
          lit += b;
        } while (b === 255);
      }
      if (lit > n - s) throw new Lz4Error('literals run past the end of the block');
      if (lit > end - d) throw new Lz4Error('literals overflow the output');
      if (lit > 0) {
        dst.set(src.subarray(s, s + lit), d);
        s += lit;
        d += lit;
      }
      if (s === n) break; // the last sequence has literals only
      // Match.
      if (n - s < 2) throw new Lz4Error('block ends in a match offset');
      const offset = src[s] | (src[s + 1] << 8);
      s += 2;
      if (offset === 0) throw new Lz4Error('match offset 0');
      if (offset > d - dstOff) throw new Lz4Error('match offset before the start of the output');
      let len = token & 15;
      if (len === 15) {
        let b;
        do {
          if (s >= n) throw new Lz4Error('block ends in a match length');
          b = src[s++];
          len += b;
        } while (b === 255);
      }
      len += 4;
      if (len > end - d) throw new Lz4Error('match overflows the output');
      let from = d - offset;
      if (offset >= len) {
        dst.copyWithin(d, from, from + len);
        d += len;
      } else {
        // Overlapping copy: byte by byte, so that repeated patterns expand.
        for (let k = 0; k < len; k++) dst[d++] = dst[from++];
      }
    }
    if (d !== end) throw new Lz4Error(`block decompresses to ${d - dstOff} bytes, not ${expected}`);
    return expected;
  }

  /// Decompresses `src` into a new Uint8Array of exactly `expected` bytes.
  function decompress(src, expected) {
    const out = new Uint8Array(expected);
    decompressInto(src, out, 0, expected);
    return out;
  }

  return { decompress, decompressInto, Lz4Error };
});
