// The live WebSocket (/api/v1/ws): authenticates with its first message,
// subscribes to the streams the current page wants, reconnects with
// backoff, and shows its state in the top bar's indicator.
//
// A change of subscription reconnects: the protocol has no unsubscribe.

import { token } from './api.js';

const BAD_TOKEN = 4401;
const SLOW_CLIENT = 4408;

let ws = null;
let streams = [];          // what the page wants; [] = connected, nothing subscribed
let listeners = new Set();
let retry = 0;
let timer = null;
let enabled = false;
let authFailed = () => {};
let indicator = null;

function show(state, text) {
  if (!indicator) indicator = document.getElementById('ws-status');
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = text;
}

export function onAuthFailed(fn) { authFailed = fn; }

// start connects (once logged in); stop closes for good (logout).
export function start() {
  enabled = true;
  if (!ws) connect();
}

export function stop() {
  enabled = false;
  clearTimeout(timer);
  timer = null;
  if (ws) { const s = ws; ws = null; s.close(1000, 'logout'); }
  show('idle', 'live: idle');
}

// subscribe sets the streams the page wants ([] for none) and the
// function that receives their messages; it returns an unsubscribe.
export function subscribe(ids, fn) {
  listeners.add(fn);
  setStreams(ids);
  return () => {
    listeners.delete(fn);
    if (listeners.size === 0) setStreams([]);
  };
}

function setStreams(ids) {
  const next = [...ids].sort();
  if (next.join('\n') === streams.join('\n')) return;
  streams = next;
  if (ws) { const s = ws; ws = null; s.close(1000, 'resubscribe'); connect(); }
}

function connect() {
  if (!enabled) return;
  clearTimeout(timer);
  timer = null;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
  ws = sock;
  show('connecting', 'live: connecting…');
  sock.addEventListener('open', () => {
    sock.send(JSON.stringify({ type: 'auth', token: token() }));
  });
  sock.addEventListener('message', (ev) => {
    if (ws !== sock) return;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === 'ready') {
      retry = 0;
      show('connected', streams.length ? `live: ${streams.join(', ')}` : 'live: connected');
      if (streams.length) sock.send(JSON.stringify({ type: 'subscribe', streams }));
      return;
    }
    for (const fn of listeners) {
      try { fn(msg); } catch (err) { console.warn('live message handler:', err); }
    }
  });
  sock.addEventListener('close', (ev) => {
    if (ws !== sock) return; // replaced or stopped on purpose
    ws = null;
    if (ev.code === BAD_TOKEN) {
      show('disconnected', 'live: token refused');
      enabled = false;
      authFailed('The live connection refused the token (4401). Enter it again.');
      return;
    }
    const why = ev.code === SLOW_CLIENT ? 'disconnected: slow client' : 'disconnected';
    const wait = Math.min(30000, 1000 * 2 ** retry);
    retry++;
    show('disconnected', `live: ${why}, retry in ${Math.round(wait / 1000)} s`);
    timer = setTimeout(connect, wait);
  });
}
