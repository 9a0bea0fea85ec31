// Random access over a loaded trace: the event at any index, fully
// described; the registers and the call stack after any event; the
// differences between two states; event text for lists and filters.
//
// A `TraceView` wraps the plain `TraceData` that `loadTrace` returns (in a
// worker or on the main thread). Per-event kind, function, pc and depth are
// in typed arrays; anything with values is decoded again on demand from the
// nearest snapshot, usually at most `snapEvery` events away, so a jump
// anywhere in a million-event trace costs well under a millisecond. A cursor
// machine is kept between calls, so stepping forward costs one event.
//
// Memory: every machine the model decodes with is restored from a snapshot
// and charges what it copies to the trace's `alloc_bytes` cap (see
// `Machine.take` in trace.js). Values handed out by `event`, `events` and
// `state` are shared with the cursor, so that later steps copy what they
// mutate; when that would pass the cap, the model starts again from the
// snapshot with a fresh allowance (what it handed out earlier is the
// caller's), and reports the cap error only if even that fails.
// `forEachEvent` hands out values valid during the callback only, and
// copies nothing for them.
//
// A classic script: in a browser it defines `Chronicle.model`; under Node
// it is a CommonJS module.
(function (root, factory) {
  'use strict';
  const node = typeof module === 'object' && module.exports;
  const deps = node ? { trace: require('./trace.js') } : root.Chronicle;
  const api = factory(deps.trace);
  if (node) module.exports = api;
  else (root.Chronicle = root.Chronicle || {}).model = api;
})(typeof self !== 'undefined' ? self : globalThis, function (T) {
  'use strict';

  const { Machine, formatValue, share, lineOf, KIND_NAMES } = T;

  /// Characters of a value shown in lists before it is cut with `…`.
  const LIST_BUDGET = 160;

  class TraceView {
    constructor(data) {
      this.data = data;
      this.cm = data.codeMap;
      this.count = data.eventCount;
      this.cursor = null; // a machine positioned after event `cursorAt`
      this.cursorAt = -2;
    }

    kind(i) { return this.data.kinds[i]; }
    kindName(i) { return KIND_NAMES[this.data.kinds[i]]; }
    func(i) { return this.data.funcs[i]; }
    pc(i) { return this.data.pcs[i]; }
    depth(i) { return this.data.depths[i]; }
    funcName(f) { const fn = this.cm.funcs[f]; return fn ? fn.name : `f${f}`; }

    /// The source line of event `i` (the instruction it is about), 0 if unknown.
    line(i) {
      return lineOf(this.cm, this.data.funcs[i], this.data.pcs[i]);
    }

    /// The index of the last snapshot taken at or before event `e`.
    snapshotBefore(e) {
      const at = this.data.snapshotAt;
      let lo = 0, hi = at.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (at[mid] <= e) lo = mid; else hi = mid - 1;
      }
      return lo;
    }

    /// A fresh machine after snapshot `s`, as the cursor.
    restoreCursor(s) {
      const d = this.data;
      const m = new Machine(this.cm, d.header.limits, d.stream, d.stream.length, () => 0, d.caps.alloc_bytes);
      m.openedPaths = d.formatVersion >= T.OPENED_PATHS_SINCE;
      const snap = d.snapshots[s];
      m.restore(snap, d.raised - snap.raised);
      this.cursorAt = d.snapshotAt[s] - 1;
      this.cursor = m;
      return m;
    }

    /// A machine positioned after event `i` (-1: before the first event).
    /// With `fresh`, it starts from the snapshot even if the cursor is near.
    machineAfter(i, fresh) {
      const s = this.snapshotBefore(i + 1);
      let m = this.cursor;
      if (fresh || m === null || i < this.cursorAt || this.cursorAt < this.data.snapshotAt[s] - 1) {
        m = this.restoreCursor(s);
      }
      m.wantDetail = false;
      m.transient = false;
      while (this.cursorAt < i) {
        m.next();
        this.cursorAt++;
      }
      return m;
    }

    /// Runs `decode(fresh)` and, if it stops at the cap, once more from
    /// the snapshot with a fresh allowance (the cursor's allowance went to
    /// copies of values handed out before). A second failure is thrown:
    /// a `TraceError` of kind `reader_alloc_cap`.
    retry(decode) {
      try {
        return decode(false);
      } catch (e) {
        if (!(e instanceof T.TraceError) || e.kind !== 'reader_alloc_cap') throw e;
        this.cursor = null;
        try {
          return decode(true);
        } catch (again) {
          this.cursor = null;
          throw again;
        }
      }
    }

    /// Event `i`, fully described: { kind, func, pc, ... values }.
    event(i) {
      if (i < 0 || i >= this.count) return null;
      return this.retry((fresh) => {
        // A machine exactly after i - 1, then one event with detail.
        const m = this.machineAfter(i - 1, fresh);
        m.wantDetail = true;
        this.cursorAt = -2; // unknown until the event is decoded
        m.next();
        this.cursorAt = i;
        const ev = Object.assign({ index: i }, m.detail);
        ev.line = lineOf(this.cm, ev.func, ev.pc);
        m.wantDetail = false;
        return ev;
      });
    }

    /// Events `from .. to` (exclusive), fully described, in one pass.
    events(from, to) {
      const out = [];
      this.forEach(from, to, false, (ev) => out.push(ev));
      return out;
    }

    /// Calls `fn(ev)` for events `from .. to` (exclusive), fully described,
    /// in one pass. The values in `ev` are valid during the call only: a
    /// later event may mutate them (nothing is copied to keep them).
    forEachEvent(from, to, fn) {
      this.forEach(from, to, true, fn);
    }

    forEach(from, to, transient, fn) {
      to = Math.min(to, this.count);
      if (from >= to) return;
      let done = from;
      // Events already given to `fn` are not given again on a retry.
      this.retry((fresh) => {
        const m = this.machineAfter(done - 1, fresh);
        m.wantDetail = true;
        m.transient = transient;
        try {
          for (let i = done; i < to; i++) {
            this.cursorAt = -2;
            m.next();
            this.cursorAt = i;
            const ev = Object.assign({ index: i }, m.detail);
            ev.line = lineOf(this.cm, ev.func, ev.pc);
            done = i + 1;
            fn(ev);
          }
        } finally {
          m.wantDetail = false;
          m.transient = false;
        }
      });
    }

    /// The state after event `i`: the call stack, top last, each frame with
    /// its function, pc, line and register values (values are shared, never
    /// mutated afterwards).
    state(i) {
      const m = this.retry((fresh) => this.machineAfter(i, fresh));
      const frames = m.frames.map((f, depth) => {
        const fn = this.cm.funcs[f.func];
        const regs = [];
        for (let r = 0; r < fn.regCount; r++) regs.push(share(m.regs[f.base + r]));
        return { id: f.id, depth, func: f.func, name: fn.name, pc: f.pc, line: lineOf(this.cm, f.func, f.pc), regs };
      });
      return { event: i, frames };
    }

    /// The frame that event `i` is about: the top frame after it, or for a
    /// return the caller it returned to (or the returning frame at the end).
    focusFrame(state) {
      return state.frames.length ? state.frames[state.frames.length - 1] : null;
    }

    // ------------------------------------------------------------ text

    /// An import's display name, `fs.read@1.0`.
    importName(c) {
      const imp = this.cm.imports[c];
      return imp ? `${imp.name}@${imp.major}.${imp.minor}` : `c${c}`;
    }

    /// One line for event `ev` (from `event`), with names, values cut.
    describe(ev, budget) {
      budget = budget || LIST_BUDGET;
      const v = (x) => (x === null ? '()' : formatValue(x, budget));
      const list = (xs) => xs.map((x) => formatValue(x, budget)).join(', ');
      switch (ev.kind) {
        case T.ENTER: return `enter ${this.funcName(ev.func)}(${list(ev.args)})`;
        case T.STEP: {
          const w = ev.writes.map(([r, x]) => `r${r} = ${v(x)}`).join(', ');
          return `pc ${ev.pc}${w ? `  ${w}` : ''}`;
        }
        case T.RETURN: return `return from ${this.funcName(ev.func)} -> ${v(ev.value)}`;
        case T.CAPABILITY: {
          const call = `${this.importName(ev.import)}(${list(ev.args)})`;
          const opened = 'opened' in ev ? ` (opened ${formatValue(ev.opened, budget)})` : '';
          return 'ok' in ev ? `${call} -> ${v(ev.ok)}${opened}` : `${call} failed: ${ev.err}`;
        }
        case T.TRAP: return `runtime error: ${ev.message}`;
        default: return 'returned' in ev ? `end: returned ${v(ev.returned)}` : 'end: failed';
      }
    }

    /// Event text exactly as the Rust `Event` Display writes it (indices,
    /// full values): `step f1 pc 3 (line 5) r2 = 7`.
    rustText(ev) {
      const list = (xs) => xs.map((x) => formatValue(x)).join(', ');
      switch (ev.kind) {
        case T.ENTER: return `enter f${ev.func}(${list(ev.args)})`;
        case T.STEP: {
          let s = `step f${ev.func} pc ${ev.pc} (line ${ev.line})`;
          ev.writes.forEach(([r, x], i) => {
            s += `${i === 0 ? '' : ','} r${r} = ${x === null ? '()' : formatValue(x)}`;
          });
          return s;
        }
        case T.RETURN: return `return f${ev.func} -> ${formatValue(ev.value)}`;
        case T.CAPABILITY: {
          const opened = 'opened' in ev ? ` (opened ${formatValue(ev.opened)})` : '';
          return `capability c${ev.import}(${list(ev.args)})${'ok' in ev ? ` -> ${formatValue(ev.ok)}` : ` failed: ${ev.err}`}${opened}`;
        }
        case T.TRAP: return `trap: ${ev.message}`;
        default: return 'returned' in ev ? `end: returned ${formatValue(ev.returned)}` : 'end: failed';
      }
    }

    /// The run's outcome in words: `returned 130`, or the runtime error.
    outcome() {
      const d = this.data;
      if (d.end === null) return d.ok ? '' : 'unknown (the trace did not decode to its end)';
      if ('returned' in d.end) return `returned ${d.end.returned === null ? '()' : formatValue(d.end.returned, 400)}`;
      const trap = d.traps[d.traps.length - 1];
      return trap ? `failed: ${trap.message}` : 'failed';
    }
  }

  /// Register rows of `frame` against `other` (a frame or null): per
  /// register, its type, value text and whether it differs.
  function registerRows(cm, frame, other, budget) {
    const fn = cm.funcs[frame.func];
    const comparable = other !== null && other.func === frame.func;
    return frame.regs.map((value, r) => {
      const text = formatValue(value, budget || 400);
      const before = comparable ? other.regs[r] : undefined;
      const beforeText = comparable ? formatValue(before, budget || 400) : null;
      const long = text.endsWith('…') || text.endsWith('…"') || text.endsWith('…]');
      return {
        reg: r,
        type: T.typeName(fn.regTypes[r]),
        param: r < fn.params,
        text,
        full: long ? formatValue(value, 4000) : null,
        beforeText,
        changed: comparable && !T.valuesEqual(value, before),
      };
    });
  }

  return { TraceView, registerRows };
});
