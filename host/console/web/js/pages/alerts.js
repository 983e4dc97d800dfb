// Alerts: what the rules raised (docs/RULES.md), newest first, updated
// live from the WebSocket's alert events; an alert opens its detail with
// the values that made it true and the tracks it counted.
//
//   #/alerts            the list
//   #/alerts/ID         one alert

import { get, enc } from '../api.js';
import * as live from '../ws.js';
import { h, replace, empty, table, time, loading } from '../dom.js';

const LIMIT = 200;

export async function render(root, params, ctx) {
  if (params[0]) return detail(root, params[0], ctx);
  return list(root, ctx);
}

function seconds(ns) {
  return ns === undefined || ns === null ? '' : `${(ns / 1e9).toFixed(1)} s`;
}

function severity(s) {
  return h('span', { class: `badge severity-${s}`, testid: 'alert-severity' }, s);
}

function state(a) {
  return a.end_ns === undefined || a.end_ns === null
    ? h('span', { class: 'badge badge-open', testid: 'alert-state' }, 'open')
    : h('span', { class: 'badge', testid: 'alert-state' }, 'ended');
}

function row(a) {
  const go = () => { location.hash = `#/alerts/${enc(a.id)}`; };
  return h('tr', { class: 'clickable', testid: 'alert-row', tabindex: 0, dataset: { id: a.id, rule: a.rule },
    onclick: go, onkeydown: (e) => { if (e.key === 'Enter') go(); } },
  h('td', {}, time(a.wall_start)),
  h('td', { class: 'mono' }, a.rule),
  h('td', { class: 'mono' }, a.stream_id),
  h('td', {}, severity(a.severity)),
  h('td', {}, state(a)),
  h('td', {}, a.message));
}

async function list(root, ctx) {
  replace(root, h('h1', {}, 'Alerts'), loading());
  const data = await get(`/api/v1/alerts?limit=${LIMIT}`);
  if (!ctx.alive()) return;
  // Newest first; the API lists by start, oldest first.
  const alerts = new Map((data.alerts || []).reverse().map((a) => [a.id, a]));
  const body = h('section', { class: 'panel', testid: 'alerts' });
  const draw = () => {
    const rows = [...alerts.values()].sort((a, b) => (b.wall_start || '').localeCompare(a.wall_start || ''));
    replace(body, rows.length
      ? table(['Started', 'Rule', 'Stream', 'Severity', 'State', 'Message'], rows.map(row))
      : empty('No alerts yet.'));
  };
  draw();
  replace(root, h('h1', {}, 'Alerts'), body);
  // Every stream's alert events: one opening or ending replaces the row.
  const stop = live.subscribe(['*'], (msg) => {
    if (msg.type !== 'alert' || !ctx.alive()) return;
    alerts.set(msg.data.id, msg.data);
    draw();
  });
  ctx.onLeave(stop);
}

async function detail(root, id, ctx) {
  const back = h('a', { href: '#/alerts' }, '‹ Alerts');
  replace(root, h('div', { class: 'row' }, back, h('h1', {}, 'Alert')), loading());
  const data = await get(`/api/v1/alerts?limit=10000`);
  if (!ctx.alive()) return;
  const a = (data.alerts || []).find((x) => x.id === id);
  if (!a) {
    replace(root, h('div', { class: 'row' }, back, h('h1', {}, 'Alert')), empty(`No alert ${id}.`));
    return;
  }
  const values = Object.entries(a.values || {}).sort(([x], [y]) => x.localeCompare(y));
  replace(root,
    h('div', { class: 'row' }, back, h('h1', {}, `Alert: ${a.rule}`), severity(a.severity), state(a)),
    h('section', { class: 'panel', testid: 'alert-detail', dataset: { id: a.id } },
      h('p', { testid: 'alert-message' }, a.message),
      table(['', ''], [
        ['Stream', a.stream_id], ['Started', `${time(a.wall_start)} (media ${seconds(a.start_ns)})`],
        ['Fired', `media ${seconds(a.fired_ns)}`],
        ['Ended', a.end_ns === undefined || a.end_ns === null ? 'still open' : `${time(a.wall_end)} (media ${seconds(a.end_ns)})`],
        ['Tracks', (a.track_ids || []).join(', ') || '–'],
      ].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
      h('h2', {}, 'Values that made it true'),
      values.length
        ? table(['Name', { label: 'Value', class: 'num' }], values.map(([k, v]) =>
          h('tr', { testid: 'alert-value', dataset: { name: k } }, h('td', { class: 'mono' }, k),
            h('td', { class: 'num' }, typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v)))))
        : empty('No values recorded.')));
}
