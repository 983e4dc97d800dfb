// Experiments: each experiment's arms with their Beta posteriors and the
// probability that each is best. Refreshed every 5 s.

import { get } from '../api.js';
import { h, replace, loading, empty, failure, num, numText, table } from '../dom.js';

export async function render(root, _params, ctx) {
  const box = h('div', { testid: 'experiments' }, loading());
  replace(root, h('h1', {}, 'Experiments'), box);

  async function load() {
    let data;
    try {
      data = await get('/api/v1/operator/experiments');
    } catch (err) {
      if (ctx.alive()) replace(box, failure(err));
      return;
    }
    if (!ctx.alive()) return;
    const exps = data.experiments || [];
    if (!exps.length) {
      replace(box, empty('No experiments configured (blocks experiment "NAME" in the host configuration).'));
      return;
    }
    replace(box, exps.map((e) => {
      const arms = e.arms || [];
      const best = Math.max(...arms.map((a) => a.p_best ?? 0));
      return h('section', { class: 'panel', testid: 'experiment', dataset: { experiment: e.name } },
        h('div', { class: 'row' },
          h('h2', {}, e.name),
          h('span', { class: 'badge', testid: 'experiment-assignment' }, e.assignment),
          h('span', { class: 'muted' }, `${e.markers ?? 0} stimulus markers`)),
        arms.length ? table(
          ['Arm', { label: 'n', class: 'num' }, { label: 'no reward', class: 'num' }, { label: 'reward sum', class: 'num' },
            { label: 'mean reward', class: 'num' }, { label: 'α', class: 'num' }, { label: 'β', class: 'num' },
            { label: 'posterior mean', class: 'num' }, { label: '95% CI', class: 'num' }, { label: 'P(best)', class: 'num' }, ''],
          arms.map((a) => {
            const fill = h('span', {});
            fill.style.width = `${Math.max(0, Math.min(1, a.p_best ?? 0)) * 100}%`; // CSSOM, allowed by the CSP
            return h('tr', { testid: 'arm-row', dataset: { arm: a.arm } },
              h('td', { class: 'mono', testid: 'arm-name' }, a.arm),
              h('td', { class: 'num' }, String(a.n ?? 0)),
              h('td', { class: 'num' }, String(a.no_reward ?? 0)),
              h('td', { class: 'num' }, num(a.reward_sum)),
              h('td', { class: 'num' }, num(a.mean_reward)),
              h('td', { class: 'num' }, num(a.alpha)),
              h('td', { class: 'num' }, num(a.beta)),
              h('td', { class: 'num' }, num(a.posterior_mean)),
              h('td', { class: 'num' }, `${numText(a.ci_low)}–${numText(a.ci_high)}`),
              h('td', { class: 'num', testid: 'arm-pbest' }, num(a.p_best)),
              h('td', {}, h('div', { class: 'bar' + (arms.length > 1 && a.p_best === best ? ' best' : ''), testid: 'arm-pbest-bar',
                title: `P(best) ${numText(a.p_best)}` }, fill)));
          })) : empty('No arms.'));
    }));
  }
  await load();
  ctx.every(5000, load);
}
