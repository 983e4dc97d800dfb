// The reward explanation of one segment, shared by the live page and the
// segment detail: per face, the numbers the gated reward came from.

import { h, num, nil, table, empty, statusBadge } from '../dom.js';

export function rewardExplanation(analytics, summary) {
  const parts = [];
  if (summary) {
    parts.push(h('div', { class: 'row', testid: 'reward-segment', dataset: { index: summary.index } },
      h('span', { class: 'mono' }, `segment #${summary.index}`),
      summary.status ? statusBadge(summary.status) : null,
      summary.reasons && summary.reasons.length ? h('span', { class: 'hint' }, summary.reasons.join(', ')) : null));
  }
  const reward = analytics ? analytics.reward : summary ? summary.reward : null;
  parts.push(h('div', { class: 'row' }, h('span', { class: 'muted' }, 'segment reward'),
    h('span', { class: 'reward-big', testid: 'segment-reward' },
      reward === null || reward === undefined ? nil('no face had a reward') : num(reward))));
  if (!analytics) {
    parts.push(empty('No analytics for this segment.'));
    return parts;
  }
  const faces = analytics.faces || [];
  if (!faces.length) {
    parts.push(empty(`No faces with ${analytics.au || 'AU'} data in this segment.`));
  } else {
    parts.push(table(
      ['Face', { label: 'frames in window', class: 'num' }, { label: `p90 ${analytics.au || 'intensity'}`, class: 'num' },
        'intensity source', { label: 'baseline (neutral)', class: 'num' }, { label: 'semantic gate', class: 'num' },
        { label: 'gated reward', class: 'num' }],
      faces.map((f) => h('tr', { testid: 'reward-face', dataset: { face: f.face } },
        h('td', { class: 'mono' }, `face${f.face}`),
        h('td', { class: 'num' }, String(f.n_frames_in_window ?? 0)),
        h('td', { class: 'num' }, num(f.p90_intensity)),
        h('td', { class: 'hint' }, f.intensity_source || '—'),
        h('td', { class: 'num' }, num(f.baseline_b_neutral)),
        h('td', { class: 'num' }, num(f.semantic_gate)),
        h('td', { class: 'num', testid: 'gated-reward' },
          f.gated_reward === null || f.gated_reward === undefined ? nil(f.null_reason) : num(f.gated_reward))))));
  }
  if (analytics.comodulation) {
    const c = analytics.comodulation;
    parts.push(h('p', { class: 'hint' }, `co-modulation ${c.a || ''} × ${c.b || ''}: `,
      c.value === null || c.value === undefined ? nil(c.null_reason) : num(c.value)));
  }
  return parts;
}
