// The viewer application: loading (file input, drag and drop, ?trace=URL),
// decoding (in a worker, or on the main thread in slices when workers are
// unavailable, as on file:// pages in Chromium), and the panels: integrity
// banner, provenance, timeline, source, registers, capability calls and
// the filterable event list, all following one selected event.
//
// Caps: every trace is read under the viewer's caps (trace.js, the CLI's
// run defaults unless the URL says otherwise: `?unbounded=1`, or a limit
// name with a number, e.g. `?instructions=50000000&alloc_bytes=1073741824`).
// A trace refused for a cap says so in the banner, with buttons that read
// it again with that cap raised, for a trace the user trusts.
(function (root) {
  'use strict';

  const { trace: T, model: M, ui: U } = root.Chronicle;
  const { el, clear } = U;
  const $ = (id) => document.getElementById(id);

  /// Everything about the trace on screen.
  const app = {
    view: null,
    name: '',
    selected: 0,
    pinned: null,
    diff: 'prev',
    timeline: null,
    events: null, // VirtualList
    calls: null, // VirtualList
    rows: null, // filtered event indices (Uint32Array), or null for all
    kinds: new Set([0, 1, 2, 3, 4, 5]),
    filterText: '',
    searchToken: 0,
    loadToken: 0,
    decoder: '',
    errorEvents: [],
    callEvents: [],
    lineCache: null,
    sourceRows: null,
    caps: T.DEFAULT_CAPS, // the caps of the page (from the URL)
    readCaps: T.DEFAULT_CAPS, // the caps the trace on screen was read under
    bytes: null, // the file on screen, to read it again with other caps
  };

  /// The caps the URL asks for: `unbounded=1` lifts them all; a limit's
  /// name with a whole number sets its cap. Throws a RangeError on a bad one.
  function capsFromUrl(params) {
    const given = {};
    for (const name of T.LIMIT_NAMES) if (params.has(name)) given[name] = params.get(name);
    const unbounded = params.get('unbounded');
    if (unbounded !== null && unbounded !== '0' && unbounded !== 'false') {
      if (Object.keys(given).length) throw new RangeError('unbounded lifts every cap: give it alone, without a limit');
      return T.UNBOUNDED_CAPS;
    }
    return T.capsFrom(given);
  }

  // ------------------------------------------------------------- loading

  function setState(state) {
    document.body.dataset.state = state;
  }

  function progress(label, frac) {
    const p = $('progress');
    if (label === null) {
      p.hidden = true;
      return;
    }
    p.hidden = false;
    p.querySelector('.label').textContent = label;
    p.querySelector('.bar').style.width = `${Math.round(Math.max(0, Math.min(1, frac)) * 100)}%`;
  }

  function progressOf(p) {
    const frac = p.total > 0 ? p.done / p.total : 0;
    return p.phase === 'verify'
      ? [`verifying hash chain… ${Math.round(frac * 100)}%`, frac * 0.3]
      : [`decoding events… ${p.done.toLocaleString('en-US')}`, 0.3 + frac * 0.7];
  }

  /// Decodes in a Web Worker; resolves null if workers are unavailable.
  function decodeInWorker(bytes, token, caps) {
    let worker;
    try {
      worker = new Worker('src/worker.js');
    } catch (_) {
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      let started = false;
      worker.onerror = (e) => {
        e.preventDefault();
        worker.terminate();
        resolve(started ? { failed: true } : null);
      };
      worker.onmessage = (e) => {
        started = true;
        if (token !== app.loadToken) {
          worker.terminate();
          resolve({ stale: true });
          return;
        }
        const m = e.data;
        if (m.progress) progress(...progressOf(m.progress));
        if (m.result) {
          worker.terminate();
          resolve({ data: m.result });
        }
      };
      // A copy: if the worker cannot start, the main thread still has the bytes.
      worker.postMessage({ id: token, bytes: bytes.slice().buffer, caps });
    });
  }

  /// Decodes on the main thread in slices of ~12 ms, yielding to the page.
  async function decodeOnMainThread(bytes, token, caps) {
    const it = T.loadTrace(bytes, { caps });
    let r = it.next();
    while (!r.done) {
      progress(...progressOf(r.value));
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (token !== app.loadToken) return { stale: true };
      const t0 = performance.now();
      do r = it.next(); while (!r.done && performance.now() - t0 < 12);
    }
    return { data: r.value };
  }

  /// Opens a trace's bytes under `caps` (default: the page's caps).
  async function openBytes(bytes, name, caps) {
    caps = caps || app.caps;
    const token = ++app.loadToken;
    app.bytes = bytes;
    app.readCaps = caps;
    app.searchToken++;
    app.name = name;
    $('file-name').textContent = name;
    $('file-name').title = name;
    setState('loading');
    progress('reading…', 0);
    const t0 = performance.now();
    let out = await decodeInWorker(bytes, token, caps);
    app.decoder = 'worker';
    if (out === null || out.failed) {
      app.decoder = 'main thread';
      out = await decodeOnMainThread(bytes, token, caps);
    }
    if (out.stale || token !== app.loadToken) return;
    const ms = Math.round(performance.now() - t0);
    progress(null);
    $('decoder-note').textContent = out.data.header === null
      ? ''
      : `${out.data.eventCount.toLocaleString('en-US')} events · decoded in ${ms} ms (${app.decoder})`;
    document.body.dataset.decoder = app.decoder;
    document.body.dataset.loadMs = String(ms);
    show(out.data);
  }

  async function openFile(file) {
    if (!file) return;
    progress('reading…', 0);
    const buf = await file.arrayBuffer();
    await openBytes(new Uint8Array(buf), file.name);
  }

  /// `?trace=URL`: fetches a trace from this page's own origin only.
  async function openUrl(param, name) {
    let url;
    try {
      url = new URL(param, location.href);
    } catch (_) {
      return fatal('Cannot load the trace', `"${param}" is not a URL.`);
    }
    if (location.protocol === 'file:' || url.origin !== location.origin) {
      return fatal('Cannot load the trace',
        `The viewer only fetches traces from its own origin (${location.origin}), never from ${url.origin}. ` +
        'Open the file with the button instead, or serve it with `chronicle view TRACE`.');
    }
    const label = name || decodeURIComponent(url.pathname.split('/').pop() || 'trace');
    setState('loading');
    progress(`downloading ${label}…`, 0);
    let response;
    try {
      response = await fetch(url, { cache: 'no-store' });
    } catch (e) {
      return fatal('Cannot load the trace', `Fetching ${url.pathname} failed: ${e.message}`);
    }
    if (!response.ok) return fatal('Cannot load the trace', `Fetching ${url.pathname} failed: HTTP ${response.status}.`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    await openBytes(bytes, label);
  }

  function fatal(title, detail) {
    progress(null);
    setState('error');
    banner('error', title, detail, 'load');
    $('workspace').hidden = true;
    $('empty').hidden = false;
  }

  // --------------------------------------------------------------- banner

  /// Shows the banner; `actions` are [label, onClick] buttons.
  function banner(state, title, detail, category, actions) {
    const b = $('banner');
    b.hidden = false;
    b.dataset.state = state;
    b.dataset.category = category || '';
    b.querySelector('.banner-title').textContent = title;
    b.querySelector('.banner-detail').textContent = detail;
    const box = clear($('banner-actions'));
    for (const [label, onClick, id] of actions || []) {
      const button = el('button', { class: 'button small', id: id || null, text: label });
      button.addEventListener('click', onClick);
      box.append(button);
    }
  }

  /// Reads the trace on screen again with `caps`.
  function reopen(caps) {
    if (app.bytes !== null) openBytes(app.bytes, app.name, caps);
  }

  /// A cap's value in words.
  function capText(v) {
    return v === 0xffffffffffffffffn ? 'unbounded' : BigInt(v).toLocaleString('en-US');
  }

  /// The banner of a trace refused for the viewer's caps: what stopped it,
  /// why the viewer has caps, and buttons that raise them.
  function capBanner(d) {
    const e = d.error;
    const n = (x) => Number(x).toLocaleString('en-US');
    const caps = app.readCaps;
    const lift = ['Lift every cap', () => reopen(T.UNBOUNDED_CAPS), 'caps-lift'];
    const trust = 'The viewer has caps so that a small hostile trace cannot exhaust this tab\'s memory; ' +
      'raise them only for a trace you trust (or open the page with ?unbounded=1, or e.g. ?alloc_bytes=N).';
    if (e.kind === 'over_reader_cap') {
      const raise = [`Raise the ${e.limit} cap to ${capText(e.recorded)}`,
        () => reopen(Object.assign({}, caps, { [e.limit]: e.recorded })), 'caps-raise'];
      banner('warn', 'Over this viewer\'s caps',
        `${e.message}. The trace was refused before any event was read: its header allows its run more than ` +
        `this viewer reads (${e.limit} capped at ${capText(e.cap)}). ${trust}`, e.category, [raise, lift]);
      return;
    }
    const doubled = BigInt(e.cap) * 2n > 0xffffffffffffffffn ? 0xffffffffffffffffn : BigInt(e.cap) * 2n;
    const raise = [`Double the alloc_bytes cap (to ${capText(doubled)} bytes)`,
      () => reopen(Object.assign({}, caps, { alloc_bytes: doubled })), 'caps-raise'];
    const what = e.kind === 'reader_stream_cap' ? 'Reading stopped at that chunk' : 'Decoding stopped there';
    banner('warn', 'Over this viewer\'s caps',
      `${e.message}. ${what} to keep this tab's memory bounded: only the ${n(d.eventCount)} events ` +
      `before it are shown; the trace may be intact (\`chronicle audit\` checks it). ${trust}`, e.category, [raise, lift]);
  }

  const TITLES = {
    'not-a-trace': 'Not a ChronicleVM trace',
    truncated: 'Truncated trace',
    integrity: 'Integrity check FAILED',
    unsupported: 'Unsupported trace version',
    malformed: 'Malformed trace',
  };

  /// What the footer says of the trace's origin, in one sentence.
  function signatureText(d) {
    const sig = d.footer && d.footer.signature;
    if (sig) {
      return `Signed by key ${sig.fingerprint} (not verified here; run chronicle audit --trusted-key).`;
    }
    return 'Unsigned: the hash chain proves integrity, not origin (anyone can edit a trace and re-seal it).';
  }

  function integrityBanner(d) {
    const n = (x) => Number(x).toLocaleString('en-US');
    if (d.ok) {
      const lz4 = d.lz4Chunks ? `, ${n(d.lz4Chunks)} LZ4-compressed` : '';
      banner('ok', 'Integrity verified',
        `Header checksum, BLAKE3 hash chain over ${n(d.chunkCount)} chunk${d.chunkCount === 1 ? '' : 's'}${lz4}, ` +
        `and footer (${n(d.eventCount)} events, ${n(d.steps)} steps) all check out. ` +
        `Final hash ${d.footer.finalHash} — compare it with the one the recorder printed to rule out a substituted file. ` +
        signatureText(d),
        'ok');
      return;
    }
    const e = d.error;
    if (e.category === 'reader-cap') return capBanner(d);
    const what = TITLES[e.category] || 'Cannot read the trace';
    let detail = e.message;
    if (e.category === 'not-a-trace') {
      detail = `${app.name} does not start with the CHRTRACE magic number: it is not a ChronicleVM trace (.ctrace). Choose a file written by \`chronicle trace\`.`;
    } else if (d.header === null) {
      detail += '. Nothing is shown: the header cannot be trusted.';
    } else if (d.eventCount > 0) {
      detail += `. Only the ${n(d.eventCount)} events before the failure, from chunks that verified, are shown; the rest of the trace cannot be trusted.`;
    } else {
      detail += '. The header verified and is shown; no event could be read.';
    }
    banner(e.category === 'unsupported' ? 'warn' : 'error', what, detail, e.category);
  }

  // ------------------------------------------------------------ rendering

  function show(data) {
    integrityBanner(data);
    if (data.header === null) {
      app.view = null;
      $('workspace').hidden = true;
      $('empty').hidden = false;
      setState(data.error && data.error.category === 'not-a-trace' ? 'not-a-trace' : 'error');
      return;
    }
    const view = new M.TraceView(data);
    app.view = view;
    app.pinned = null;
    app.diff = 'prev';
    document.querySelector('input[name="diff"][value="prev"]').checked = true;
    app.callEvents = data.calls.map((c) => c.event);
    app.errorEvents = data.calls.filter((c) => 'err' in c).map((c) => c.event)
      .concat(data.traps.map((t) => t.event)).sort((a, b) => a - b);
    $('empty').hidden = true;
    $('workspace').hidden = false;
    renderProvenance(view);
    renderSource(view);
    app.timeline = new U.Timeline($('timeline'), $('timeline-hover'), view, {
      onSelect: (i) => select(i, { from: 'timeline' }),
      onRange: (a, b) => { $('timeline-range').textContent = `events #${a.toLocaleString('en-US')}–#${(b - 1).toLocaleString('en-US')}`; },
    });
    app.timeline.fit();
    setupCalls(view);
    setupEvents(view);
    updatePin();
    setState(data.ok ? 'ready' : 'partial');
    const fromHash = /^#e=(\d+)$/.exec(location.hash);
    select(fromHash ? Number(fromHash[1]) : 0, { from: 'load' });
  }

  function fmtTime(ms) {
    const d = new Date(Number(ms));
    if (Number.isNaN(d.getTime())) return `${ms} ms`;
    return `${d.toISOString().replace('T', ' ').replace('Z', ' UTC')}`;
  }

  function renderProvenance(view) {
    const d = view.data;
    const h = d.header;
    const dl = (id, pairs) => {
      const box = clear($(id));
      for (const [k, v, cls] of pairs) {
        box.append(el('dt', { text: k }), el('dd', { class: cls, 'data-field': k.toLowerCase().replace(/[^a-z]+/g, '-') }, v));
      }
    };
    const outcome = view.outcome();
    dl('prov-run', [
      ['Plugin', h.pluginName || '(unnamed)'],
      ['Outcome', outcome, d.end && 'returned' in d.end ? 'outcome-ok' : 'outcome-bad'],
      ['Recorded at', `${fmtTime(h.recordedAtMs)} (${h.recordedAtMs} ms)`],
      ['Tool', h.toolVersion || '(unknown)'],
      ['Host', h.host || '(unknown)'],
      ['Events', `${d.eventCount.toLocaleString('en-US')} events, ${d.steps.toLocaleString('en-US')} steps`],
      ['File', `${d.fileSize.toLocaleString('en-US')} bytes, ${d.chunkCount} chunk${d.chunkCount === 1 ? '' : 's'} (${d.lz4Chunks} LZ4); trace format v${d.formatVersion}, bytecode format v${h.moduleFormatVersion}`],
    ]);
    dl('prov-hashes', [
      ['Module', `${h.moduleHash} (${h.moduleLen.toLocaleString('en-US')} bytes)`],
      ['Source', h.sourceHash || '(no source embedded)'],
      ['Policy', h.policyHash || '(no policy: every capability denied)'],
      ['Header', d.headerHash],
      ['Final', d.footer ? d.footer.finalHash : '(no footer)'],
      ['Signature', !d.footer ? '(no footer)'
        : d.footer.signature ? `signed by key ${d.footer.signature.fingerprint} (not verified here; run chronicle audit --trusted-key)`
          : 'unsigned (integrity only, not origin)'],
    ]);
    const limits = clear($('prov-limits'));
    limits.append(el('tr', null, el('th', { text: 'limit' }), el('th', { text: 'value' }),
      el('th', { text: 'viewer cap', title: 'what this viewer reads (see viewer/README.md, "Caps")' })));
    for (const [k, v] of Object.entries(h.limits)) {
      // Trace format 1 records five limits; its runs had no `alloc_bytes`.
      const text = k === 'alloc_bytes' && d.formatVersion === 1
        ? 'unbounded (not in trace format v1)'
        : v === 0xffffffffffffffffn ? 'unbounded' : v.toLocaleString('en-US');
      limits.append(el('tr', { 'data-limit': k }, el('td', { text: k }), el('td', { class: 'mono', text }),
        el('td', { class: 'mono muted', 'data-cap': k, text: capText(d.caps[k]) })));
    }
    const calls = new Map();
    for (const c of d.calls) {
      const imp = view.cm.imports[c.import];
      const key = imp ? `${imp.name}@${imp.major}.${imp.minor}` : '';
      calls.set(key, (calls.get(key) || 0) + 1);
    }
    const caps = clear($('prov-caps'));
    caps.append(el('tr', null, ...['capability', 'requested', 'offered', 'decision', 'scope', 'calls'].map((t) => el('th', { text: t }))));
    if (h.capabilities.length === 0) {
      caps.append(el('tr', null, el('td', { colspan: 6, class: 'muted', text: 'The plugin imports no capability.' })));
    }
    for (const c of h.capabilities) {
      const n = calls.get(`${c.name}@${c.requested}`) || 0;
      caps.append(el('tr', { 'data-cap': c.name },
        el('td', { class: 'mono', text: c.name }),
        el('td', { class: 'mono', text: c.requested }),
        el('td', { class: 'mono', text: c.offered || 'not offered' }),
        el('td', null, el('span', { class: `badge ${c.decision}`, text: c.decision })),
        el('td', { class: 'mono small', text: c.scope || '—' }),
        el('td', { class: 'mono', text: String(n) })));
    }
    $('policy-details').hidden = h.policy === null;
    $('policy-text').textContent = h.policy || '';
    const short = outcome.length > 90 ? `${outcome.slice(0, 89)}…` : outcome;
    $('provenance-summary').textContent =
      `${h.pluginName} · ${short} · recorded ${fmtTime(h.recordedAtMs)} · ${h.toolVersion}`;
  }

  // ---------------------------------------------------------------- source

  function renderSource(view) {
    const box = clear($('source'));
    const d = view.data;
    const cm = view.cm;
    // Lines that ran, that made capability calls, that failed.
    const ran = new Set();
    const seen = new Uint8Array(cm.eff.length);
    for (let i = 0; i < d.eventCount; i++) {
      const f = cm.funcs[d.funcs[i]];
      if (f && d.pcs[i] < f.n) seen[f.base + d.pcs[i]] = 1;
    }
    for (let k = 0; k < seen.length; k++) if (seen[k]) ran.add(cm.lines[k]);
    const capLines = new Set(d.calls.map((c) => T.lineOf(cm, c.func, c.pc)));
    const errLines = new Set(app.errorEvents.map((e) => view.line(e)));
    app.sourceRows = new Map();
    if (d.header.source !== null) {
      const lines = d.header.source.split('\n');
      lines.forEach((text, k) => {
        const n = k + 1;
        const ln = el('span', {
          class: `ln${errLines.has(n) ? ' has-err' : capLines.has(n) ? ' has-cap' : ''}${ran.has(n) ? '' : ' never'}`,
          text: String(n),
        });
        const src = el('span', { class: 'src' });
        for (const [cls, t] of U.highlightChr(text)) src.append(cls ? el('span', { class: cls, text: t }) : t);
        const row = el('div', { class: 'line', 'data-line': n }, ln, src);
        box.append(row);
        app.sourceRows.set(n, row);
      });
      app.sourceMode = 'lines';
    } else {
      // No source embedded: list the code map, one row per instruction.
      cm.funcs.forEach((f, fi) => {
        box.append(el('div', { class: 'line' }, el('span', { class: 'ln', text: '' }), el('span', { class: 'src tok-kw', text: `fn ${f.name}` })));
        for (let pc = 0; pc < f.n; pc++) {
          const i = f.base + pc;
          const row = el('div', { class: 'line', 'data-func': fi, 'data-pc': pc },
            el('span', { class: `ln${ran.has(cm.lines[i]) ? '' : ' never'}`, text: String(pc) }),
            el('span', { class: 'src effect', text: `${effectName(cm.eff[i])}${cm.lines[i] ? `   ; line ${cm.lines[i]}` : ''}` }));
          box.append(row);
          app.sourceRows.set(`${fi}:${pc}`, row);
        }
      });
      app.sourceMode = 'code map';
    }
    box.onclick = (e) => {
      const row = e.target.closest('.line');
      if (!row || !app.view) return;
      if (row.dataset.line) gotoLine(Number(row.dataset.line));
      else if (row.dataset.func) gotoInstr(Number(row.dataset.func), Number(row.dataset.pc));
    };
  }

  function effectName(code) {
    return Object.keys(T.EFFECTS).find((k) => T.EFFECTS[k] === code).toLowerCase();
  }

  /// Selects the next event (after the selected one, wrapping) on source line `n`.
  function gotoLine(n) {
    const v = app.view;
    for (let k = 1; k <= v.count; k++) {
      const i = (app.selected + k) % v.count;
      if (v.line(i) === n) return select(i, { from: 'source' });
    }
    flash(`Line ${n} never runs in this trace.`);
  }

  function gotoInstr(func, pc) {
    const v = app.view;
    for (let k = 1; k <= v.count; k++) {
      const i = (app.selected + k) % v.count;
      if (v.func(i) === func && v.pc(i) === pc) return select(i, { from: 'source' });
    }
    flash('This instruction never runs in this trace.');
  }

  function flash(text) {
    $('frame-note').textContent = text;
  }

  function updateSource(i) {
    const v = app.view;
    for (const row of $('source').querySelectorAll('.current, .trap-line, .pinned-line')) {
      row.classList.remove('current', 'trap-line', 'pinned-line');
    }
    const key = (e) => (app.sourceMode === 'lines' ? v.line(e) : `${v.func(e)}:${v.pc(e)}`);
    const row = app.sourceRows.get(key(i));
    const kind = v.kind(i);
    const fname = v.funcName(v.func(i));
    const line = v.line(i);
    $('source-loc').textContent = `${fname} · pc ${v.pc(i)}${line ? ` · line ${line}` : ''}${app.sourceMode === 'lines' ? '' : ' · no source embedded: code map'}`;
    if (app.pinned !== null) {
      const p = app.sourceRows.get(key(app.pinned));
      if (p) p.classList.add('pinned-line');
    }
    if (!row) return;
    row.classList.add(kind === T.TRAP ? 'trap-line' : 'current');
    const box = $('source');
    const top = row.offsetTop - box.offsetTop;
    if (top < box.scrollTop + 20 || top > box.scrollTop + box.clientHeight - 40) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 2);
    }
  }

  // ------------------------------------------------------------- registers

  function updateRegisters(i) {
    const v = app.view;
    const ev = v.event(i);
    const summary = clear($('event-summary'));
    summary.append(
      el('span', { class: 'evno', text: `#${i.toLocaleString('en-US')} ` }),
      el('span', { class: `k-${T.KIND_NAMES[ev.kind]}`, text: T.KIND_NAMES[ev.kind] }),
      ` · ${v.funcName(ev.func)} pc ${ev.pc}${ev.line ? ` line ${ev.line}` : ''}`,
      el('br'),
      v.describe(ev, 200),
    );
    const now = v.state(i);
    const frame = now.frames.length ? now.frames[now.frames.length - 1] : null;
    let other = null;
    let note = '';
    let label = 'previous';
    if (frame === null) {
      note = 'No active frame: the run has ended.';
    } else if (app.diff === 'pin' && app.pinned !== null) {
      label = `#${app.pinned}`;
      const pinned = v.state(app.pinned);
      other = pinned.frames.find((f) => f.id === frame.id) || null;
      if (other === null) {
        const top = pinned.frames[pinned.frames.length - 1];
        if (top && top.func === frame.func) {
          other = top;
          note = `The pinned event #${app.pinned} is in another call of ${frame.name}.`;
        } else {
          note = top
            ? `The pinned event #${app.pinned} is in ${top.name}, not ${frame.name}: nothing to compare.`
            : `No frame is active at the pinned event #${app.pinned}.`;
        }
      } else if (app.pinned === i) {
        note = 'This is the pinned event.';
      }
    } else if (i > 0) {
      const prev = v.state(i - 1);
      other = prev.frames.find((f) => f.id === frame.id) || null;
      if (other === null) note = `${frame.name} was entered at this event: its registers start here.`;
    } else {
      note = 'The run starts here.';
    }
    $('frame-note').textContent = note;
    const table = clear($('registers'));
    if (frame === null) return updateStack(now);
    const written = new Set(ev.kind === T.STEP && ev.func === frame.func ? ev.writes.map(([r]) => r) : []);
    table.append(el('tr', null, el('th', { text: 'reg' }), el('th', { text: 'type' }),
      el('th', { text: `after #${i}` }), el('th', { text: other ? label : '' })));
    for (const row of M.registerRows(v.cm, frame, other, 160)) {
      const cls = [row.changed ? 'changed' : '', written.has(row.reg) ? 'written' : '', row.param ? 'param' : ''].join(' ').trim();
      table.append(el('tr', { class: cls || null, 'data-reg': row.reg },
        el('td', { class: 'reg', text: `r${row.reg}`, title: row.param ? 'parameter' : null }),
        el('td', { class: 'type', text: row.type }),
        el('td', { class: 'value', text: row.text || '()', title: row.full }),
        el('td', { class: 'before', text: row.beforeText === null ? '' : row.changed ? row.beforeText : '' })));
    }
    updateStack(now);
  }

  function updateStack(state) {
    const list = clear($('stack'));
    const frames = state.frames.slice().reverse();
    frames.slice(0, 64).forEach((f, k) => {
      list.append(el('li', { class: k === 0 ? 'top' : null, text: `${f.name}  pc ${f.pc}${f.line ? `  line ${f.line}` : ''}` }));
    });
    if (frames.length > 64) list.append(el('li', { class: 'muted', text: `… ${frames.length - 64} more frames` }));
    if (frames.length === 0) list.append(el('li', { class: 'muted none', text: 'no active frame' }));
  }

  // ------------------------------------------------------------ the lists

  function setupCalls(view) {
    const calls = view.data.calls;
    $('calls-count').textContent = `(${calls.length.toLocaleString('en-US')})`;
    app.calls = new U.VirtualList($('calls'), {
      emptyText: 'No capability calls.',
      rows: (first, last) => {
        const out = [];
        for (let r = first; r <= last; r++) {
          const c = calls[r];
          const call = `${view.importName(c.import)}(${c.args.map((a) => T.formatValue(a, 80)).join(', ')})`;
          const opened = 'opened' in c ? ` (opened ${T.formatValue(c.opened, 120)})` : '';
          const text = 'ok' in c ? `${call} -> ${c.ok === null ? '()' : T.formatValue(c.ok, 120)}${opened}` : `${call} failed: ${c.err}`;
          out.push({
            cls: `${c.event === app.selected ? 'selected' : ''} ${'err' in c ? 'error' : ''}`,
            cells: [{ cls: 'idx', text: `#${c.event}` }, { cls: 'text', text }],
            title: text.length > 80 ? text.slice(0, 2000) : null,
          });
        }
        return out;
      },
      onPick: (r) => select(calls[r].event, { from: 'calls' }),
    });
    app.calls.setCount(calls.length);
  }

  function setupEvents(view) {
    const box = clear($('kind-filters'));
    T.KIND_NAMES.forEach((name, k) => {
      const input = el('input', { type: 'checkbox', value: String(k), checked: app.kinds.has(k) });
      input.addEventListener('change', () => {
        if (input.checked) app.kinds.add(k); else app.kinds.delete(k);
        applyFilter();
      });
      box.append(el('label', { class: `k-${name}` }, input, name));
    });
    app.events = new U.VirtualList($('events'), {
      emptyText: view.count === 0 ? 'No verified event to show.' : 'No event matches the filter.',
      rows: (first, last) => eventRows(view, first, last),
      onPick: (r) => select(rowEvent(r), { from: 'events' }),
    });
    applyFilter();
  }

  function rowEvent(r) {
    return app.rows === null ? r : app.rows[r];
  }

  function eventRows(view, first, last) {
    const out = [];
    const row = (ev) => {
      const i = ev.index;
      const isErr = ev.kind === T.TRAP || (ev.kind === T.CAPABILITY && 'err' in ev);
      const where = `${view.funcName(ev.func)}${ev.line ? `:${ev.line}` : ''}`;
      out.push({
        cls: `${i === app.selected ? 'selected' : ''} ${i === app.pinned ? 'pinned' : ''} ${isErr ? 'error' : ''}`,
        cells: [
          { cls: 'idx', text: `#${i}` },
          { cls: `kind k-${T.KIND_NAMES[ev.kind]}`, text: T.KIND_NAMES[ev.kind] },
          { cls: 'where', text: where },
          { cls: 'text', text: view.describe(ev) },
        ],
      });
    };
    try {
      // Described as decoded: nothing is kept, so nothing is copied for it.
      if (app.rows === null) view.forEachEvent(first, last + 1, row);
      else for (let r = first; r <= last; r++) row(view.event(app.rows[r]));
    } catch (e) {
      if (!(e instanceof T.TraceError)) throw e;
      out.push({ cls: 'error', cells: [{ cls: 'text', text: `Cannot decode these events: ${e.message}` }] });
    }
    return out;
  }

  /// Recomputes the event rows from the kind and text filters. Text search
  /// decodes every event, so it runs in slices and can be cancelled.
  async function applyFilter() {
    const v = app.view;
    if (!v) return;
    const token = ++app.searchToken;
    const text = app.filterText.trim().toLowerCase();
    const allKinds = app.kinds.size === 6;
    const count = $('events-count');
    if (!text) {
      if (allKinds) app.rows = null;
      else {
        const kinds = v.data.kinds;
        const out = new Uint32Array(v.count);
        let n = 0;
        for (let i = 0; i < v.count; i++) if (app.kinds.has(kinds[i])) out[n++] = i;
        app.rows = out.slice(0, n);
      }
      finishFilter(count);
      return;
    }
    const out = [];
    const kinds = v.data.kinds;
    const block = 4000;
    for (let from = 0; from < v.count; from += block) {
      const t0 = performance.now();
      try {
        v.forEachEvent(from, from + block, (ev) => {
          if (!app.kinds.has(kinds[ev.index])) return;
          const hay = `#${ev.index} ${T.KIND_NAMES[ev.kind]} ${v.funcName(ev.func)} line ${ev.line} ${v.describe(ev)}`.toLowerCase();
          if (hay.includes(text)) out.push(ev.index);
        });
      } catch (e) {
        if (!(e instanceof T.TraceError)) throw e;
        count.textContent = `(search stopped: ${e.message})`;
        return;
      }
      if (performance.now() - t0 > 8 || from % (block * 10) === 0) {
        count.textContent = `(searching… ${Math.round((from / v.count) * 100)}%)`;
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (token !== app.searchToken) return;
      }
    }
    app.rows = Uint32Array.from(out);
    finishFilter(count);
  }

  function finishFilter(count) {
    const v = app.view;
    const n = app.rows === null ? v.count : app.rows.length;
    count.textContent = app.rows === null
      ? `(${v.count.toLocaleString('en-US')})`
      : `(${n.toLocaleString('en-US')} of ${v.count.toLocaleString('en-US')})`;
    app.events.setCount(n);
    revealSelected();
  }

  /// The row of event `i` in the filtered list, or -1.
  function rowOf(i) {
    if (app.rows === null) return i;
    let lo = 0, hi = app.rows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (app.rows[mid] === i) return mid;
      if (app.rows[mid] < i) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  function revealSelected() {
    const r = rowOf(app.selected);
    if (r >= 0) app.events.reveal(r);
    else app.events.render();
  }

  // ---------------------------------------------------------- selection

  function select(i, opts) {
    const v = app.view;
    if (!v) return;
    if (v.count === 0) {
      $('frame-note').textContent = 'No event could be read from this trace.';
      clear($('event-summary'));
      clear($('registers'));
      clear($('stack'));
      $('source-loc').textContent = '';
      return;
    }
    i = Math.max(0, Math.min(v.count - 1, Math.floor(i)));
    app.selected = i;
    document.body.dataset.selected = String(i);
    app.timeline.setSelection(i);
    updateSource(i);
    try {
      updateRegisters(i);
    } catch (e) {
      if (!(e instanceof T.TraceError)) throw e;
      // Only the viewer's caps can stop an event the first pass decoded.
      clear($('registers'));
      $('frame-note').textContent = `Event #${i} cannot be shown: ${e.message}`;
    }
    if (!opts || opts.from !== 'events') revealSelected(); else app.events.render();
    const c = bsearch(app.callEvents, i);
    if (c >= 0) app.calls.reveal(c); else app.calls.render();
    if (history.replaceState) history.replaceState(null, '', `${location.pathname}${location.search}#e=${i}`);
  }

  function bsearch(xs, x) {
    let lo = 0, hi = xs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] === x) return mid;
      if (xs[mid] < x) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  /// The first element of sorted `xs` after (dir 1) or before (dir -1) `x`.
  function neighbour(xs, x, dir) {
    if (dir > 0) {
      for (const e of xs) if (e > x) return e;
    } else {
      for (let k = xs.length - 1; k >= 0; k--) if (xs[k] < x) return xs[k];
    }
    return null;
  }

  /// The next (dir 1) or previous (dir -1) step on another source line.
  function stepLine(dir) {
    const v = app.view;
    const line = v.line(app.selected);
    for (let i = app.selected + dir; i >= 0 && i < v.count; i += dir) {
      if (v.kind(i) === T.STEP && v.line(i) !== line && v.line(i) > 0) return select(i);
    }
    select(dir > 0 ? v.count - 1 : 0);
  }

  function togglePin() {
    if (!app.view) return;
    app.pinned = app.pinned === app.selected ? null : app.selected;
    if (app.pinned === null && app.diff === 'pin') {
      app.diff = 'prev';
      document.querySelector('input[name="diff"][value="prev"]').checked = true;
    } else if (app.pinned !== null) {
      app.diff = 'pin';
      $('diff-pin').checked = true;
    }
    updatePin();
    select(app.selected);
  }

  function updatePin() {
    const b = $('pin-button');
    b.setAttribute('aria-pressed', app.pinned !== null && app.pinned === app.selected ? 'true' : 'false');
    b.textContent = app.pinned === null ? 'Pin' : app.pinned === app.selected ? 'Unpin' : `Pin (now #${app.pinned})`;
    $('diff-pin').disabled = app.pinned === null;
    $('diff-pin-label').textContent = app.pinned === null ? 'pinned event' : `pinned #${app.pinned}`;
    if (app.timeline) app.timeline.setPin(app.pinned);
    document.body.dataset.pinned = app.pinned === null ? '' : String(app.pinned);
  }

  // ---------------------------------------------------------------- input

  function onKey(e) {
    if (e.target instanceof HTMLInputElement && e.target.type !== 'checkbox' && e.target.type !== 'radio') {
      if (e.key === 'Escape') e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '?') { $('help').hidden = !$('help').hidden; return; }
    if (e.key === 'Escape') { $('help').hidden = true; return; }
    const v = app.view;
    if (!v || v.count === 0) return;
    const i = app.selected;
    const go = {
      ArrowRight: () => select(i + 1), j: () => select(i + 1),
      ArrowLeft: () => select(i - 1), k: () => select(i - 1),
      ArrowDown: () => stepLine(1), n: () => stepLine(1),
      ArrowUp: () => stepLine(-1), b: () => stepLine(-1),
      PageDown: () => select(i + 100), PageUp: () => select(i - 100),
      Home: () => select(0), End: () => select(v.count - 1),
      c: () => { const x = neighbour(app.callEvents, i, 1); if (x !== null) select(x); },
      C: () => { const x = neighbour(app.callEvents, i, -1); if (x !== null) select(x); },
      e: () => { const x = neighbour(app.errorEvents, i, 1); if (x !== null) select(x); },
      p: () => togglePin(),
      '+': () => app.timeline.zoom(1 / 2), '=': () => app.timeline.zoom(1 / 2),
      '-': () => app.timeline.zoom(2), '0': () => app.timeline.fit(),
      '/': () => $('event-filter').focus(),
    }[e.key];
    if (go) {
      e.preventDefault();
      go();
    }
  }

  function init() {
    setState('empty');
    $('file-input').addEventListener('change', (e) => {
      openFile(e.target.files[0]);
      e.target.value = '';
    });
    let depth = 0;
    window.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; document.body.classList.add('dragging'); });
    window.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; document.body.classList.remove('dragging'); } });
    window.addEventListener('dragover', (e) => e.preventDefault());
    window.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      document.body.classList.remove('dragging');
      const file = e.dataTransfer && e.dataTransfer.files[0];
      if (file) openFile(file);
    });
    document.addEventListener('keydown', onKey);
    // A link to an event (#e=N) selects it, also when only the fragment changes.
    window.addEventListener('hashchange', () => {
      const m = /^#e=(\d+)$/.exec(location.hash);
      if (m && app.view && Number(m[1]) !== app.selected) select(Number(m[1]));
    });
    $('help-button').addEventListener('click', () => { $('help').hidden = !$('help').hidden; });
    $('help-close').addEventListener('click', () => { $('help').hidden = true; });
    $('zoom-in').addEventListener('click', () => app.timeline && app.timeline.zoom(1 / 2));
    $('zoom-out').addEventListener('click', () => app.timeline && app.timeline.zoom(2));
    $('zoom-fit').addEventListener('click', () => app.timeline && app.timeline.fit());
    $('pin-button').addEventListener('click', togglePin);
    for (const r of document.querySelectorAll('input[name="diff"]')) {
      r.addEventListener('change', () => {
        app.diff = r.value;
        if (app.view) select(app.selected);
      });
    }
    let debounce = 0;
    $('event-filter').addEventListener('input', (e) => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        app.filterText = e.target.value;
        applyFilter();
      }, 180);
    });
    const params = new URLSearchParams(location.search);
    try {
      app.caps = capsFromUrl(params);
    } catch (e) {
      fatal('Bad viewer caps in the URL', `${e.message}. Caps are ?unbounded=1, or a limit name with a whole number (e.g. ?alloc_bytes=1073741824).`);
      return;
    }
    document.body.dataset.caps = app.caps === T.UNBOUNDED_CAPS ? 'unbounded' : 'limited';
    if (params.get('trace')) openUrl(params.get('trace'), params.get('name'));
  }

  /// A small API for scripts and end-to-end tests.
  root.chronicleViewer = {
    select: (i) => select(i),
    pin: () => togglePin(),
    openBytes: (bytes, name, caps) => openBytes(bytes, name, caps && T.capsFrom(caps)),
    get caps() { return app.readCaps; },
    get selected() { return app.selected; },
    get pinned() { return app.pinned; },
    get view() { return app.view; },
  };

  init();
})(typeof self !== 'undefined' ? self : globalThis);
