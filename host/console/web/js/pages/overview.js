// Overview: every stream with its health, plugins, segments and rate, and
// the host's health. Refreshed every 5 s.

import { get } from '../api.js';
import { h, replace, loading, empty, failure, healthBadge, statusBadge, num, table, nil } from '../dom.js';

export async function render(root, _params, ctx) {
  const hostBox = h('div', { testid: 'overview-host' }, loading());
  const streamsBox = h('div', { testid: 'overview-streams' }, loading());
  const updated = h('span', { class: 'hint', testid: 'overview-updated' });
  replace(root,
    h('div', { class: 'row' }, h('h1', {}, 'Overview'), updated),
    h('section', { class: 'panel' }, h('h2', {}, 'Host'), hostBox),
    h('section', { class: 'panel' }, h('h2', {}, 'Streams'), streamsBox));

  async function load() {
    let data;
    try {
      data = await get('/api/v1/operator/overview');
    } catch (err) {
      if (!ctx.alive()) return;
      replace(streamsBox, failure(err));
      replace(hostBox, h('span', { class: 'muted' }, '—'));
      return;
    }
    if (!ctx.alive()) return;
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    const host = data.host || {};
    const comps = host.components || [];
    const bad = comps.filter((c) => c.health && c.health !== 'ok');
    replace(hostBox,
      h('div', { class: 'row' },
        healthBadge(host.status, 'host-health'),
        h('span', { class: 'muted' }, `version ${host.version || '?'}`),
        h('span', { class: 'muted' }, `${comps.length} components, ${bad.length} not ok`),
        h('a', { href: '#/health' }, 'details')),
      bad.length ? h('ul', {}, bad.map((c) => h('li', {}, `${c.kind} ${c.name}: `, healthBadge(c.health),
        c.hint ? h('span', { class: 'hint' }, ' ' + c.hint) : null))) : null);
    const streams = data.streams || [];
    if (!streams.length) {
      replace(streamsBox, empty('No streams. Add one in the configuration or with POST /api/v1/streams.'));
      return;
    }
    replace(streamsBox, table(
      ['Stream', 'Source', 'Health', 'Plugins', { label: 'Segments', class: 'num' }, 'Last segment',
        { label: 'Reward', class: 'num' }, { label: 'Frames/s', class: 'num' }, ''],
      streams.map((s) => {
        const last = s.last_segment;
        return h('tr', { testid: 'stream-row', dataset: { stream: s.id }, class: s.health === 'error' ? 'row-error' : '' },
          h('td', { class: 'mono', testid: 'stream-id' }, s.id),
          h('td', { class: 'mono' }, s.source),
          h('td', {}, healthBadge(s.health, 'stream-health'), s.hint ? h('div', { class: 'hint', testid: 'stream-hint' }, s.hint) : null),
          h('td', {}, (s.plugins || []).join(', ') || h('span', { class: 'muted' }, 'none')),
          h('td', { class: 'num', testid: 'stream-segments' }, String(s.segments ?? 0)),
          h('td', {}, last
            ? [h('span', { class: 'mono' }, `#${last.index} `), statusBadge(last.status),
              last.reasons && last.reasons.length ? h('div', { class: 'hint' }, last.reasons.join(', ')) : null,
              h('div', { class: 'hint' }, `frames ${last.frames_seen ?? 0} seen, ${last.frames_dropped ?? 0} dropped`)]
            : h('span', { class: 'muted' }, 'none yet')),
          h('td', { class: 'num' }, last ? (last.reward === null || last.reward === undefined ? nil() : num(last.reward)) : '—'),
          h('td', { class: 'num', testid: 'stream-fps' }, num(s.frames_per_s, 1)),
          h('td', {}, h('a', { href: `#/live/${encodeURIComponent(s.id)}` }, 'live')));
      })));
  }
  await load();
  ctx.every(5000, load);
}
