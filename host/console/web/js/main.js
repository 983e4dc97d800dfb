// Entry point: login, the nav bar, hash routes, page lifecycle.

import * as api from './api.js';
import * as live from './ws.js';
import { h, replace, failure, loading } from './dom.js';
import * as overview from './pages/overview.js';
import * as livePage from './pages/live.js';
import * as experiments from './pages/experiments.js';
import * as physiology from './pages/physiology.js';
import * as health from './pages/health.js';
import * as sessions from './pages/sessions.js';
import * as alerts from './pages/alerts.js';

const pages = { overview, live: livePage, experiments, physiology, health, sessions, alerts };

const app = document.getElementById('app');
const nav = document.getElementById('nav');
const logoutButton = document.getElementById('logout');

let current = null;     // {cleanup, ctx}
let authed = false;
let tokenless = false;  // the host has no token: no login

// ctx is handed to a page: alive() turns false once the page is left, so
// late answers do not touch the next page; every() runs a poller until then.
function makeCtx() {
  const timers = [];
  const cleanups = [];
  const ctx = {
    live: true,
    alive: () => ctx.live,
    every(ms, fn) { timers.push(setInterval(() => { if (ctx.live) fn(); }, ms)); },
    onLeave(fn) { cleanups.push(fn); },
    leave() {
      ctx.live = false;
      timers.forEach(clearInterval);
      cleanups.forEach((fn) => { try { fn(); } catch (err) { console.warn(err); } });
    },
  };
  return ctx;
}

function leavePage() {
  if (current) current.leave();
  current = null;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const parts = raw.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'overview', params: parts.slice(1) };
}

function route() {
  if (!authed) return;
  const { name, params } = parseHash();
  const page = pages[name];
  leavePage();
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.route === name);
  if (!page) {
    replace(app, failure(new Error(`no page "${name}"`)));
    return;
  }
  const ctx = makeCtx();
  current = ctx;
  replace(app, loading());
  app.dataset.page = name;
  Promise.resolve()
    .then(() => page.render(app, params, ctx))
    .catch((err) => {
      if (err instanceof api.AuthError || !ctx.alive()) return;
      console.warn(`page ${name}:`, err);
      replace(app, failure(err));
    });
}

function showLogin(message) {
  authed = false;
  leavePage();
  live.stop();
  nav.hidden = true;
  logoutButton.hidden = true;
  app.dataset.page = 'login';
  const input = h('input', {
    type: 'password', name: 'token', id: 'token', autocomplete: 'off', required: true,
    testid: 'login-token', placeholder: 'API token',
  });
  const msg = h('p', { class: 'message', testid: 'login-message', role: 'alert' }, message || '');
  const button = h('button', { type: 'submit', testid: 'login-submit' }, 'Sign in');
  const form = h('form', { method: 'post', action: '#', testid: 'login-form', autocomplete: 'off' },
    h('label', { for: 'token' }, 'API token (api.token or LSIE_API_TOKEN of the host)'),
    input, button, msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const tok = input.value.trim();
    if (!tok) return;
    button.disabled = true;
    msg.textContent = 'Checking…';
    try {
      if (await api.probe(tok)) {
        api.setToken(tok);
        input.value = '';
        loggedIn();
      } else {
        msg.textContent = 'The API refused this token (401).';
      }
    } catch (err) {
      msg.textContent = `Cannot reach the API: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
  replace(app, h('section', { class: 'login panel', testid: 'login' }, h('h1', {}, 'lsie operator console'), form));
  input.focus();
}

function loggedIn() {
  authed = true;
  nav.hidden = false;
  logoutButton.hidden = tokenless;
  live.start();
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/overview';
  else route();
}

api.onUnauthorized((message) => {
  api.setToken('');
  showLogin(message);
});
live.onAuthFailed((message) => {
  api.setToken('');
  showLogin(message);
});
logoutButton.addEventListener('click', () => {
  api.setToken('');
  showLogin('Logged out.');
});
window.addEventListener('hashchange', route);

async function boot() {
  try {
    if (await api.probe('')) {
      tokenless = true; // the host has no token: nothing to ask
      api.setToken('');
      loggedIn();
      return;
    }
    const tok = api.token();
    if (tok && await api.probe(tok)) {
      loggedIn();
      return;
    }
    if (tok) {
      api.setToken('');
      showLogin('The API refused the stored token (401). Enter it again.');
      return;
    }
    showLogin('');
  } catch (err) {
    replace(app, failure(new Error(`cannot reach the API: ${err.message}`)),
      h('p', {}, h('button', { type: 'button', onclick: () => location.reload() }, 'Retry')));
  }
}

boot();
