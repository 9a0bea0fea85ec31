// The `.ctrace` reader of the browser viewer, written from
// docs/TRACE_FORMAT.md (the specification); the Rust reader in
// crates/chronicle-core/src/trace/ is the reference it is tested against
// (viewer/test/decode.test.js compares both field by field).
//
// Loading has two phases, both in `loadTrace`, a generator that yields
// progress so that a caller can run it in slices (the main thread) or in
// one go (a Web Worker):
//
//   A. framing and integrity: preamble, header checksum, header fields and
//      the hashes of the embedded module, source and policy; then every
//      chunk's hash-chain link is checked BEFORE its payload is used, and
//      LZ4 chunks are decompressed; the verified raw payloads are appended
//      to one event-stream buffer.
//   B. events: a `Machine` follows the run through the code map (section 4
//      of the format) and decodes every record into events, filling compact
//      per-event arrays (kind, function, pc, call depth) and keeping a
//      snapshot of its whole state every `snapEvery` events, so that the
//      state at any event is at most `snapEvery` events of decoding away.
//
// Errors are `TraceError`s whose messages are the Rust reader's, so that the
// viewer and `chronicle audit` say the same thing about the same file. The
// first error wins in file order, as in the Rust reader: phase B decodes the
// verified prefix and an event error in it comes before a later chunk's
// hash-chain failure. Everything shown comes from verified chunks only.
//
// Not done here (documented in viewer/README.md): the embedded bytecode is
// not decoded or verified. The viewer trusts the code map, which the header
// checksum covers; the Rust reader also checks that the code map is the one
// the module implies. Of the `alloc_bytes` limit, only the part the viewer
// can count exactly is checked (appends and pushes, see `Machine.charge`):
// the Rust reader also charges copy-on-write copies of shared values.
//
// Reader caps (the Rust reader's `Reader::open_capped`): a header that
// records a limit above the viewer's cap for it is refused before any event
// (`over_reader_cap`), and everything the machine allocates without bytes
// of the trace (pushes, appends, every copy-on-write copy it makes,
// snapshots) is charged to its own `alloc_bytes` cap (`reader_alloc_cap`,
// see `Machine.take`), so a small hostile trace cannot make the page build
// gigabytes; so is the decompressed event stream (`reader_stream_cap`). The caps default to the CLI's run limits (`DEFAULT_CAPS`).
//
// A classic script: in a browser or worker it defines `Chronicle.trace`;
// under Node it is a CommonJS module.
(function (root, factory) {
  'use strict';
  const node = typeof module === 'object' && module.exports;
  const deps = node
    ? { blake3: require('./blake3.js'), lz4: require('./lz4.js') }
    : root.Chronicle;
  const api = factory(deps.blake3, deps.lz4);
  if (node) module.exports = api;
  else (root.Chronicle = root.Chronicle || {}).trace = api;
})(typeof self !== 'undefined' ? self : globalThis, function (blake3, lz4) {
  'use strict';

  // ------------------------------------------------------------- constants

  const MAGIC = [0x43, 0x48, 0x52, 0x54, 0x52, 0x41, 0x43, 0x45]; // "CHRTRACE"
  /// The newest trace format version read, and the oldest: version 2 added
  /// the `alloc_bytes` limit (a sixth varint in the limits field), version 3
  /// the CAP_OK_OPENED record, version 4 the footer's signature block.
  const FORMAT_VERSION = 4;
  /// The first version whose footer ends in a signature block (kind byte,
  /// ed25519 public key, signature; all zero when unsigned).
  const SIGNATURE_SINCE = 4;
  /// The first version with CAP_OK_OPENED records (a successful call with
  /// the path it opened), and the longest path one holds, in bytes.
  const OPENED_PATHS_SINCE = 3;
  const MAX_OPENED_PATH = 65536;
  const OLDEST_FORMAT_VERSION = 1;
  const MODULE_FORMAT_VERSION = 1;
  const MAX_HEADER = 2 ** 30;
  const MAX_CHUNK = 65536;
  /// The footer before version 4, and the part of a version 4 footer that
  /// a signature signs; then the whole version 4 footer.
  const FOOTER_BODY_LEN = 57;
  const FOOTER_LEN_V4 = FOOTER_BODY_LEN + 1 + 32 + 64;
  const MAX_TYPE_DEPTH = 32;
  /// The viewer refuses event streams larger than this (memory of a tab).
  const MAX_STREAM = 1 << 30;
  /// ... and runs that hold more register values than this at once.
  const MAX_LIVE_REGISTERS = 1 << 25;

  /// Event kinds, as stored in the per-event `kinds` array.
  const ENTER = 0, STEP = 1, RETURN = 2, CAPABILITY = 3, TRAP = 4, END = 5;
  const KIND_NAMES = ['enter', 'step', 'return', 'capability', 'trap', 'end'];

  /// Effect codes of the code map (section 4).
  const E = {
    NONE: 0, SCALAR: 1, FULL: 2, APPEND: 3, STR: 4, COPY: 5, ELEM: 6, PUSH: 7,
    SET: 8, POP: 9, JUMP: 10, BRANCH: 11, CALL: 12, RET: 13, CAP: 14, LOOP: 15,
  };
  /// Operand shapes per effect code: r = register, k = constant, f = function,
  /// c = import, n = count, t = target pc, o = optional register (0 or r + 1).
  const OPERANDS = ['', 'r', 'r', 'rr', 'rk', 'rr', 'rrr', 'rr', 'rrr', 'rr', 't', 't', 'frno', 'o', 'co', 'rrt'];

  /// The limits, in header order and by trap code (code = index + 1).
  /// Version 1 headers hold the first five; `alloc_bytes` is then unbounded.
  const LIMIT_NAMES = ['instructions', 'call_depth', 'registers', 'array_len', 'string_bytes', 'alloc_bytes'];
  const U64_MAX = 0xffffffffffffffffn;
  /// What one element pushed onto an array costs against `alloc_bytes`, by
  /// array class (int, bool, ref): `alloc_cost` in crates/chronicle-core/src/limits.rs.
  const ELEMENT_COST = [8, 1, 16];
  /// The fixed cost of one string or array object (`alloc_cost::OBJECT`).
  const OBJECT_COST = 32;

  /// The viewer's caps by default: the limits of a CLI run without
  /// `--unbounded` (`Limits::DEFAULT` in crates/chronicle-core/src/limits.rs).
  const DEFAULT_CAPS = Object.freeze({
    instructions: 5000000n, call_depth: 128n, registers: 256n, array_len: 100000n,
    string_bytes: 1048576n, alloc_bytes: 268435456n,
  });
  /// No cap at all (`Limits::UNBOUNDED`): only for traces the user trusts.
  const UNBOUNDED_CAPS = Object.freeze(Object.fromEntries(LIMIT_NAMES.map((n) => [n, U64_MAX])));

  /// The caps `given` describes, as six BigInts: `DEFAULT_CAPS` with the
  /// limits `given` names replaced (BigInt, integer Number or decimal
  /// string, 0 to 2^64 - 1). Throws a RangeError naming a bad one.
  function capsFrom(given) {
    const out = Object.assign({}, DEFAULT_CAPS);
    for (const [name, v] of Object.entries(given || {})) {
      if (!LIMIT_NAMES.includes(name)) throw new RangeError(`unknown cap ${name}`);
      let b = null;
      if (typeof v === 'bigint') b = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
      else if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) b = BigInt(v);
      if (b === null || b < 0n || b > U64_MAX) {
        throw new RangeError(`the ${name} cap must be a whole number from 0 to ${U64_MAX}, not ${String(v)}`);
      }
      out[name] = b;
    }
    return out;
  }

  /// The error of a step whose allocations pass the recorded `alloc_bytes`.
  const ALLOC_BEYOND = 'allocations beyond the recorded alloc_bytes limit';

  // Machine phases (section 6.1).
  const P_START = 0, P_RUNNING = 1, P_CAP_OK = 2, P_CAP_ERR = 3, P_RETURNED = 4,
    P_TRAPPED = 5, P_ENDED = 6, P_DONE = 7;

  // ---------------------------------------------------------------- errors

  /// Why bytes are not a valid, intact trace, and where (a file offset).
  /// `kind` names the Rust `TraceErrorKind`; `message` is its Display text
  /// followed by ` (at byte N)`, as the Rust reader prints it.
  class TraceError extends Error {
    constructor(kind, text, offset, extra) {
      super(`${text} (at byte ${offset})`);
      this.name = 'TraceError';
      this.kind = kind;
      this.text = text;
      this.offset = offset;
      Object.assign(this, extra || {});
    }

    /// How the viewer presents it: `not-a-trace`, `truncated`, `integrity`,
    /// `unsupported`, `reader-cap` (the viewer's own caps stopped it: the
    /// trace may be intact) or `malformed`.
    get category() {
      return category(this.kind);
    }
  }

  function category(kind) {
    switch (kind) {
      case 'bad_magic': return 'not-a-trace';
      case 'truncated': return 'truncated';
      case 'unsupported_version':
      case 'unsupported_module_version': return 'unsupported';
      case 'header_hash_mismatch':
      case 'content_hash_mismatch':
      case 'hash_mismatch':
      case 'bad_footer':
      case 'footer_mismatch':
      case 'final_hash_mismatch':
      case 'trailing_bytes': return 'integrity';
      case 'over_reader_cap':
      case 'reader_alloc_cap':
      case 'reader_stream_cap': return 'reader-cap';
      default: return 'malformed';
    }
  }

  const err = {
    truncated: (at) =>
      new TraceError('truncated', 'truncated trace: the input ends before the footer (an interrupted write?)', at),
    badVarint: (at) => new TraceError('bad_varint', 'malformed varint', at),
    tooLarge: (what, value, max, at) =>
      new TraceError('too_large', `${what} ${value} exceeds the maximum ${max}`, at),
    utf8: (what, at) => new TraceError('invalid_utf8', `invalid UTF-8 in ${what}`, at),
    badTag: (what, tag, at) => new TraceError('bad_tag', `unknown ${what} tag ${tag}`, at),
    badHeader: (what, at) => new TraceError('bad_header', `malformed header: ${what}`, at),
    badChunk: (chunk, what, at) => new TraceError('bad_chunk', `malformed chunk ${chunk}: ${what}`, at, { chunk }),
    badEvent: (event, what, at) => new TraceError('bad_event', `malformed event #${event}: ${what}`, at, { event }),
    badFooter: (what, at) => new TraceError('bad_footer', `bad footer: ${what}`, at),
    overCap: (limit, recorded, cap, at) => new TraceError('over_reader_cap',
      `the trace's recorded ${limit} limit ${recorded} is above this reader's cap ${cap}`, at, { limit, recorded, cap }),
    allocCap: (event, cap, at) => new TraceError('reader_alloc_cap',
      `reading event #${event} needs more than this reader's alloc_bytes cap of ${cap} bytes`, at, { event, cap }),
  };

  function unsupported(found, supported, what) {
    const why = found > supported
      ? 'written by a newer ChronicleVM: upgrade to read it'
      : 'not a version this build knows';
    return `unsupported ${what} version ${found} (${why}; this build reads version ${supported})`;
  }

  // ---------------------------------------------------------------- values
  //
  // int: BigInt; bool: boolean; str: string; unit: null; array: a plain
  // object { c, items, n, s }: c = 0 (int; items is a BigInt64Array), 1
  // (bool; a Uint8Array of 0/1) or 2 (str or array elements; an Array); n
  // is the length (typed arrays keep spare capacity beyond it); s =
  // "shared": set when a second reference may exist, so that a mutation
  // copies first (copy-on-write, as Rc::make_mut in Rust). Plain data with
  // typed arrays, so that a worker's result clones quickly.

  const A_INT = 0, A_BOOL = 1, A_REF = 2;
  const SMALL = Array.from({ length: 128 }, (_, z) => BigInt((z >>> 1) ^ -(z & 1)));

  function isArray(v) {
    return v !== null && typeof v === 'object';
  }

  function share(v) {
    if (isArray(v)) v.s = true;
    return v;
  }

  function initialValue(t) {
    switch (t.k) {
      case 1: return 0n;
      case 2: return false;
      case 3: return '';
      default: return newArray(elemClass(t.e), 0);
    }
  }

  function newArray(c, cap) {
    const items = c === A_INT ? new BigInt64Array(cap) : c === A_BOOL ? new Uint8Array(cap) : [];
    return { c, items, n: 0, s: false };
  }

  /// Element `i` of array `a` as a value.
  function arrGet(a, i) {
    const v = a.items[i];
    return a.c === A_BOOL ? v === 1 : v;
  }

  function arrSet(a, i, x) {
    a.items[i] = a.c === A_BOOL ? (x ? 1 : 0) : x;
  }

  function arrPush(a, x) {
    if (a.c === A_REF) {
      a.items.push(x);
    } else {
      if (a.n === a.items.length) {
        const bigger = new a.items.constructor(Math.max(8, a.items.length * 2));
        bigger.set(a.items);
        a.items = bigger;
      }
      a.items[a.n] = a.c === A_BOOL ? (x ? 1 : 0) : x;
    }
    a.n++;
  }

  function arrPop(a) {
    a.n--;
    return a.c === A_REF ? a.items.pop() : arrGet(a, a.n);
  }

  /// A copy of array `a`, unshared, with room for `extra` more elements
  /// (so that a push after a copy does not allocate twice the length).
  function arrClone(a, extra) {
    if (a.c === A_REF) return { c: a.c, items: a.items.slice(), n: a.n, s: false };
    const items = new a.items.constructor(a.n + (extra || 0));
    items.set(a.items.subarray(0, a.n));
    return { c: a.c, items, n: a.n, s: false };
  }

  /// The elements of array `a` as a JS array of values.
  function arrValues(a) {
    const out = [];
    for (let i = 0; i < a.n; i++) out.push(arrGet(a, i));
    return out;
  }

  function elemClass(t) {
    return t.k === 1 ? A_INT : t.k === 2 ? A_BOOL : A_REF;
  }

  /// Whether `v` has type `t` (null = unit) in the VM's exact representation.
  function conforms(v, t) {
    if (t === null) return v === null;
    switch (t.k) {
      case 1: return typeof v === 'bigint';
      case 2: return typeof v === 'boolean';
      case 3: return typeof v === 'string';
      default: {
        if (!isArray(v) || v.c !== elemClass(t.e)) return false;
        if (v.c !== A_REF) return true;
        for (let i = 0; i < v.n; i++) if (!conforms(v.items[i], t.e)) return false;
        return true;
      }
    }
  }

  function valuesEqual(a, b) {
    if (a === b) return true;
    if (!isArray(a) || !isArray(b) || a.c !== b.c || a.n !== b.n) return false;
    for (let i = 0; i < a.n; i++) if (!valuesEqual(a.items[i], b.items[i])) return false;
    return true;
  }

  /// A string literal as Rust's `Value` Display writes it.
  function quote(s) {
    let out = '"';
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (ch === '"') out += '\\"';
      else if (ch === '\\') out += '\\\\';
      else if (ch === '\n') out += '\\n';
      else if (ch === '\t') out += '\\t';
      else if (ch === '\r') out += '\\r';
      else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\u{${c.toString(16)}}`;
      else out += ch;
    }
    return out + '"';
  }

  /// A value as Rust's `Value` Display writes it (unit is empty). With
  /// `budget` (characters), long strings and arrays are cut with `…`.
  function formatValue(v, budget) {
    if (budget === undefined) return formatFull(v);
    const out = { s: '', left: budget };
    formatCut(v, out);
    return out.s;
  }

  function formatFull(v) {
    if (v === null) return '';
    if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
    if (typeof v === 'string') return quote(v);
    let s = '[';
    for (let i = 0; i < v.n; i++) s += (i ? ', ' : '') + formatFull(arrGet(v, i));
    return s + ']';
  }

  function formatCut(v, out) {
    if (out.left <= 0) return;
    if (isArray(v)) {
      out.s += '['; out.left--;
      for (let i = 0; i < v.n; i++) {
        if (out.left <= 0) { out.s += '…'; return; }
        if (i) { out.s += ', '; out.left -= 2; }
        formatCut(arrGet(v, i), out);
      }
      out.s += ']'; out.left--;
      return;
    }
    let text = typeof v === 'string' ? quote(v.length > out.left ? v.slice(0, out.left) : v) : formatFull(v);
    if (typeof v === 'string' && v.length > out.left) text = text.slice(0, -1) + '…"';
    out.s += text;
    out.left -= text.length;
  }

  function typeName(t) {
    if (t === null) return 'unit';
    switch (t.k) {
      case 1: return 'int';
      case 2: return 'bool';
      case 3: return 'str';
      default: return `[${typeName(t.e)}]`;
    }
  }

  // ---------------------------------------------------------------- UTF-8

  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  /// Decodes bytes[start..end] as UTF-8; null if invalid.
  function decodeUtf8(bytes, start, end) {
    const n = end - start;
    if (n <= 32) {
      let ascii = true;
      for (let i = start; i < end; i++) if (bytes[i] >= 0x80) { ascii = false; break; }
      if (ascii) return String.fromCharCode.apply(null, bytes.subarray(start, end));
    }
    try {
      return utf8.decode(bytes.subarray(start, end));
    } catch (_) {
      return null;
    }
  }

  function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; }
      else n += 3;
    }
    return n;
  }

  // ---------------------------------------------------------------- cursor

  /// Reads primitives from bytes[pos..end]; errors name `at()` offsets.
  /// `at` maps the current position to the file offset to report (header
  /// fields report exact offsets; the event stream reports its chunk's).
  class Cursor {
    constructor(bytes, pos, end, at) {
      this.b = bytes;
      this.pos = pos;
      this.end = end;
      this.at = at;
    }

    /// Thrown when the bytes run out; the caller decides what that means.
    more() {
      return err.truncated(this.at(this.pos));
    }

    byte() {
      if (this.pos >= this.end) throw this.more();
      return this.b[this.pos++];
    }

    /// A varint as a Number; values of 2^53 and more come back as Infinity
    /// (only lengths and indices are read this way, and those bound-check).
    varint() {
      const b0 = this.byte();
      if (b0 < 0x80) return b0;
      const v = this.varintRest(b0, true);
      if (typeof v === 'number') return v;
      return v <= 0x1fffffffffffffn ? Number(v) : Infinity;
    }

    /// A varint as a BigInt (u64).
    varintBig() {
      const b0 = this.byte();
      if (b0 < 0x80) return BigInt(b0);
      return this.varintRest(b0);
    }

    /// The rest of a varint whose first byte `b0` has its high bit set:
    /// minimal, at most 10 bytes, the 10th 0 or 1. A BigInt, or a Number
    /// if `small` and it fits in 28 bits.
    varintRest(b0, small) {
      let lo = b0 & 0x7f; // the low 28 bits, as a Number
      let value = null; // BigInt once past 28 bits
      for (let i = 1; i < 10; i++) {
        const b = this.byte();
        if (i === 9 && b > 1) throw err.badVarint(this.at(this.pos));
        if (i < 4) lo |= (b & 0x7f) << (7 * i);
        else {
          if (value === null) value = BigInt(lo);
          value |= BigInt(b & 0x7f) << BigInt(7 * i);
        }
        if ((b & 0x80) === 0) {
          if (b === 0) throw err.badVarint(this.at(this.pos));
          if (value !== null) return value;
          return small ? lo : BigInt(lo);
        }
      }
      throw err.badVarint(this.at(this.pos));
    }

    /// A varint no larger than `max`.
    bounded(what, max) {
      const v = this.varintBig();
      if (v > BigInt(max)) throw err.tooLarge(what, v, max, this.at(this.pos));
      return Number(v);
    }

    index(what) {
      return this.bounded(what, 65535);
    }

    zigzag() {
      const b0 = this.byte();
      if (b0 < 0x80) return SMALL[b0];
      const z = this.varintRest(b0);
      return (z >> 1n) ^ -(z & 1n);
    }

    take(n) {
      if (n > this.end - this.pos) throw this.more();
      const start = this.pos;
      this.pos += n;
      return start;
    }

    string(what) {
      const n = this.varint();
      const start = this.take(n);
      const s = decodeUtf8(this.b, start, start + n);
      if (s === null) throw err.utf8(what, this.at(this.pos));
      return s;
    }

    value(depth) {
      depth = depth || 0;
      const tag = this.byte();
      switch (tag) {
        case 0: return null;
        case 1: return this.zigzag();
        case 2: return false;
        case 3: return true;
        case 4: return this.string('string value');
        case 5: case 6: case 7: {
          if (depth >= MAX_TYPE_DEPTH) {
            throw err.tooLarge('array nesting depth', depth + 1, MAX_TYPE_DEPTH, this.at(this.pos));
          }
          const n = this.varint();
          // Capacity grows as elements arrive: a hostile count allocates nothing.
          const a = newArray(tag - 5, Math.min(n, 1024));
          if (tag === 5) {
            for (let i = 0; i < n; i++) arrPush(a, this.zigzag());
          } else if (tag === 6) {
            for (let i = 0; i < n; i++) {
              const b = this.byte();
              if (b > 1) throw err.badTag('bool element', b, this.at(this.pos));
              arrPush(a, b === 1);
            }
          } else {
            for (let i = 0; i < n; i++) arrPush(a, this.value(depth + 1));
          }
          return a;
        }
        default:
          throw err.badTag('value', tag, this.at(this.pos));
      }
    }
  }

  // ---------------------------------------------------------------- header

  /// Reads the preamble and the header of `bytes` (a whole file) under
  /// `caps` (see `capsFrom`; default `DEFAULT_CAPS`): a recorded limit above
  /// its cap is refused, the first one in header order, except the
  /// `alloc_bytes` that a version 1 trace does not record. Returns the
  /// header, the code map, the header hash and where the chunks start.
  function readHeader(bytes, caps) {
    caps = caps || DEFAULT_CAPS;
    const got = Math.min(bytes.length, 10);
    for (let i = 0; i < Math.min(got, 8); i++) {
      if (bytes[i] !== MAGIC[i]) {
        throw new TraceError('bad_magic', 'not a ChronicleVM trace (bad magic number)', 0);
      }
    }
    if (got < 10) throw err.truncated(got);
    const version = bytes[8] | (bytes[9] << 8);
    if (version < OLDEST_FORMAT_VERSION || version > FORMAT_VERSION) {
      throw new TraceError('unsupported_version', unsupported(version, FORMAT_VERSION, 'trace format'), 8, {
        found: version,
      });
    }
    // header_len: a varint read straight from the file.
    const exact = (pos) => pos;
    const c = new Cursor(bytes, 10, bytes.length, exact);
    const wide = c.varintBig();
    if (wide > BigInt(MAX_HEADER)) throw err.tooLarge('header length', wide, MAX_HEADER, 10);
    const len = Number(wide);
    const fieldsAt = c.pos;
    if (len > bytes.length - fieldsAt) throw err.truncated(bytes.length);
    const fieldsEnd = fieldsAt + len;
    if (bytes.length - fieldsEnd < 32) throw err.truncated(fieldsEnd);
    const headerHash = blake3.hash(bytes.subarray(0, fieldsEnd));
    if (!blake3.equal(headerHash, bytes.subarray(fieldsEnd, fieldsEnd + 32))) {
      throw new TraceError('header_hash_mismatch', 'header checksum mismatch: the header was altered or corrupted', fieldsEnd);
    }
    const parsed = decodeFields(bytes, fieldsAt, fieldsEnd, version);
    for (const name of LIMIT_NAMES) {
      const unrecorded = version === 1 && name === 'alloc_bytes';
      const recorded = parsed.header.limits[name];
      if (!unrecorded && recorded > caps[name]) throw err.overCap(name, recorded, caps[name], fieldsAt);
    }
    parsed.headerHash = blake3.toHex(headerHash);
    parsed.headerEnd = fieldsEnd + 32;
    parsed.formatVersion = version;
    return parsed;
  }

  const F = {
    TOOL_VERSION: 1, PLUGIN_NAME: 2, RECORDED_AT: 3, HOST: 4, MODULE_FORMAT_VERSION: 5,
    MODULE_HASH: 6, MODULE: 7, SOURCE_HASH: 8, SOURCE: 9, POLICY_HASH: 10, POLICY: 11,
    LIMITS: 12, CAPABILITIES: 13, CODE_MAP: 14,
  };

  function decodeFields(bytes, start, end, version) {
    const exact = (pos) => pos;
    const s = new Cursor(bytes, start, end, exact);
    const h = {
      toolVersion: '', pluginName: '', recordedAtMs: 0n, host: '', moduleFormatVersion: null,
      moduleHash: null, moduleLen: 0, sourceHash: null, source: null, policyHash: null,
      policy: null, limits: null, capabilities: [], unknownFields: [],
    };
    const seen = new Set();
    const hashes = { module: null, source: null, policy: null };
    let module = null;
    let mapRange = null;
    let lastTag = 0;
    while (true) {
      const at = s.pos;
      const tag = s.varint();
      if (tag === 0) break;
      if (tag <= lastTag) throw err.badHeader('fields out of order or repeated', at);
      lastTag = tag;
      const len = s.varint();
      if (len > s.end - s.pos) throw err.truncated(s.pos);
      const pStart = s.take(len);
      const pEnd = pStart + len;
      const p = new Cursor(bytes, pStart, pEnd, exact);
      const text = (what) => {
        const t = decodeUtf8(bytes, pStart, pEnd);
        if (t === null) throw err.utf8(what, pStart);
        return t;
      };
      const hash = () => {
        if (len !== 32) throw err.badHeader('a hash field is not 32 bytes', pStart);
        return blake3.toHex(bytes.subarray(pStart, pEnd));
      };
      let parsed = false;
      switch (tag) {
        case F.TOOL_VERSION: h.toolVersion = text('tool version'); break;
        case F.PLUGIN_NAME: h.pluginName = text('plugin name'); break;
        case F.RECORDED_AT: h.recordedAtMs = p.zigzag(); parsed = true; break;
        case F.HOST: h.host = text('host description'); break;
        case F.MODULE_FORMAT_VERSION: h.moduleFormatVersion = p.index('module format version'); parsed = true; break;
        case F.MODULE_HASH: hashes.module = hash(); break;
        case F.MODULE: module = bytes.subarray(pStart, pEnd); break;
        case F.SOURCE_HASH: hashes.source = hash(); break;
        case F.SOURCE: h.source = text('source text'); break;
        case F.POLICY_HASH: hashes.policy = hash(); break;
        case F.POLICY: h.policy = text('policy text'); break;
        case F.LIMITS: {
          // Version 1 has no `alloc_bytes`: its runs were not bounded by it.
          const count = version === 1 ? 5 : 6;
          h.limits = {};
          LIMIT_NAMES.forEach((name, i) => { h.limits[name] = i < count ? p.varintBig() : U64_MAX; });
          parsed = true;
          break;
        }
        case F.CAPABILITIES: h.capabilities = capabilities(p); parsed = true; break;
        case F.CODE_MAP: mapRange = [pStart, pEnd]; break;
        default: h.unknownFields.push({ tag, length: len }); break;
      }
      if (!parsed) p.pos = pEnd;
      seen.add(tag);
      if (p.pos !== pEnd) throw err.badHeader('a field has bytes left over', p.pos);
    }
    if (s.pos !== end) throw err.badHeader('bytes after the end of the fields', s.pos);
    const required = [
      [F.TOOL_VERSION, 'the tool version is missing'],
      [F.PLUGIN_NAME, 'the plugin name is missing'],
      [F.RECORDED_AT, 'the recording time is missing'],
      [F.HOST, 'the host description is missing'],
      [F.MODULE_FORMAT_VERSION, 'the module format version is missing'],
      [F.MODULE_HASH, 'the module hash is missing'],
      [F.MODULE, 'the module is missing'],
      [F.LIMITS, 'the limits are missing'],
      [F.CAPABILITIES, 'the capability table is missing'],
      [F.CODE_MAP, 'the code map is missing'],
    ];
    for (const [tag, what] of required) if (!seen.has(tag)) throw err.badHeader(what, s.pos);
    if (seen.has(F.SOURCE) !== seen.has(F.SOURCE_HASH) || seen.has(F.POLICY) !== seen.has(F.POLICY_HASH)) {
      throw err.badHeader('a text without its hash, or a hash without its text', s.pos);
    }
    const content = (what) =>
      new TraceError('content_hash_mismatch', `the embedded ${what} does not match its recorded BLAKE3 hash`, start, { what });
    const enc = new TextEncoder();
    h.moduleHash = blake3.toHex(blake3.hash(module));
    h.moduleLen = module.length;
    if (hashes.module !== h.moduleHash) throw content('module');
    if (h.source !== null) {
      h.sourceHash = blake3.toHex(blake3.hash(enc.encode(h.source)));
      if (hashes.source !== h.sourceHash) throw content('source');
    }
    if (h.policy !== null) {
      h.policyHash = blake3.toHex(blake3.hash(enc.encode(h.policy)));
      if (hashes.policy !== h.policyHash) throw content('policy');
    }
    const found = h.moduleFormatVersion;
    const own = module.length >= 6 ? module[4] | (module[5] << 8) : 0;
    if (found !== MODULE_FORMAT_VERSION || own !== found) {
      throw new TraceError('unsupported_module_version', unsupported(found, MODULE_FORMAT_VERSION, 'bytecode format'), start);
    }
    const codeMap = readCodeMap(bytes, mapRange[0], mapRange[1]);
    return { header: h, codeMap };
  }

  function capabilities(p) {
    const n = p.varint();
    const out = [];
    for (let i = 0; i < n; i++) {
      const name = p.string('capability name');
      const requested = `${p.index('version')}.${p.index('version')}`;
      let offered = null;
      const o = p.byte();
      if (o === 1) offered = `${p.index('version')}.${p.index('version')}`;
      else if (o !== 0) throw err.badTag('offered version', o, p.pos);
      const code = p.byte();
      const decision = ['grant', 'mock', 'deny'][code - 1];
      if (decision === undefined) throw err.badTag('decision', code, p.pos);
      const scope = p.string('capability scope');
      out.push({ name, requested, offered, decision, scope });
    }
    return out;
  }

  // -------------------------------------------------------------- code map

  /// Parses and checks the code map (section 4): every index in range, so
  /// that the machine can follow any event stream without going astray.
  function readCodeMap(bytes, start, end) {
    const c = new Cursor(bytes, start, end, (pos) => pos);
    const bad = (what) => err.badHeader(`the code map is inconsistent: ${what}`, c.pos);
    const type = (depth) => {
      const t = c.byte();
      if (t >= 1 && t <= 3) return { k: t };
      if (t === 4) {
        if (depth >= MAX_TYPE_DEPTH) throw bad('a type nested too deep');
        return { k: 4, e: type(depth + 1) };
      }
      throw err.badTag('type', t, c.pos);
    };
    const ret = () => {
      if (c.pos < c.end && c.b[c.pos] === 0) {
        c.pos++;
        return null;
      }
      return type(0);
    };
    const consts = [];
    const nConsts = c.varint();
    for (let i = 0; i < nConsts; i++) {
      const tag = c.byte();
      if (tag === 1) consts.push(c.zigzag());
      else if (tag === 2) consts.push(c.string('string constant'));
      else throw err.badTag('constant', tag, c.pos);
    }
    const imports = [];
    const nImports = c.varint();
    for (let i = 0; i < nImports; i++) {
      const name = c.string('import name');
      const major = c.index('version');
      const minor = c.index('version');
      const np = c.varint();
      const params = [];
      for (let j = 0; j < np; j++) params.push(type(0));
      imports.push({ name, major, minor, params, ret: ret() });
    }
    const funcs = [];
    const nFuncs = c.varint();
    const effs = [];
    const ops = [];
    const lines = [];
    for (let i = 0; i < nFuncs; i++) {
      const name = c.string('function name');
      const params = c.varint();
      const regCount = c.varint();
      if (regCount > 65536 || params > regCount) throw bad(`function ${name} has ${params} parameters in ${regCount} registers`);
      const regTypes = [];
      for (let j = 0; j < regCount; j++) regTypes.push(type(0));
      const r = ret();
      const n = c.varint();
      if (n > 65536) throw bad(`function ${name} has ${n} instructions`);
      const base = effs.length;
      for (let pc = 0; pc < n; pc++) {
        lines.push(c.bounded('line', 0xffffffff));
        const code = c.byte();
        const shape = OPERANDS[code];
        if (shape === undefined) throw err.badTag('effect', code, c.pos);
        effs.push(code);
        const o = [-1, -1, -1, -1];
        for (let k = 0; k < shape.length; k++) {
          const v = c.varint();
          const kind = shape[k];
          let ok;
          if (kind === 'r') ok = v < regCount;
          else if (kind === 'o') ok = v <= regCount;
          else if (kind === 't') ok = v < n;
          else if (kind === 'k') ok = v < nConsts && typeof consts[v] === 'string';
          else if (kind === 'c') ok = v < nImports;
          else ok = v <= 65535; // f, n: checked once every function is known
          if (!ok) throw bad(`operand ${k} of ${name} pc ${pc} is out of range`);
          o[k] = kind === 'o' ? v - 1 : v;
        }
        ops.push(o[0], o[1], o[2], o[3]);
      }
      funcs.push({ name, params, regCount, regTypes, ret: r, base, n, init: regTypes.map(initialValue) });
    }
    const entry = c.varint();
    if (entry >= nFuncs) throw bad('the entry function does not exist');
    if (c.pos !== end) throw err.badHeader('a field has bytes left over', c.pos);
    for (const f of funcs) {
      for (let pc = 0; pc < f.n; pc++) {
        const i = f.base + pc;
        if (effs[i] !== E.CALL) continue;
        const [callee, a, n] = [ops[4 * i], ops[4 * i + 1], ops[4 * i + 2]];
        if (callee >= nFuncs || a + n > f.regCount || n !== funcs[callee].params) {
          throw bad(`the call at ${f.name} pc ${pc} does not fit its callee`);
        }
      }
    }
    return {
      consts, imports, funcs, entry,
      eff: Uint8Array.from(effs),
      ops: Int32Array.from(ops),
      lines: Uint32Array.from(lines),
    };
  }

  // --------------------------------------------------------------- machine

  /// Thrown by the machine's stream reads past the verified bytes; the
  /// loader turns it into the error that stopped phase A, or a footer error.
  class NeedMore {
    constructor(event) {
      this.event = event;
    }
  }

  /// Follows the run through the code map, one event at a time (section 6),
  /// with the Rust reader's checks. `at(pos)` gives the file offset of the
  /// chunk holding stream position `pos`, for error messages. `allocCap`
  /// (a BigInt, default the `alloc_bytes` of `DEFAULT_CAPS`) is the reader's
  /// own cap on what the machine allocates without bytes of the trace.
  class Machine {
    constructor(codeMap, limits, stream, streamEnd, at, allocCap) {
      this.cm = codeMap;
      this.lim = {};
      for (const name of LIMIT_NAMES) {
        const v = limits[name];
        this.lim[name] = v === undefined || v > 0x1fffffffffffffn ? Infinity : Number(v);
      }
      /// What the run may still allocate without bytes of the trace, as far
      /// as the viewer counts it: appended bytes and pushed elements, not
      /// copy-on-write copies (see `charge`).
      this.allocLeft = this.lim.alloc_bytes;
      /// The reader's cap, and what the machine may still allocate under
      /// it: every push, append and copy it actually makes (see `take`).
      this.capBytes = allocCap === undefined ? DEFAULT_CAPS.alloc_bytes : allocCap;
      this.capLeft = this.capBytes > 0x1fffffffffffffn ? Infinity : Number(this.capBytes);
      /// What snapshots may still cost, in all (the cap, once), and what
      /// they have added to `capLeft` so far: see `snapshot`.
      this.raiseLeft = this.capLeft;
      this.raised = 0;
      this.stream = stream;
      this.streamEnd = streamEnd;
      this.at = at;
      this.c = new Cursor(stream, 0, streamEnd, (pos) => this.at(Math.max(pos - 1, 0)));
      this.c.more = () => new NeedMore(this.events);
      /// Whether CAP_OK_OPENED records may appear (set from the format version).
      this.openedPaths = false;
      this.preds = new BigInt64Array(2 * codeMap.eff.length);
      this.frames = [];
      this.regs = [];
      this.phase = P_START;
      this.phaseValue = null;
      this.pending = null;
      this.events = 0;
      this.steps = 0;
      // The event just decoded: its kind, and the function and pc it is about.
      this.kind = -1;
      this.func = 0;
      this.pc = 0;
      /// When true, `detail` describes each event fully (values included).
      this.wantDetail = false;
      /// When true as well, the values in `detail` are not marked shared:
      /// they are valid only until the next event (no copy is made for them).
      this.transient = false;
      this.detail = null;
      this.appendCache = { s: null, bytes: 0 };
    }

    /// Where the stream is: the position of the next record.
    get pos() {
      return this.c.pos;
    }

    bad(what) {
      return err.badEvent(this.events, what, this.at(Math.max(this.c.pos - 1, 0)));
    }

    /// A copy of the whole state (arrays are marked shared, not copied), or
    /// null if the snapshots' allowance cannot pay for it (unless `force`).
    ///
    /// A snapshot costs its tables (predictors, the register list, the
    /// frames), the trimming of spare capacity, and what it shares (see
    /// `newlyShared`: each array it newly holds may be copied once by a
    /// later mutation). It is paid from `raiseLeft` (the cap, once in all)
    /// and raises `capLeft` by what it shares, so the copies it causes do
    /// not eat the run's allowance: the machine and its snapshots allocate
    /// at most twice the cap. A snapshot beyond that is skipped: random
    /// access gets slower, the memory stays bounded. `force` (the first
    /// snapshot) pays from `capLeft` instead, and fails as any allocation
    /// does.
    snapshot(force) {
      const tables = 8 * (this.preds.length + this.regs.length) + 32 * this.frames.length + 64;
      const budget = force ? this.capLeft : this.raiseLeft;
      let trim = 0;
      for (const v of this.regs) {
        if (isArray(v) && v.c !== A_REF && v.items.length > v.n) trim += v.n * ELEMENT_COST[v.c];
      }
      const held = newlyShared(this.regs, this.phaseValue);
      if (!(tables + trim + held <= budget) && !force) return null;
      if (force) {
        this.take(tables + trim + held);
      } else {
        this.raiseLeft -= tables + trim + held;
      }
      this.capLeft += held;
      this.raised += held;
      for (const v of this.regs) {
        if (!isArray(v)) continue;
        v.s = true;
        // Drop spare capacity: the snapshot keeps this array as it is now.
        if (v.c !== A_REF && v.items.length > v.n) v.items = v.items.slice(0, v.n);
      }
      if (this.phaseValue !== null) share(this.phaseValue);
      return {
        pos: this.c.pos,
        events: this.events,
        steps: this.steps,
        frames: this.frames.map((f) => ({ func: f.func, pc: f.pc, base: f.base, id: f.id })),
        regs: this.regs.slice(),
        preds: this.preds.slice(),
        phase: this.phase,
        phaseValue: this.phaseValue,
        pending: this.pending && Object.assign({}, this.pending),
        allocLeft: this.allocLeft,
        capLeft: this.capLeft,
        raised: this.raised,
      };
    }

    /// Puts the machine back in a state `snapshot` took. `later` (bytes)
    /// is what snapshots taken after it added to the allowance: a machine
    /// that decodes on from here may then copy what the first pass did.
    restore(s, later) {
      this.c.pos = s.pos;
      this.events = s.events;
      this.steps = s.steps;
      this.frames = s.frames.map((f) => ({ func: f.func, pc: f.pc, base: f.base, id: f.id }));
      this.regs = s.regs.slice();
      this.preds = s.preds.slice();
      this.phase = s.phase;
      this.phaseValue = s.phaseValue;
      this.pending = s.pending && Object.assign({}, s.pending);
      this.allocLeft = s.allocLeft;
      // What the snapshot granted for sharing with it covers the restored
      // state, which shares the same values again; a restored machine
      // takes no snapshot.
      this.capLeft = s.capLeft + (later || 0);
      this.raiseLeft = 0;
      this.raised = s.raised;
      this.appendCache = { s: null, bytes: 0 };
    }

    /// Decodes the next event; returns its kind, or -1 once the end record
    /// has been read (the caller checks the footer).
    next() {
      const p = this.pending;
      if (p !== null) {
        this.pending = null;
        if (p.enter) this.enter(p.f, p.args, p.n);
        else this.ret(p.a, p.pc);
        this.events++;
        return this.kind;
      }
      if (this.phase >= P_ENDED) return -1;
      const t = this.c.byte();
      if (t >= 0x80 || t <= 2) this.step(t);
      else if (t === 3) {
        if (this.phase !== P_START) throw this.bad('the run is entered twice');
        this.phase = P_RUNNING;
        this.enter(this.cm.entry, -1, 0);
      } else if (t === 4 || t === 5 || (t === 8 && this.openedPaths)) this.capability(t);
      else if (t === 6) this.trap();
      else if (t === 7) this.end();
      else throw err.badTag('event record', t, this.at(Math.max(this.c.pos - 1, 0)));
      this.events++;
      return this.kind;
    }

    enter(f, args, n) {
      const func = this.cm.funcs[f];
      const tooDeep = args >= 0 && this.frames.length >= this.lim.call_depth;
      if (tooDeep || func.regCount > this.lim.registers) throw this.bad('a frame beyond the recorded limits');
      const base = this.regs.length;
      if (base + func.regCount > MAX_LIVE_REGISTERS) throw this.bad('more live registers than the viewer holds');
      for (const v of func.init) this.regs.push(isArray(v) ? newArray(v.c, 0) : v);
      for (let j = 0; j < n; j++) this.regs[base + j] = share(this.regs[args + j]);
      this.frames.push({ func: f, pc: 0, base, id: this.events });
      this.kind = ENTER;
      this.func = f;
      this.pc = 0;
      if (this.wantDetail) {
        this.detail = { kind: ENTER, func: f, pc: 0, args: this.regs.slice(base, base + func.params) };
      }
    }

    ret(a, pc) {
      const top = this.frames.pop();
      const value = a >= 0 ? this.regs[top.base + a] : null;
      this.regs.length = top.base;
      const caller = this.frames[this.frames.length - 1];
      if (caller !== undefined) {
        const i = this.cm.funcs[caller.func].base + caller.pc;
        const dst = this.cm.ops[4 * i + 3];
        if (dst >= 0) this.regs[caller.base + dst] = value;
        caller.pc += 1;
      } else {
        this.phase = P_RETURNED;
        this.phaseValue = value;
      }
      this.kind = RETURN;
      this.func = top.func;
      this.pc = pc;
      if (this.wantDetail) {
        this.detail = { kind: RETURN, func: top.func, pc: this.pc, value: this.transient ? value : share(value) };
      }
    }

    /// Takes `cost` bytes from the recorded `alloc_bytes`; false (nothing
    /// taken) past it. The Rust reader charges what the VM charged: appended
    /// bytes and pushed elements, plus a copy of the contents whenever the
    /// string or array was shared (an Rc count above one). The viewer has
    /// no reference counts (strings are JavaScript strings, and an array's
    /// `s` flag only says that a second reference may exist), so it charges
    /// the first part only: never more than the Rust reader, so it never
    /// refuses what the Rust reader accepts, and refuses with the same
    /// message at the same event whenever copies did not make the
    /// difference. `chronicle audit` checks the whole of it.
    charge(cost) {
      if (cost > this.allocLeft) return false;
      this.allocLeft -= cost;
      return true;
    }

    /// Takes `cost` bytes from the reader's own allowance (`capLeft`), or
    /// stops decoding with `reader_alloc_cap` naming this event and the
    /// cap. Charged, in the figures of `alloc_cost`: the bytes an append
    /// adds, the element a push adds, and the contents of every array the
    /// machine copies (copy-on-write, whenever it may be shared: with the
    /// run's other registers, with snapshots, or with events handed out).
    /// Strings are never copied: JavaScript strings are immutable and an
    /// append makes a rope that shares the old one.
    take(cost) {
      if (cost > this.capLeft) throw err.allocCap(this.events, this.capBytes, this.at(Math.max(this.c.pos - 1, 0)));
      this.capLeft -= cost;
    }

    /// What copying array `a` costs if it is shared, else 0.
    copyCost(a) {
      return a.s ? a.n * ELEMENT_COST[a.c] : 0;
    }

    int(b, r) {
      const v = this.regs[b + r];
      return typeof v === 'bigint' ? v : -1n;
    }

    /// The array in register `r` of the frame at `b`, made unique first
    /// (with room for `extra` more elements).
    array(b, r, extra) {
      let v = this.regs[b + r];
      if (!isArray(v)) return null;
      if (v.s) {
        v = arrClone(v, extra);
        this.regs[b + r] = v;
      }
      return v;
    }

    step(t) {
      let capResult = null;
      let afterCap = false;
      if (this.phase === P_CAP_OK) {
        afterCap = true;
        capResult = this.phaseValue;
        this.phaseValue = null;
      } else if (this.phase !== P_RUNNING) {
        throw this.bad('a step outside a running frame');
      }
      this.phase = P_RUNNING;
      const top = this.frames[this.frames.length - 1];
      if (top === undefined) throw this.bad('a step with no frame');
      const fn = this.cm.funcs[top.func];
      const pc = top.pc;
      if (pc >= fn.n) throw this.bad('a step past the end of a function');
      const i = fn.base + pc;
      this.steps++;
      if (this.steps > this.lim.instructions) throw this.bad('more steps than the instruction limit allows');
      const code = this.cm.eff[i];
      const fits = code === E.SCALAR || code === E.LOOP
        ? t === 2 || t >= 0x80
        : code === E.BRANCH ? t === 0 || t === 1 : t === 0;
      if (!fits) throw this.bad('a step tag that does not fit the instruction');
      if (afterCap !== (code === E.CAP)) throw this.bad('a capability step without its call');
      const ops = this.cm.ops;
      const o0 = ops[4 * i], o1 = ops[4 * i + 1], o2 = ops[4 * i + 2];
      const b = top.base;
      let next = pc + 1;
      switch (code) {
        case E.SCALAR:
        case E.LOOP: {
          let r;
          if (t === 2) {
            const z = this.c.varintBig();
            if (z < 0x80n) throw this.bad('a wide residual that fits in the tag');
            r = (z >> 1n) ^ -(z & 1n);
          } else {
            r = SMALL[t & 0x7f];
          }
          const preds = this.preds;
          const last = preds[2 * i];
          const v = BigInt.asIntN(64, last + preds[2 * i + 1] + r);
          preds[2 * i + 1] = v - last; // the typed array wraps to 64 bits
          preds[2 * i] = v;
          const ty = fn.regTypes[o0];
          if (ty.k === 2 && (v === 0n || v === 1n)) this.regs[b + o0] = v === 1n;
          else if (ty.k === 1) this.regs[b + o0] = v;
          else throw this.bad('a scalar value of the wrong type');
          if (code === E.LOOP && this.int(b, o0) < this.int(b, o1)) next = o2;
          break;
        }
        case E.BRANCH:
          if (t === 1) next = o0;
          break;
        case E.FULL: {
          const v = this.c.value(0);
          if (!conforms(v, fn.regTypes[o0])) throw this.bad('a value of the wrong type');
          this.regs[b + o0] = v;
          break;
        }
        case E.APPEND: {
          const n = this.c.varint();
          const start = this.c.take(n);
          const text = decodeUtf8(this.stream, start, start + n);
          if (text === null) throw err.utf8('appended bytes', this.at(Math.max(this.c.pos - 1, 0)));
          const old = this.regs[b + o0];
          if (typeof old !== 'string') throw this.bad('an append to a register that holds no string');
          const limit = this.lim.string_bytes;
          const joined = old + text;
          if (joined.length * 3 > limit) {
            const cache = this.appendCache;
            const oldBytes = cache.s === old ? cache.bytes : utf8Length(old);
            if (oldBytes + n > limit) throw this.bad('a string beyond the recorded limit');
            cache.s = joined;
            cache.bytes = oldBytes + n;
          }
          if (!this.charge(n)) throw this.bad(ALLOC_BEYOND);
          this.take(n);
          this.regs[b + o0] = joined;
          break;
        }
        case E.STR:
          this.regs[b + o0] = this.cm.consts[o1];
          break;
        case E.COPY:
          this.regs[b + o0] = share(this.regs[b + o1]);
          break;
        case E.ELEM: {
          const idx = this.int(b, o2);
          const arr = this.regs[b + o1];
          if (!isArray(arr) || arr.c !== A_REF || idx < 0n || idx >= BigInt(arr.n)) {
            throw this.bad('an element read that failed');
          }
          this.regs[b + o0] = share(arr.items[Number(idx)]);
          break;
        }
        case E.PUSH: {
          const x = share(this.regs[b + o1]);
          const cur = this.regs[b + o0];
          if (!isArray(cur)) throw this.bad('a push that failed');
          // As in the Rust reader: the allocation is charged (the recorded
          // limit, then the reader's cap) before the length and the
          // element are checked.
          const grow = ELEMENT_COST[cur.c];
          if (!this.charge(grow)) throw this.bad(ALLOC_BEYOND);
          this.take(this.copyCost(cur) + grow);
          if (cur.n >= this.lim.array_len || !fitsClass(cur.c, x)) throw this.bad('a push that failed');
          arrPush(this.array(b, o0, 1), x);
          break;
        }
        case E.SET: {
          const idx = this.int(b, o1);
          const x = share(this.regs[b + o2]);
          const cur = this.regs[b + o0];
          if (!isArray(cur)) throw this.bad('an element write that failed');
          this.take(this.copyCost(cur));
          if (idx < 0n || idx >= BigInt(cur.n) || !fitsClass(cur.c, x)) {
            throw this.bad('an element write that failed');
          }
          arrSet(this.array(b, o0), Number(idx), x);
          break;
        }
        case E.POP: {
          const cur = this.regs[b + o1];
          if (!isArray(cur)) throw this.bad('a pop that failed');
          this.take(this.copyCost(cur));
          if (cur.n === 0) throw this.bad('a pop that failed');
          this.regs[b + o0] = share(arrPop(this.array(b, o1)));
          break;
        }
        case E.JUMP:
          next = o0;
          break;
        case E.CALL:
          this.pending = { enter: true, f: o0, args: b + o1, n: o2 };
          next = pc;
          break;
        case E.RET:
          this.pending = { enter: false, a: o0, pc };
          next = pc;
          break;
        case E.CAP:
          if (o1 >= 0) this.regs[b + o1] = capResult;
          break;
        default:
          break;
      }
      top.pc = next;
      this.kind = STEP;
      this.func = top.func;
      this.pc = pc;
      if (this.wantDetail) this.detail = { kind: STEP, func: top.func, pc, writes: this.writesOf(i, b) };
    }

    /// The registers step `i` (flat index) changed, with their new values.
    writesOf(i, b) {
      const ops = this.cm.ops;
      let regs;
      switch (this.cm.eff[i]) {
        case E.SCALAR: case E.LOOP: case E.FULL: case E.APPEND: case E.STR: case E.COPY: case E.ELEM:
          regs = [ops[4 * i]];
          break;
        case E.CAP:
          regs = ops[4 * i + 1] >= 0 ? [ops[4 * i + 1]] : [];
          break;
        case E.PUSH: case E.SET:
          regs = [ops[4 * i]];
          break;
        case E.POP:
          regs = [ops[4 * i], ops[4 * i + 1]];
          break;
        default:
          regs = [];
      }
      if (this.transient) return regs.map((r) => [r, this.regs[b + r]]);
      return regs.map((r) => [r, share(this.regs[b + r])]);
    }

    /// A CAP_OK (4), CAP_ERR (5) or CAP_OK_OPENED (8) record.
    capability(t) {
      const ok = t !== 5;
      if (this.phase !== P_RUNNING) throw this.bad('a capability call out of place');
      const top = this.frames[this.frames.length - 1];
      const i = top === undefined ? -1 : this.cm.funcs[top.func].base + top.pc;
      if (i < 0 || top.pc >= this.cm.funcs[top.func].n || this.cm.eff[i] !== E.CAP) {
        throw this.bad('a capability call where the code makes none');
      }
      const c = this.cm.ops[4 * i];
      const imp = this.c.index('import');
      if (imp !== c) throw this.bad('a capability call of another import');
      const sig = this.cm.imports[c];
      const n = this.c.varint();
      if (n !== sig.params.length) throw this.bad('a capability call with the wrong number of arguments');
      const args = [];
      for (const t of sig.params) {
        const v = this.c.value(0);
        if (!conforms(v, t)) throw this.bad('a capability argument of the wrong type');
        args.push(share(v));
      }
      const detail = { kind: CAPABILITY, func: top.func, pc: top.pc, import: imp, args };
      if (ok) {
        const v = this.c.value(0);
        if (!conforms(v, sig.ret)) throw this.bad('a capability result of the wrong type');
        this.phase = P_CAP_OK;
        this.phaseValue = v;
        detail.ok = share(v);
      } else {
        this.phase = P_CAP_ERR;
        detail.err = this.c.string('capability error');
      }
      if (t === 8) {
        const c = this.c;
        const n = c.bounded('opened path length', MAX_OPENED_PATH);
        const start = c.take(n);
        const path = decodeUtf8(c.b, start, start + n);
        if (path === null) throw err.utf8('opened path', c.at(c.pos));
        detail.opened = path;
      }
      this.kind = CAPABILITY;
      this.func = top.func;
      this.pc = top.pc;
      this.detail = detail; // kept even without wantDetail: the loader lists calls
    }

    trap() {
      if (this.phase > P_CAP_ERR) throw this.bad('a runtime error out of place');
      const code = this.c.byte();
      let kind;
      let limit = null;
      switch (code) {
        case 1: kind = 'integer overflow'; break;
        case 2: kind = 'division by zero'; break;
        case 3: kind = 'index out of range'; break;
        case 4: {
          const l = this.c.byte();
          const name = LIMIT_NAMES[l - 1];
          if (name === undefined) throw err.badTag('limit', l, this.at(Math.max(this.c.pos - 1, 0)));
          limit = { name, value: this.c.varintBig() };
          kind = `limit exceeded: ${name} (limit ${limit.value})`;
          break;
        }
        case 5: kind = `assertion failed: ${this.c.string('assertion message')}`; break;
        case 6: kind = 'invalid number'; break;
        case 7: kind = 'invalid argument'; break;
        case 8: kind = 'empty array'; break;
        case 9: {
          const name = this.c.string('capability name');
          kind = `capability error: ${name}: ${this.c.string('capability error')}`;
          break;
        }
        case 10: kind = `internal error: ${this.c.string('internal error')}`; break;
        default:
          throw err.badTag('runtime error kind', code, this.at(Math.max(this.c.pos - 1, 0)));
      }
      const func = this.c.index('function');
      const pc = this.c.index('pc');
      const top = this.frames[this.frames.length - 1];
      const here = top === undefined ? [this.cm.entry, 0] : [top.func, top.pc];
      if (func !== here[0] || pc !== here[1]) throw this.bad('a runtime error away from the current instruction');
      this.phase = P_TRAPPED;
      const line = lineOf(this.cm, func, pc);
      const name = this.cm.funcs[func].name;
      const message = `${kind}${line > 0 ? ` at line ${line}` : ''} (in \`${name}\`, pc ${pc})`;
      this.kind = TRAP;
      this.func = func;
      this.pc = pc;
      this.detail = { kind: TRAP, func, pc, line, name: kind.split(':')[0], what: kind, limit, message };
    }

    end() {
      const status = this.c.byte();
      let detail;
      if (status === 0 && this.phase === P_RETURNED) {
        const found = this.c.value(0);
        if (!valuesEqual(found, this.phaseValue)) throw this.bad('an end value that is not the returned value');
        detail = { kind: END, returned: found };
      } else if (status === 1 && this.phase === P_TRAPPED) {
        detail = { kind: END, failed: true };
      } else if (status <= 1) {
        throw this.bad('an end record out of place');
      } else {
        throw err.badTag('end status', status, this.at(Math.max(this.c.pos - 1, 0)));
      }
      this.phase = P_ENDED;
      this.kind = END;
      detail.func = this.func;
      detail.pc = this.pc;
      this.detail = detail;
    }
  }

  /// What the copy-on-write copies that a snapshot of `regs` and `extra`
  /// can cause cost: the contents of each array in them not yet shared.
  /// Only those: an array already shared is copied when mutated whether or
  /// not a snapshot holds it, and an array inside another one is always
  /// copied before it is mutated (an element read shares it).
  function newlyShared(regs, extra) {
    let cost = 0;
    for (const v of regs) if (isArray(v) && !v.s) cost += OBJECT_COST + v.n * ELEMENT_COST[v.c];
    if (isArray(extra) && !extra.s) cost += OBJECT_COST + extra.n * ELEMENT_COST[extra.c];
    return cost;
  }

  function fitsClass(c, x) {
    if (c === A_INT) return typeof x === 'bigint';
    if (c === A_BOOL) return typeof x === 'boolean';
    return typeof x === 'string' || isArray(x);
  }

  /// The source line of (func, pc), 0 if unknown.
  function lineOf(cm, func, pc) {
    const f = cm.funcs[func];
    return f !== undefined && pc < f.n ? cm.lines[f.base + pc] : 0;
  }

  // --------------------------------------------------------------- loading

  /// Phase A: walks the frames after the header, checks the hash chain and
  /// decompresses. Returns { stream, size, chunks: [{at, rawStart, rawLen,
  /// lz4}], footer, footerAt, after (offset after the footer), error }.
  /// `error` is the first framing or integrity error, if any; everything
  /// in `stream` up to `size` comes from chunks that verified. The stream
  /// holds at most `MAX_STREAM` bytes and at most `allocCap` (a BigInt, the
  /// reader's `alloc_bytes` cap: LZ4 chunks expand up to 255 times, so a
  /// small file could otherwise make the viewer build a large stream).
  function* readFrames(bytes, start, headerHash, allocCap, version) {
    const FOOTER_LEN = version >= SIGNATURE_SINCE ? FOOTER_LEN_V4 : FOOTER_BODY_LEN;
    const capped = allocCap !== undefined && allocCap < BigInt(MAX_STREAM);
    const most = capped ? Number(allocCap) : MAX_STREAM;
    // Grown by doubling as chunks arrive; LZ4 chunks expand 2-10 times.
    let stream = new Uint8Array(Math.min(Math.max(bytes.length * 3, 1 << 16), 1 << 28, Math.max(most, 1)));
    let size = 0;
    const chunks = [];
    let chain = headerHash;
    let pos = start;
    const out = { stream: null, size: 0, chunks, footer: null, footerAt: -1, after: -1, error: null };
    let lastYield = 0;
    try {
      while (true) {
        if (pos - lastYield > (1 << 20)) {
          lastYield = pos;
          yield { phase: 'verify', done: pos, total: bytes.length };
        }
        const at = pos;
        const k = chunks.length;
        if (pos >= bytes.length) throw err.truncated(pos);
        const kind = bytes[pos];
        if (kind === 0xff) {
          if (bytes.length - pos < FOOTER_LEN) throw err.truncated(pos + 1);
          const dv = new DataView(bytes.buffer, bytes.byteOffset + pos, FOOTER_LEN);
          out.footer = {
            chunks: dv.getBigUint64(1, true),
            events: dv.getBigUint64(9, true),
            steps: dv.getBigUint64(17, true),
            finalHash: bytes.subarray(pos + 25, pos + 57),
            signature: FOOTER_LEN === FOOTER_LEN_V4 ? signatureBlock(bytes, pos) : null,
          };
          out.footerAt = pos;
          out.after = pos + FOOTER_LEN;
          break;
        }
        if (kind !== 1 && kind !== 2) throw err.badTag('frame', kind, at);
        const c = new Cursor(bytes, pos + 1, bytes.length, (p) => p);
        const rawLen = c.varint();
        if (rawLen === 0 || rawLen > MAX_CHUNK) throw err.badChunk(k, 'raw length out of range', at);
        let storedLen = rawLen;
        if (kind === 2) {
          storedLen = c.varint();
          if (storedLen === 0 || storedLen >= rawLen) throw err.badChunk(k, 'compressed length out of range', at);
        }
        const payload = c.pos;
        if (bytes.length - payload < storedLen) throw err.truncated(payload);
        const linkAt = payload + storedLen;
        if (bytes.length - linkAt < 32) throw err.truncated(linkAt);
        // The previous link is the 32 bytes just before this frame (the
        // header hash for chunk 0), and it has been checked: hash in place.
        const link = blake3.hash(bytes.subarray(at - 32, linkAt));
        if (!blake3.equal(link, bytes.subarray(linkAt, linkAt + 32))) {
          throw new TraceError('hash_mismatch', 'hash chain mismatch', at, { chunk: k });
        }
        if (size + rawLen > stream.length) {
          if (size + rawLen > most && capped) {
            throw new TraceError('reader_stream_cap',
              `the event stream up to chunk ${k} needs ${size + rawLen} bytes, more than this reader's alloc_bytes cap of ${allocCap} bytes`,
              at, { chunk: k, cap: allocCap });
          }
          if (size + rawLen > MAX_STREAM) {
            throw new TraceError('too_large', `event stream size ${size + rawLen} exceeds the maximum ${MAX_STREAM}`, at);
          }
          const bigger = new Uint8Array(Math.min(Math.max(stream.length * 2, size + rawLen), most));
          bigger.set(stream.subarray(0, size));
          stream = bigger;
        }
        if (kind === 2) {
          try {
            lz4.decompressInto(bytes.subarray(payload, payload + storedLen), stream, size, rawLen);
          } catch (e) {
            if (!(e instanceof lz4.Lz4Error)) throw e;
            throw err.badChunk(k, 'the compressed payload does not decompress to its length', at);
          }
        } else {
          stream.set(bytes.subarray(payload, payload + rawLen), size);
        }
        chunks.push({ at, rawStart: size, rawLen, lz4: kind === 2 });
        size += rawLen;
        chain = link;
        pos = linkAt + 32;
      }
    } catch (e) {
      if (!(e instanceof TraceError)) throw e;
      out.error = e;
    }
    out.stream = stream;
    out.size = size;
    out.chain = chain;
    return out;
  }

  /// Loads a whole trace file (a Uint8Array). A generator: it yields
  /// `{ phase, done, total }` progress objects and returns a `TraceData`,
  /// a plain object (it can be posted from a worker):
  ///
  ///   { ok, error: null | { kind, category, message, offset, ... },
  ///     header, codeMap, headerHash, footer, verified (the whole file is
  ///     intact), stream, eventCount, steps, kinds, funcs, pcs, depths,
  ///     calls (capability events), traps, end, snapshots, snapshotAt,
  ///     snapEvery, raised, caps, chunkCount, lz4Chunks, fileSize, timings }
  ///
  /// `header` is null when the header itself cannot be trusted; otherwise
  /// the events before the first error are present (from verified chunks).
  ///
  /// `options.caps`: the viewer's caps (see `capsFrom`; default
  /// `DEFAULT_CAPS`), kept in the result as `caps`. `options.snapEvery`:
  /// events between snapshots (a snapshot the allowance cannot pay for is
  /// skipped, so `snapshots` holds their event indices in `snapshotAt`).
  function* loadTrace(bytes, options) {
    options = options || {};
    const caps = capsFrom(options.caps);
    const t0 = now();
    const data = {
      ok: false, error: null, header: null, codeMap: null, headerHash: null, formatVersion: null, footer: null,
      verified: false, fileSize: bytes.length, stream: new Uint8Array(0), eventCount: 0, steps: 0,
      kinds: new Uint8Array(0), funcs: new Uint16Array(0), pcs: new Uint16Array(0),
      depths: new Uint16Array(0), calls: [], traps: [], end: null, snapshots: [],
      snapEvery: 0, snapshotAt: [], raised: 0, chunkCount: 0, lz4Chunks: 0, timings: {}, caps,
    };
    const fail = (e) => {
      if (!(e instanceof TraceError)) throw e;
      data.error = {
        kind: e.kind, category: e.category, message: e.message, text: e.text, offset: e.offset,
        chunk: e.chunk, event: e.event, limit: e.limit, recorded: e.recorded, cap: e.cap,
      };
      return data;
    };
    let parsed;
    try {
      parsed = readHeader(bytes, caps);
    } catch (e) {
      return fail(e);
    }
    data.header = parsed.header;
    data.codeMap = parsed.codeMap;
    data.headerHash = parsed.headerHash;
    data.formatVersion = parsed.formatVersion;
    const headerHash = bytes.subarray(parsed.headerEnd - 32, parsed.headerEnd);
    const frames = yield* readFrames(bytes, parsed.headerEnd, headerHash, caps.alloc_bytes, parsed.formatVersion);
    data.timings.verify = now() - t0;
    data.chunkCount = frames.chunks.length;
    data.lz4Chunks = frames.chunks.filter((c) => c.lz4).length;
    data.stream = frames.stream.slice(0, frames.size);
    if (frames.footer) {
      data.footer = {
        chunks: frames.footer.chunks, events: frames.footer.events, steps: frames.footer.steps,
        finalHash: blake3.toHex(frames.footer.finalHash),
        signature: frames.footer.signature,
      };
    }
    // Phase B.
    const t1 = now();
    const chunks = frames.chunks;
    const firstChunkAt = parsed.headerEnd;
    const at = (pos) => {
      // The file offset of the chunk holding stream byte `pos`.
      let lo = 0, hi = chunks.length - 1;
      if (hi < 0) return firstChunkAt;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (chunks[mid].rawStart <= pos) lo = mid; else hi = mid - 1;
      }
      return chunks[lo].at;
    };
    const m = new Machine(parsed.codeMap, parsed.header.limits, data.stream, data.stream.length, at, caps.alloc_bytes);
    m.openedPaths = parsed.formatVersion >= OPENED_PATHS_SINCE;
    const expected = frames.footer ? Number(frames.footer.events) : 0;
    // The footer's count is not trusted yet: the arrays start at most at
    // what the stream and the recorded instruction limit allow (at most
    // three events per step: the step, an implied enter or return or a
    // capability call, and the end), and at most 4 Mi entries; they grow
    // with the events actually decoded.
    const most = Math.min(2 * data.stream.length + 2, 3 * m.lim.instructions + 3, 1 << 22);
    let cap = Math.max(16, Math.min(expected || 0, most));
    let kinds = new Uint8Array(cap), funcs = new Uint16Array(cap), pcs = new Uint16Array(cap), depths = new Uint16Array(cap);
    const snapEvery = options.snapEvery || Math.max(1024, Math.ceil((expected || 0) / 1000));
    data.snapEvery = snapEvery;
    const snapshots = data.snapshots;
    const finish = (e) => {
      data.raised = m.raised;
      data.eventCount = m.events;
      data.steps = m.steps;
      data.kinds = kinds.slice(0, m.events);
      data.funcs = funcs.slice(0, m.events);
      data.pcs = pcs.slice(0, m.events);
      data.depths = depths.slice(0, m.events);
      data.timings.decode = now() - t1;
      data.timings.total = now() - t0;
      if (e) return fail(e);
      data.ok = true;
      data.verified = true;
      return data;
    };
    let sliceEnd = 0;
    try {
      while (true) {
        const n = m.events;
        if (n % snapEvery === 0) {
          const snap = m.snapshot(n === 0);
          if (snap !== null) {
            snapshots.push(snap);
            data.snapshotAt.push(n);
          }
          if (n >= sliceEnd) {
            sliceEnd = n + 20000;
            yield { phase: 'decode', done: n, total: expected || n };
          }
        }
        const kind = m.next();
        if (kind < 0) break;
        if (n === cap) {
          cap *= 2;
          kinds = grow(kinds, cap); funcs = grow(funcs, cap); pcs = grow(pcs, cap); depths = grow(depths, cap);
        }
        kinds[n] = kind;
        funcs[n] = m.func;
        pcs[n] = m.pc;
        depths[n] = Math.min(m.frames.length, 65535);
        if (kind >= CAPABILITY) {
          const d = m.detail;
          d.event = n;
          if (kind === CAPABILITY) data.calls.push(d);
          else if (kind === TRAP) data.traps.push(d);
          else data.end = d;
        }
      }
    } catch (e) {
      if (e instanceof NeedMore) {
        // The verified bytes ran out before the end record: the reason is
        // whatever stopped phase A (a truncated file, a broken chain), or
        // the footer came too early.
        const why = frames.error === null
          ? err.badFooter('the event stream ends before its end record', frames.footerAt)
          : withEvent(frames.error, e.event);
        return finish(why);
      }
      return finish(e);
    }
    // After the end record: the stream must end with its chunk, the footer
    // must come next and agree with the stream, and nothing may follow it.
    const endPos = m.pos;
    const holder = chunks.find((c) => c.rawStart < endPos && endPos <= c.rawStart + c.rawLen);
    if (holder && endPos !== holder.rawStart + holder.rawLen) {
      return finish(err.badEvent(m.events, 'bytes after the end record', holder.at));
    }
    const nextChunk = chunks.find((c) => c.rawStart >= endPos);
    if (nextChunk) return finish(err.badFooter('a chunk follows the end record', nextChunk.at));
    if (frames.error) return finish(withEvent(frames.error, m.events - 1));
    const f = frames.footer;
    const fat = frames.footerAt;
    const mismatch = (what, recorded, actual) =>
      new TraceError('footer_mismatch', `footer says ${recorded} ${what} but the stream has ${actual}`, fat);
    if (f.chunks !== BigInt(chunks.length)) return finish(mismatch('chunks', f.chunks, chunks.length));
    if (f.events !== BigInt(m.events)) return finish(mismatch('events', f.events, m.events));
    if (f.steps !== BigInt(m.steps)) return finish(mismatch('steps', f.steps, m.steps));
    if (!blake3.equal(f.finalHash, frames.chain)) {
      return finish(new TraceError('final_hash_mismatch', "the footer's final hash does not match the hash chain", fat));
    }
    if (frames.after !== bytes.length) {
      return finish(new TraceError('trailing_bytes', 'trailing bytes after the footer', frames.after));
    }
    return finish(null);
  }

  /// The signature block of the version 4 footer at `pos`: null when
  /// unsigned, else { key, signature (hex), fingerprint (`ed25519:` and the
  /// first 16 bytes of BLAKE3 of the key, as `chronicle audit` names it) }.
  /// The viewer does not verify ed25519: `chronicle audit --trusted-key`
  /// does. A kind other than 0 or 1, or an unsigned block that is not all
  /// zero, is a malformed footer (as the Rust reader says).
  function signatureBlock(bytes, pos) {
    const at = pos + FOOTER_BODY_LEN;
    const kind = bytes[at];
    const rest = bytes.subarray(at + 1, pos + FOOTER_LEN_V4);
    if (kind === 0 && rest.every((b) => b === 0)) return null;
    if (kind !== 1) throw err.badFooter('malformed signature block', pos);
    const key = rest.subarray(0, 32);
    return {
      key: blake3.toHex(key),
      signature: blake3.toHex(rest.subarray(32, 96)),
      fingerprint: `ed25519:${blake3.toHex(blake3.hash(key).subarray(0, 16))}`,
    };
  }

  /// A phase-A error as the Rust reader reports it when it meets it while
  /// decoding event `event`: a chain mismatch names the event.
  function withEvent(e, event) {
    if (e.kind !== 'hash_mismatch') return e;
    return new TraceError('hash_mismatch',
      `hash chain mismatch at chunk ${e.chunk} (events from #${event}): the trace was altered, reordered or corrupted`,
      e.offset, { chunk: e.chunk, event });
  }

  function grow(a, n) {
    const b = new a.constructor(n);
    b.set(a);
    return b;
  }

  function now() {
    return typeof performance !== 'undefined' ? performance.now() : Date.now();
  }

  /// Runs `loadTrace` to completion (Node, tests, workers).
  function loadTraceSync(bytes, options) {
    const it = loadTrace(bytes, options);
    let r = it.next();
    while (!r.done) r = it.next();
    return r.value;
  }

  return {
    loadTrace, loadTraceSync, readHeader, Machine, TraceError, lineOf,
    formatValue, quote, typeName, valuesEqual, conforms, share, arrValues,
    KIND_NAMES, ENTER, STEP, RETURN, CAPABILITY, TRAP, END, EFFECTS: E,
    FORMAT_VERSION, OLDEST_FORMAT_VERSION, OPENED_PATHS_SINCE, SIGNATURE_SINCE, MAX_OPENED_PATH, LIMIT_NAMES, ALLOC_BEYOND,
    DEFAULT_CAPS, UNBOUNDED_CAPS, capsFrom,
  };
});
