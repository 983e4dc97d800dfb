// Health: the host and every component, errors first and prominent.
// Refreshed every 3 s and on health_changed messages.

import { get } from '../api.js';
import { h, replace, loading, empty, failure, healthBadge, table } from '../dom.js';
import * as live from '../ws.js';

const ORDER = { error: 0, failed: 0, degraded: 1, recovering: 2, starting: 3, stopped: 4, ok: 5 };

export async function render(root, _params, ctx) {
  const banner = h('div', { testid: 'health-banner' });
  const hostBox = h('div', { testid: 'health-host' }, loading());
  const list = h('div', { testid: 'health-components' }, loading());
  replace(root, h('h1', {}, 'Health'), banner,
    h('section', { class: 'panel' }, h('h2', {}, 'Host'), hostBox),
    h('section', { class: 'panel' }, h('h2', {}, 'Components'), list));

  async function load() {
    let hh;
    try {
      // The operator route answers 200 even when the host is in error
      // (/api/v1/health then says 503, for probes).
      hh = (await get('/api/v1/operator/health')).host;
    } catch (err) {
      if (!ctx.alive()) return;
      replace(hostBox, failure(err));
      return;
    }
    if (!ctx.alive()) return;
    const comps = [...(hh.components || [])].sort((a, b) =>
      (ORDER[a.health] ?? 3) - (ORDER[b.health] ?? 3) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
    const errors = comps.filter((c) => c.health === 'error' || c.health === 'failed');
    replace(banner, errors.length
      ? h('div', { class: 'banner-error', role: 'alert', testid: 'health-errors' },
        `${errors.length} component${errors.length > 1 ? 's' : ''} in error: `,
        errors.map((c) => `${c.kind} ${c.name}${c.hint ? ' (' + c.hint + ')' : ''}`).join('; '))
      : null);
    replace(hostBox, h('div', { class: 'row' }, healthBadge(hh.status, 'host-health'),
      h('span', { class: 'muted' }, `version ${hh.version || '?'}`),
      h('span', { class: 'hint' }, `checked ${new Date().toLocaleTimeString()}`)));
    if (!comps.length) {
      replace(list, empty('No components reported.'));
      return;
    }
    replace(list, table(['Kind', 'Name', 'Health', 'Hint', 'Counters'], comps.map((c) =>
      h('tr', { testid: 'component-row', class: c.health === 'error' || c.health === 'failed' ? 'row-error' : '',
        dataset: { kind: c.kind, name: c.name, health: c.health } },
      h('td', {}, c.kind),
      h('td', { class: 'mono' }, c.name),
      h('td', {}, healthBadge(c.health, 'component-health')),
      h('td', { class: 'hint' }, c.hint || ''),
      h('td', { class: 'mono hint' }, c.counters
        ? Object.entries(c.counters).map(([k, v]) => `${k}=${v}`).join('  ') : '')))));
  }
  await load();
  ctx.every(3000, load);
  let pending = false;
  ctx.onLeave(live.subscribe([], (msg) => {
    if (msg.type !== 'health_changed' || pending) return;
    pending = true;
    setTimeout(() => { pending = false; if (ctx.alive()) load(); }, 250);
  }));
}
