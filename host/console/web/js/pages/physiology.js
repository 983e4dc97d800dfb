// Physiology: each subject's heart data and freshness, and the
// co-modulation between two series. Refreshed every 2 s (ages move).

import { get } from '../api.js';
import { h, replace, loading, empty, failure, num, nil, table, time } from '../dom.js';

// Each state has its own label, class and colour: never just a colour.
const STATES = {
  fresh: { label: 'FRESH', title: 'recent heart data with an RMSSD' },
  stale: { label: 'STALE', title: 'no event within stale_after' },
  absent: { label: 'ABSENT', title: 'no event within absent_after, or never' },
  'no-rmssd': { label: 'NO RMSSD', title: 'recent data but too few RR intervals for an RMSSD' },
};

export function stateBadge(state) {
  const s = STATES[state] || { label: String(state || 'unknown').toUpperCase(), title: '' };
  return h('span', { class: `badge state-${state}`, testid: 'subject-state', dataset: { state }, title: s.title }, s.label);
}

export async function render(root, _params, ctx) {
  const subjects = h('div', { testid: 'physiology-subjects' }, loading());
  const comod = h('div', { testid: 'physiology-comodulation' }, loading());
  const thresholds = h('p', { class: 'hint', testid: 'physiology-thresholds' });
  replace(root, h('h1', {}, 'Physiology'),
    h('section', { class: 'panel' }, h('h2', {}, 'Subjects'), subjects, thresholds),
    h('section', { class: 'panel' }, h('h2', {}, 'Co-modulation'), comod));

  async function load() {
    let data;
    try {
      data = await get('/api/v1/operator/physiology');
    } catch (err) {
      if (ctx.alive()) replace(subjects, failure(err));
      return;
    }
    if (!ctx.alive()) return;
    const t = data.thresholds;
    thresholds.textContent = t
      ? `RMSSD window ${t.window_s} s · stale after ${t.stale_after_s} s · absent after ${t.absent_after_s} s · at least ${t.min_intervals} RR intervals`
      : '';
    const list = data.subjects || [];
    replace(subjects, list.length ? table(
      ['Subject', 'State', { label: 'RMSSD (ms)', class: 'num' }, { label: 'HR (bpm)', class: 'num' },
        { label: 'RR intervals', class: 'num' }, 'Last event', { label: 'Age', class: 'num' }],
      list.map((s) => h('tr', { testid: 'subject-row', dataset: { subject: s.subject, state: s.state } },
        h('td', { class: 'mono', testid: 'subject-name' }, s.subject),
        h('td', {}, stateBadge(s.state)),
        h('td', { class: 'num', testid: 'subject-rmssd' }, num(s.rmssd_ms, 1)),
        h('td', { class: 'num', testid: 'subject-hr' }, num(s.hr_bpm, 1)),
        h('td', { class: 'num' }, String(s.rr_intervals ?? 0)),
        h('td', {}, s.last_at ? time(s.last_at) : h('span', { class: 'muted' }, 'never')),
        h('td', { class: 'num' }, s.age_s === undefined || s.age_s === null ? '—' : `${num(s.age_s, 1)} s`))))
      : empty('No subjects yet: heart data arrives as physiology events on POST /api/v1/telemetry.'));
    const c = data.comodulation;
    replace(comod, c
      ? h('dl', { class: 'kv' },
        h('dt', {}, 'series'), h('dd', { class: 'mono' }, `${c.a} × ${c.b}`),
        h('dt', {}, 'value'), h('dd', { testid: 'comodulation-value' },
          c.value === null || c.value === undefined ? nil(c.null_reason || 'no reason given') : num(c.value)),
        h('dt', {}, 'samples'), h('dd', {}, String(c.samples ?? 0)))
      : empty('Co-modulation is not configured (analytics { comodulation { … } }).'));
  }
  await load();
  ctx.every(2000, load);
}
