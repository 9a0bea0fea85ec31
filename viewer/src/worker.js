// The decoding worker: runs `loadTrace` off the main thread and posts the
// result, a plain object whose typed arrays (the event stream, the per-event
// arrays, the snapshots' predictor tables and int and bool arrays) are
// transferred rather than copied. A classic worker (importScripts), like
// the page's classic scripts.
'use strict';

importScripts('blake3.js', 'lz4.js', 'trace.js');

/// Every ArrayBuffer reachable from `root`, once each.
function buffers(root) {
  const out = new Set();
  const seen = new Set();
  const stack = [root];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      out.add(v.buffer);
      continue;
    }
    for (const k in v) stack.push(v[k]);
  }
  return [...out];
}

self.onmessage = (e) => {
  const { id, bytes, caps } = e.data;
  const it = self.Chronicle.trace.loadTrace(new Uint8Array(bytes), { caps });
  let last = 0;
  let r = it.next();
  while (!r.done) {
    const now = performance.now();
    if (now - last > 80) {
      last = now;
      self.postMessage({ id, progress: r.value });
    }
    r = it.next();
  }
  self.postMessage({ id, result: r.value }, buffers(r.value));
};
