// Small DOM helpers: elements built with h(), never from HTML strings, so
// text from the API is always text.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// States every page shows while it loads, when it has nothing, on error.
export function loading(what = 'Loading…') {
  return h('p', { class: 'state state-loading', testid: 'state-loading' }, what);
}
export function empty(what) {
  return h('p', { class: 'state state-empty', testid: 'state-empty' }, what);
}
export function failure(err) {
  const msg = err && err.message ? err.message : String(err);
  return h('p', { class: 'state state-error', testid: 'state-error', role: 'alert' }, 'Error: ' + msg);
}

export function nil(reason) {
  return h('span', { class: 'null', title: reason || '' }, reason ? `null (${reason})` : 'null');
}

export function num(v, digits = 3) {
  if (v === null || v === undefined) return nil();
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(digits);
}

export function numText(v, digits = 3) {
  if (v === null || v === undefined) return '—';
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

export function healthBadge(health, testid) {
  const s = health || 'unknown';
  return h('span', { class: `badge health-${s}`, testid: testid || 'health', dataset: { health: s } }, s);
}

export function statusBadge(status) {
  const s = status || 'unknown';
  return h('span', { class: `badge status-${s}`, testid: 'segment-status', dataset: { status: s } }, s);
}

export function time(iso) {
  if (!iso) return h('span', { class: 'null' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function table(headers, rows, attrs) {
  return h('table', attrs || {},
    h('thead', {}, h('tr', {}, headers.map((c) =>
      typeof c === 'string' ? h('th', {}, c) : h('th', { class: c.class }, c.label)))),
    h('tbody', {}, rows));
}
