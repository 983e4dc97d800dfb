// Live session: one stream's transcript, AU and prosody plots from
// `result` messages, and the reward explanation of its latest closed
// segment from `segment_closed`.

import { get, enc } from '../api.js';
import { h, replace, loading, empty, failure, healthBadge } from '../dom.js';
import { Plot } from '../plot.js';
import * as live from '../ws.js';
import { rewardExplanation } from './analytics.js';

const MAX_LINES = 300;

export async function render(root, params, ctx) {
  const list = await get('/api/v1/streams');
  if (!ctx.alive()) return;
  const streams = list.streams || [];
  if (!streams.length) {
    replace(root, h('h1', {}, 'Live session'), empty('No streams to watch.'));
    return;
  }
  let id = params[0];
  if (!id || !streams.some((s) => s.id === id)) {
    if (id) {
      replace(root, h('h1', {}, 'Live session'), failure(new Error(`no stream "${id}"`)));
      return;
    }
    id = streams[0].id;
    history.replaceState(null, '', `#/live/${enc(id)}`);
  }
  const picker = h('select', { testid: 'live-stream-picker', 'aria-label': 'stream' },
    streams.map((s) => h('option', { value: s.id, selected: s.id === id }, s.id)));
  picker.addEventListener('change', () => { location.hash = `#/live/${enc(picker.value)}`; });
  const healthBox = h('span', {}, healthBadge(streams.find((s) => s.id === id).health, 'live-health'));

  const auCanvas = h('canvas', { class: 'plot', testid: 'au-plot' });
  const auLegend = h('div', { class: 'legend', testid: 'au-legend' });
  const prosCanvas = h('canvas', { class: 'plot', testid: 'prosody-plot' });
  const prosLegend = h('div', { class: 'legend' });
  const transcript = h('div', { class: 'transcript', testid: 'transcript', dataset: { finals: '0', partials: '0' } });
  const partial = h('p', { class: 'partial', testid: 'transcript-partial', hidden: true });
  transcript.appendChild(partial);
  const reward = h('div', { testid: 'reward', dataset: { closed: '0' } }, loading());
  const status = h('p', { class: 'hint', testid: 'live-status' });

  replace(root,
    h('div', { class: 'row' }, h('h1', {}, 'Live session'), picker, healthBox, status),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel' }, h('h2', { testid: 'au-title' }, 'AU12 intensity per face'), auCanvas, auLegend),
      h('section', { class: 'panel' }, h('h2', {}, 'Prosody: f0 (Hz) and loudness'), prosCanvas, prosLegend),
      h('section', { class: 'panel' }, h('h2', {}, 'Transcript'), transcript),
      h('section', { class: 'panel wide' }, h('h2', {}, 'Reward of the latest closed segment'), reward)));

  const au = new Plot(auCanvas, { windowMs: 30000, legend: auLegend });
  const pros = new Plot(prosCanvas, { windowMs: 30000, separateAxes: true, minGapMs: 100, legend: prosLegend }); // acoustic: 100 frames/s
  au.draw();
  pros.draw();
  let auName = 'au12';
  let finals = 0, partials = 0, closed = 0;
  const auField = () => new RegExp(`^face(\\d+)\\.${auName}$`);

  function addFinal(text, ptsNs) {
    if (!text) return;
    const line = h('p', { testid: 'transcript-line' },
      h('span', { class: 'ts' }, Number.isFinite(ptsNs) ? `${(ptsNs / 1e9).toFixed(1)} s` : ''), text);
    transcript.insertBefore(line, partial);
    finals++;
    transcript.dataset.finals = String(finals);
    const lines = transcript.querySelectorAll('[data-testid="transcript-line"]');
    for (let i = 0; i < lines.length - MAX_LINES; i++) lines[i].remove();
    partial.hidden = true;
    partial.textContent = '';
    transcript.scrollTop = transcript.scrollHeight;
  }

  function setPartial(text) {
    partial.textContent = text || '';
    partial.hidden = !text;
    partials++;
    transcript.dataset.partials = String(partials);
    transcript.scrollTop = transcript.scrollHeight;
  }

  function showReward(analytics, summary) {
    replace(reward, rewardExplanation(analytics, summary));
  }

  // Recent history first, so the plots are not empty on open.
  try {
    const d = await get(`/api/v1/operator/live/${enc(id)}`);
    if (!ctx.alive()) return;
    if (d.health) replace(healthBox, healthBadge(d.health, 'live-health'));
    if (d.analytics && d.analytics.au) auName = d.analytics.au;
    const series = d.series || {};
    for (const [face, pts] of Object.entries(series[auName] || series.au12 || {})) {
      for (const [t, v] of pts || []) au.add(face, t, v);
    }
    for (const name of ['f0_hz', 'loudness']) for (const [t, v] of series[name] || []) pros.add(name, t, v);
    for (const line of d.transcript || []) {
      if (line.final === false) setPartial(line.text);
      else addFinal(line.text, line.pts_ns);
    }
    if (d.last_segment || d.analytics) showReward(d.analytics, d.last_segment);
    else replace(reward, empty('No segment has closed yet.'));
  } catch (err) {
    if (!ctx.alive()) return;
    replace(reward, failure(err));
  }
  document.querySelector('[data-testid="au-title"]').textContent = `${auName.toUpperCase()} intensity per face`;
  if (!transcript.querySelector('[data-testid="transcript-line"]') && partial.hidden) {
    status.textContent = 'waiting for live values…';
  }

  const re = auField();
  ctx.onLeave(live.subscribe([id], (msg) => {
    if (!ctx.alive() || msg.stream !== id) return;
    const d = msg.data || {};
    if (msg.type === 'result') {
      status.textContent = '';
      // The plots' time is wall-clock ms, as the history's series are: the
      // message's time (media time restarts when a source loops).
      const t = msg.at ? Date.parse(msg.at) : Date.now();
      const topic = d.topic || '';
      if (topic.startsWith('transcript.partial')) setPartial(d.text);
      else if (topic.startsWith('transcript.final')) addFinal(d.text, d.pts_ns);
      for (const [k, v] of Object.entries(d.fields || {})) {
        const m = re.exec(k);
        if (m) au.add(`face${m[1]}`, t, v);
        else if (k === 'f0_hz' || k === 'loudness') pros.add(k, t, v);
      }
    } else if (msg.type === 'segment_closed') {
      closed++;
      reward.dataset.closed = String(closed);
      showReward(d.analytics || null, { index: d.index, status: d.status, reward: d.reward });
    } else if (msg.type === 'health_changed') {
      if (d.kind === 'stream' && d.name === id && d.health) replace(healthBox, healthBadge(d.health, 'live-health'));
    }
  }));
}
