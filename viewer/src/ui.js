// UI building blocks of the viewer: DOM helpers, a virtualised list that
// scrolls through millions of rows, the timeline canvas, and a small
// highlighter for `.chr` source. Trace content is untrusted: it only ever
// reaches the page as text (textContent), never as HTML.
//
// A classic script: it defines `Chronicle.ui`.
(function (root) {
  'use strict';

  /// Creates an element: el('div', { class: 'x', title: 't' }, child, 'text', ...).
  function el(tag, attrs) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : v);
      }
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // ------------------------------------------------------------ virtual list

  /// Browsers cap element heights (about 33 million px in Chromium); past
  /// this many pixels the list maps its scroll position proportionally.
  const MAX_SCROLL_PX = 8000000;

  /// A list of `count` fixed-height rows of which only the visible ones exist.
  /// `rows(first, last)` returns descriptors for rows first..last (inclusive):
  /// { cls, cells: [{ cls, text }], title }. `onPick(row)` on click.
  class VirtualList {
    constructor(container, options) {
      this.box = container;
      this.rowHeight = options.rowHeight || 22;
      this.rowsFn = options.rows;
      this.onPick = options.onPick;
      this.emptyText = options.emptyText || 'Nothing to show.';
      this.count = 0;
      this.spacer = el('div', { class: 'spacer-y' });
      this.layer = el('div', { class: 'rows' });
      this.empty = el('div', { class: 'empty-note' });
      clear(container).append(this.spacer, this.layer, this.empty);
      this.pending = false;
      container.addEventListener('scroll', () => this.schedule(), { passive: true });
      this.layer.addEventListener('click', (e) => {
        const row = e.target.closest('.row');
        if (row && this.onPick) this.onPick(Number(row.dataset.row));
      });
      if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.schedule()).observe(container);
    }

    setCount(n, emptyText) {
      this.count = n;
      if (emptyText) this.emptyText = emptyText;
      this.spacer.style.height = `${Math.min(n * this.rowHeight, MAX_SCROLL_PX)}px`;
      this.empty.textContent = n === 0 ? this.emptyText : '';
      this.empty.hidden = n !== 0;
      this.render();
    }

    get scaled() {
      return this.count * this.rowHeight > MAX_SCROLL_PX;
    }

    /// Rows drawn: those that fit, plus one partly shown.
    visibleRows() {
      return Math.max(1, Math.ceil(this.box.clientHeight / this.rowHeight));
    }

    /// Rows wholly shown.
    fullRows() {
      return Math.max(1, Math.floor(this.box.clientHeight / this.rowHeight));
    }

    /// The first row shown at the current scroll position.
    firstRow() {
      const top = this.box.scrollTop;
      if (!this.scaled) return Math.floor(top / this.rowHeight);
      const room = MAX_SCROLL_PX - this.box.clientHeight;
      const frac = room > 0 ? Math.min(1, top / room) : 0;
      return Math.round(frac * Math.max(0, this.count - this.fullRows()));
    }

    schedule() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.render();
      });
    }

    render() {
      const n = this.count;
      const first = Math.max(0, Math.min(this.firstRow(), n - 1));
      const last = Math.min(n - 1, first + this.visibleRows());
      const top = this.scaled ? this.box.scrollTop : first * this.rowHeight;
      this.layer.style.transform = `translateY(${top}px)`;
      const descs = n > 0 ? this.rowsFn(first, last) : [];
      const kids = this.layer.children;
      while (kids.length > descs.length) this.layer.lastChild.remove();
      while (kids.length < descs.length) this.layer.append(el('div', { class: 'row' }));
      descs.forEach((d, k) => {
        const row = kids[k];
        row.className = `row ${d.cls || ''}`;
        row.dataset.row = String(first + k);
        if (d.title) row.title = d.title; else row.removeAttribute('title');
        while (row.children.length > d.cells.length) row.lastChild.remove();
        while (row.children.length < d.cells.length) row.append(el('span'));
        d.cells.forEach((c, j) => {
          const cell = row.children[j];
          cell.className = c.cls || '';
          if (cell.textContent !== c.text) cell.textContent = c.text;
        });
      });
    }

    /// Scrolls so that `row` is visible (centred if it was off screen).
    reveal(row) {
      if (row < 0 || row >= this.count) return;
      const h = this.box.clientHeight;
      if (!this.scaled) {
        const y = row * this.rowHeight;
        if (y < this.box.scrollTop || y + this.rowHeight > this.box.scrollTop + h) {
          this.box.scrollTop = Math.max(0, y - h / 2 + this.rowHeight / 2);
        }
      } else {
        const first = this.firstRow();
        if (row < first || row >= first + this.fullRows()) {
          const span = Math.max(1, this.count - this.fullRows());
          const target = Math.min(span, Math.max(0, row - Math.floor(this.fullRows() / 2)));
          this.box.scrollTop = (target / span) * (MAX_SCROLL_PX - h);
        }
      }
      this.render();
    }
  }

  // ----------------------------------------------------------------- timeline

  const COLORS = {
    depth: '#c9d6f2',
    depthEdge: '#8fa8e0',
    cap: '#2f5bd3',
    err: '#c0292b',
    end: '#127a43',
    sel: '#1d2330',
    pin: '#e07b00',
    axis: '#8b95a5',
    grid: '#eef0f4',
  };

  /// The timeline: call depth over the events, capability calls and errors
  /// marked, the selected and pinned events; zoom and pan.
  class Timeline {
    constructor(canvas, tip, view, options) {
      this.canvas = canvas;
      this.tip = tip;
      this.view = view;
      this.onSelect = options.onSelect;
      this.onRange = options.onRange;
      this.n = view.count;
      this.start = 0;
      this.end = Math.max(1, this.n);
      this.selected = 0;
      this.pinned = null;
      this.cols = null;
      this.colsKey = '';
      const d = view.data;
      this.capEvents = d.calls.filter((c) => 'ok' in c).map((c) => c.event);
      this.errEvents = d.calls.filter((c) => 'err' in c).map((c) => c.event)
        .concat(d.traps.map((t) => t.event)).sort((a, b) => a - b);
      this.endEvent = d.end ? d.end.event : -1;
      let maxDepth = 1;
      for (let i = 0; i < d.depths.length; i++) if (d.depths[i] > maxDepth) maxDepth = d.depths[i];
      this.maxDepth = maxDepth;
      this.bind();
      if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.draw()).observe(canvas);
    }

    bind() {
      const c = this.canvas;
      let dragging = false;
      const at = (e) => {
        const r = c.getBoundingClientRect();
        const x = Math.min(Math.max(e.clientX - r.left, 0), r.width - 1);
        return Math.min(this.n - 1, Math.max(0, Math.floor(this.start + (x / r.width) * (this.end - this.start))));
      };
      c.addEventListener('pointerdown', (e) => {
        if (this.n === 0) return;
        dragging = true;
        c.setPointerCapture(e.pointerId);
        this.onSelect(at(e));
      });
      c.addEventListener('pointermove', (e) => {
        if (this.n === 0) return;
        const i = at(e);
        if (dragging) this.onSelect(i);
        const r = c.getBoundingClientRect();
        this.tip.hidden = false;
        this.tip.style.left = `${Math.min(Math.max(e.clientX - r.left + 10, 60), r.width - 40)}px`;
        const v = this.view;
        const line = v.line(i);
        this.tip.textContent = `#${i} ${v.kindName(i)} · ${v.funcName(v.func(i))}${line ? ` line ${line}` : ''}`;
      });
      c.addEventListener('pointerup', () => { dragging = false; });
      c.addEventListener('pointerleave', () => { this.tip.hidden = true; });
      c.addEventListener('wheel', (e) => {
        if (this.n === 0) return;
        e.preventDefault();
        const r = c.getBoundingClientRect();
        const frac = (e.clientX - r.left) / r.width;
        const span = this.end - this.start;
        if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
          const delta = (e.shiftKey ? e.deltaY : e.deltaX) || e.deltaY;
          this.setRange(this.start + (delta / r.width) * span * 2, this.end + (delta / r.width) * span * 2);
        } else {
          const factor = e.deltaY < 0 ? 1 / 1.3 : 1.3;
          const pivot = this.start + frac * span;
          this.setRange(pivot - (pivot - this.start) * factor, pivot + (this.end - pivot) * factor);
        }
      }, { passive: false });
    }

    /// Shows events [start, end), kept within the run and at least 20 wide.
    setRange(start, end) {
      const n = Math.max(1, this.n);
      let span = Math.min(n, Math.max(Math.min(20, n), end - start));
      start = Math.max(0, Math.min(start, n - span));
      this.start = start;
      this.end = start + span;
      this.draw();
      if (this.onRange) this.onRange(Math.floor(this.start), Math.ceil(this.end));
    }

    zoom(factor) {
      const mid = this.selected >= this.start && this.selected < this.end ? this.selected + 0.5 : (this.start + this.end) / 2;
      const span = (this.end - this.start) * factor;
      this.setRange(mid - span / 2, mid + span / 2);
    }

    fit() {
      this.setRange(0, Math.max(1, this.n));
    }

    setSelection(i) {
      this.selected = i;
      if (i < this.start || i >= this.end) {
        const span = this.end - this.start;
        this.setRange(i - span / 2, i + span / 2);
      } else {
        this.draw();
      }
    }

    setPin(i) {
      this.pinned = i;
      this.draw();
    }

    /// Max depth per pixel column for the visible range (cached).
    columns(w) {
      const key = `${this.start}:${this.end}:${w}`;
      if (key === this.colsKey) return this.cols;
      const depths = this.view.data.depths;
      const cols = new Uint16Array(w);
      const span = this.end - this.start;
      for (let x = 0; x < w; x++) {
        const a = Math.floor(this.start + (x / w) * span);
        const b = Math.max(a + 1, Math.floor(this.start + ((x + 1) / w) * span));
        let m = 0;
        for (let i = a; i < b && i < depths.length; i++) if (depths[i] > m) m = depths[i];
        cols[x] = m;
      }
      this.cols = cols;
      this.colsKey = key;
      return cols;
    }

    draw() {
      const c = this.canvas;
      const dpr = window.devicePixelRatio || 1;
      const cssW = c.clientWidth;
      const cssH = c.clientHeight;
      if (cssW === 0) return;
      if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
        c.width = Math.round(cssW * dpr);
        c.height = Math.round(cssH * dpr);
      }
      const g = c.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, cssW, cssH);
      const marks = 16; // the marker lane at the top
      const axis = 14; // the axis at the bottom
      const plotTop = marks + 2;
      const plotH = cssH - plotTop - axis;
      const span = this.end - this.start;
      const xOf = (i) => ((i - this.start) / span) * cssW;
      // Grid and depth area.
      g.fillStyle = COLORS.grid;
      g.fillRect(0, plotTop, cssW, plotH);
      if (this.n > 0) {
        const w = Math.max(1, Math.floor(cssW));
        const cols = this.columns(w);
        g.fillStyle = COLORS.depth;
        g.beginPath();
        g.moveTo(0, plotTop + plotH);
        for (let x = 0; x < w; x++) {
          const h = (cols[x] / this.maxDepth) * (plotH - 4);
          g.lineTo(x, plotTop + plotH - h);
          g.lineTo(x + 1, plotTop + plotH - h);
        }
        g.lineTo(w, plotTop + plotH);
        g.closePath();
        g.fill();
      }
      // Markers.
      const tick = (events, color, h, wide) => {
        g.fillStyle = color;
        let lastX = -10;
        for (const e of events) {
          if (e < this.start || e >= this.end) continue;
          const x = Math.floor(xOf(e + 0.5));
          if (x === lastX) continue;
          lastX = x;
          g.fillRect(x - (wide ? 1 : 0), 2, wide ? 3 : 2, h);
        }
      };
      tick(this.capEvents, COLORS.cap, marks - 4, false);
      tick(this.errEvents, COLORS.err, marks + plotH, true);
      if (this.endEvent >= 0) tick([this.endEvent], COLORS.end, marks - 4, true);
      // Pinned and selected.
      const cursor = (i, color, dash) => {
        if (i === null || i < this.start || i >= this.end) return;
        const x = Math.round(xOf(i + 0.5)) + 0.5;
        g.strokeStyle = color;
        g.lineWidth = 2;
        g.setLineDash(dash ? [4, 3] : []);
        g.beginPath();
        g.moveTo(x, 0);
        g.lineTo(x, plotTop + plotH);
        g.stroke();
        g.setLineDash([]);
        g.fillStyle = color;
        g.beginPath();
        g.moveTo(x - 5, 0);
        g.lineTo(x + 5, 0);
        g.lineTo(x, 6);
        g.fill();
      };
      if (this.n > 0) {
        cursor(this.pinned, COLORS.pin, true);
        cursor(this.selected, COLORS.sel, false);
      } else {
        g.fillStyle = COLORS.axis;
        g.font = '12px system-ui, sans-serif';
        g.textAlign = 'center';
        g.textBaseline = 'middle';
        g.fillText('no verified event', cssW / 2, plotTop + plotH / 2);
      }
      // Axis.
      g.fillStyle = COLORS.axis;
      g.font = '10px ui-monospace, monospace';
      g.textBaseline = 'bottom';
      const lo = Math.floor(this.start);
      const hi = Math.ceil(this.end) - 1;
      g.textAlign = 'left';
      g.fillText(`#${lo}`, 2, cssH);
      g.textAlign = 'right';
      g.fillText(`#${Math.max(lo, hi)}`, cssW - 2, cssH);
      const step = niceStep(span / 6);
      g.textAlign = 'center';
      for (let t = Math.ceil(this.start / step) * step; t < this.end; t += step) {
        const x = xOf(t);
        if (x < 50 || x > cssW - 50) continue;
        g.fillRect(Math.round(x), plotTop + plotH, 1, 3);
        g.fillText(`${t}`, x, cssH);
      }
    }
  }

  function niceStep(x) {
    const p = 10 ** Math.floor(Math.log10(Math.max(1, x)));
    const m = x / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  // --------------------------------------------------------------- .chr text

  const KEYWORDS = new Set(['fn', 'let', 'if', 'else', 'while', 'for', 'in', 'return', 'break', 'continue', 'use', 'true', 'false']);
  const TYPES = new Set(['int', 'bool', 'str']);

  /// The tokens of one line of `.chr` source, as [class, text] pairs.
  function highlightChr(line) {
    const out = [];
    let i = 0;
    const push = (cls, text) => out.push([cls, text]);
    while (i < line.length) {
      const ch = line[i];
      if (ch === '/' && line[i + 1] === '/') { push('tok-com', line.slice(i)); break; }
      if (ch === '"') {
        let j = i + 1;
        while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
        push('tok-str', line.slice(i, j + 1));
        i = j + 1;
        continue;
      }
      if (/[0-9]/.test(ch)) {
        let j = i;
        while (j < line.length && /[0-9_]/.test(line[j])) j++;
        push('tok-num', line.slice(i, j));
        i = j;
        continue;
      }
      if (/[A-Za-z_]/.test(ch)) {
        let j = i;
        while (j < line.length && /[A-Za-z0-9_.@]/.test(line[j])) j++;
        const word = line.slice(i, j);
        push(KEYWORDS.has(word) ? 'tok-kw' : TYPES.has(word) ? 'tok-ty' : word.includes('.') ? 'tok-cap' : '', word);
        i = j;
        continue;
      }
      let j = i + 1;
      while (j < line.length && !/[A-Za-z0-9_"/]/.test(line[j])) j++;
      push('', line.slice(i, j));
      i = j;
    }
    return out;
  }

  (root.Chronicle = root.Chronicle || {}).ui = { el, clear, VirtualList, Timeline, highlightChr };
})(typeof self !== 'undefined' ? self : globalThis);
