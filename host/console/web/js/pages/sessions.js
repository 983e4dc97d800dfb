// Sessions: past runs of each stream; a session opens a paged segment
// browser, a segment its detail.
//
//   #/sessions                         the sessions
//   #/sessions/STREAM/from/N           segments of STREAM from index N
//   #/sessions/STREAM/segment/I        segment I of STREAM

import { get, enc } from '../api.js';
import { h, replace, empty, failure, num, numText, table, time, statusBadge, loading } from '../dom.js';
import { rewardExplanation } from './analytics.js';

const PAGE = 25;

export async function render(root, params, ctx) {
  const [stream, what, arg] = params;
  if (!stream) return list(root, ctx);
  if (what === 'segment') return detail(root, stream, Number(arg), ctx);
  return segments(root, stream, what === 'from' ? Number(arg) || 0 : 0, ctx);
}

function span(a, b) {
  if (!a || !b) return '';
  const s = (new Date(b) - new Date(a)) / 1000;
  return Number.isFinite(s) ? `${s.toFixed(0)} s` : '';
}

async function list(root, ctx) {
  replace(root, h('h1', {}, 'Sessions'), loading());
  const data = await get('/api/v1/operator/sessions');
  if (!ctx.alive()) return;
  const sessions = data.sessions || [];
  replace(root, h('h1', {}, 'Sessions'), h('section', { class: 'panel', testid: 'sessions' }, sessions.length
    ? table(['Run', 'Stream', { label: 'Segments', class: 'num' }, 'Indexes', 'Start', 'End', { label: 'Span', class: 'num' }],
      sessions.map((s) => {
        const go = () => { location.hash = `#/sessions/${enc(s.stream_id)}/from/${s.first_index}`; };
        return h('tr', { class: 'clickable', testid: 'session-row', tabindex: 0,
          dataset: { run: s.run_id, stream: s.stream_id }, onclick: go, onkeydown: (e) => { if (e.key === 'Enter') go(); } },
        h('td', { class: 'mono' }, String(s.run_id)),
        h('td', { class: 'mono' }, s.stream_id),
        h('td', { class: 'num' }, String(s.segments)),
        h('td', { class: 'mono' }, `${s.first_index}–${s.last_index}`),
        h('td', {}, time(s.wall_start)),
        h('td', {}, time(s.wall_end)),
        h('td', { class: 'num' }, span(s.wall_start, s.wall_end)));
      }))
    : empty('No sessions recorded yet.')));
}

async function segments(root, stream, since, ctx) {
  const title = h('div', { class: 'row' }, h('a', { href: '#/sessions' }, '‹ Sessions'),
    h('h1', {}, `Segments of ${stream}`), h('span', { class: 'muted' }, `from #${since}`));
  replace(root, title, loading());
  const data = await get(`/api/v1/streams/${enc(stream)}/segments?since=${since}&limit=${PAGE}`);
  if (!ctx.alive()) return;
  const segs = data.segments || [];
  const next = data.next_since;
  const pager = h('div', { class: 'pager', testid: 'segments-pager' },
    since > 0 ? h('a', { href: `#/sessions/${enc(stream)}/from/${Math.max(0, since - PAGE)}`, testid: 'segments-prev' }, '‹ Earlier') : null,
    h('span', { class: 'muted' }, segs.length ? `#${segs[0].index}–#${segs[segs.length - 1].index}` : ''),
    next !== null && next !== undefined && segs.length
      ? h('a', { href: `#/sessions/${enc(stream)}/from/${next}`, testid: 'segments-next' }, 'Later ›') : null);
  replace(root, title, h('section', { class: 'panel', testid: 'segments' }, segs.length
    ? [pager, table(['Index', 'Status', 'Reasons', 'Wall start', 'Wall end', { label: 'Frames', class: 'num' },
      { label: 'Dropped', class: 'num' }, { label: 'Audio s', class: 'num' }, 'Plugins'],
    segs.map((s) => {
      const go = () => { location.hash = `#/sessions/${enc(stream)}/segment/${s.index}`; };
      return h('tr', { class: 'clickable', testid: 'segment-row', tabindex: 0, dataset: { index: s.index }, onclick: go,
        onkeydown: (e) => { if (e.key === 'Enter') go(); } },
      h('td', { class: 'mono' }, `#${s.index}`),
      h('td', {}, statusBadge(s.status)),
      h('td', { class: 'hint' }, (s.reasons || []).join(', ')),
      h('td', {}, time(s.wall_start)),
      h('td', {}, time(s.wall_end)),
      h('td', { class: 'num' }, String(s.frames_seen ?? 0)),
      h('td', { class: 'num' }, String(s.frames_dropped ?? 0)),
      h('td', { class: 'num' }, num(s.audio_seconds, 2)),
      h('td', { class: 'hint' }, Object.keys(s.plugins || {}).join(', ')));
    }))]
    : empty(`No segments of ${stream} from #${since}.`)));
}

async function detail(root, stream, index, ctx) {
  const back = h('a', { href: `#/sessions/${enc(stream)}/from/${Math.max(0, index - (index % PAGE))}` }, '‹ Segments');
  replace(root, h('div', { class: 'row' }, back, h('h1', {}, `${stream} #${index}`)), loading());
  const seg = await get(`/api/v1/segments/${enc(stream)}/${index}`);
  if (!ctx.alive()) return;
  const sec = (ns) => (typeof ns === 'number' ? `${(ns / 1e9).toFixed(3)} s` : '—');
  const plugins = Object.entries(seg.plugins || {}).sort(([a], [b]) => a.localeCompare(b));
  replace(root,
    h('div', { class: 'row' }, back, h('h1', {}, `${stream} #${index}`), statusBadge(seg.status),
      h('a', { href: `#/sessions/${enc(stream)}/segment/${index - 1}`, hidden: index <= 0 }, '‹ prev'),
      h('a', { href: `#/sessions/${enc(stream)}/segment/${index + 1}` }, 'next ›')),
    h('section', { class: 'panel', testid: 'segment-detail', dataset: { stream, index } },
      h('h2', {}, 'Segment'),
      h('dl', { class: 'kv' },
        h('dt', {}, 'status'), h('dd', {}, statusBadge(seg.status)),
        h('dt', {}, 'reasons'), h('dd', { testid: 'segment-reasons' }, (seg.reasons || []).join(', ') || '—'),
        h('dt', {}, 'media'), h('dd', { class: 'mono' }, `${sec(seg.media_start_ns)} – ${sec(seg.media_end_ns)}`),
        h('dt', {}, 'wall'), h('dd', {}, time(seg.wall_start), ' – ', time(seg.wall_end)),
        h('dt', {}, 'frames'), h('dd', {}, `${seg.frames_seen ?? 0} seen, ${seg.frames_dropped ?? 0} dropped`),
        h('dt', {}, 'audio'), h('dd', {}, `${numText(seg.audio_seconds, 2)} s`))),
    h('section', { class: 'panel', testid: 'segment-plugins' }, h('h2', {}, 'Plugins'),
      plugins.length ? [fieldFilter(), plugins.map(([name, p]) => pluginBlock(name, p))] : empty('No plugin results.')),
    h('section', { class: 'panel', testid: 'segment-analytics' }, h('h2', {}, 'Analytics'),
      seg.analytics ? rewardExplanation(seg.analytics, null) : empty('No analytics for this segment.')),
    h('section', { class: 'panel', testid: 'segment-telemetry' }, h('h2', {}, 'Telemetry'), telemetry(seg.telemetry || [])),
    h('section', { class: 'panel', testid: 'segment-enrichment' }, h('h2', {}, 'Enrichment'), enrichment(seg.enrichment || [])));
}

function pluginBlock(name, p) {
  const aggs = Object.entries(p.aggregates || {}).sort(([a], [b]) => a.localeCompare(b));
  const stat = (a, k) => h('td', { class: 'num' }, num(a[k]));
  // Plugins with many fields (au: every face × every AU) start folded.
  return h('details', { testid: 'plugin-block', dataset: { plugin: name }, open: aggs.length <= 40 },
    h('summary', {}, h('strong', {}, name), h('span', { class: 'muted' },
      ` ${p.version || ''} · ${p.frames_analysed ?? 0} frames analysed · ${p.errors ?? 0} errors · ${(p.items || []).length} items` +
      (p.status ? ` · ${p.status}` : '') + ` · ${aggs.length} fields`)),
    aggs.length
      ? table(['Field', { label: 'n', class: 'num' }, { label: 'mean', class: 'num' }, { label: 'std', class: 'num' },
        { label: 'min', class: 'num' }, { label: 'p10', class: 'num' }, { label: 'p50', class: 'num' },
        { label: 'p90', class: 'num' }, { label: 'max', class: 'num' }],
      aggs.map(([field, a]) => h('tr', { testid: 'aggregate-row', dataset: { field } },
        h('td', { class: 'mono' }, field), h('td', { class: 'num' }, String(a.n ?? 0)),
        stat(a, 'mean'), stat(a, 'std'), stat(a, 'min'), stat(a, 'p10'), stat(a, 'p50'), stat(a, 'p90'), stat(a, 'max'))),
      { testid: 'aggregates' })
      : h('p', { class: 'hint' }, 'no aggregates'));
}

// fieldFilter hides the aggregate rows whose field does not contain its text.
function fieldFilter() {
  const input = h('input', { type: 'search', placeholder: 'filter fields, e.g. au12', testid: 'field-filter', 'aria-label': 'filter fields' });
  input.addEventListener('input', () => {
    const q = input.value.trim().toLowerCase();
    for (const row of document.querySelectorAll('[data-testid="aggregate-row"]')) {
      row.hidden = q !== '' && !row.dataset.field.toLowerCase().includes(q);
    }
    if (q) for (const d of document.querySelectorAll('details[data-testid="plugin-block"]')) d.open = true;
  });
  return h('div', { class: 'row' }, input);
}

function telemetry(events) {
  if (!events.length) return empty('No telemetry in this segment.');
  return table(['Time', 'Source', 'Kind', 'Subject', 'Detail', 'Late'], events.map((e) => h('tr', { testid: 'telemetry-row' },
    h('td', {}, time(e.time)),
    h('td', { class: 'mono' }, `${e.source}/${e.id}`),
    h('td', {}, e.kind),
    h('td', {}, e.subject || ''),
    h('td', { class: 'hint' }, [
      e.hr_bpm !== undefined && e.hr_bpm !== null ? `hr ${numText(e.hr_bpm, 1)} bpm` : '',
      e.rr_ms ? `${e.rr_ms.length} RR intervals` : '',
      e.experiment ? `experiment ${e.experiment} arm ${e.arm || '?'}` : '',
      e.type ? `type ${e.type}` : '',
      e.payload ? JSON.stringify(e.payload) : '',
    ].filter(Boolean).join(' · ')),
    h('td', {}, e.late ? 'late' : ''))));
}

function enrichment(jobs) {
  if (!jobs.length) return empty('No enrichment results.');
  return table(['Kind', 'Status', 'Attempts', 'At', 'Result'], jobs.map((j) => h('tr', { testid: 'enrichment-row' },
    h('td', { class: 'mono' }, j.kind),
    h('td', {}, statusBadge(j.status)),
    h('td', { class: 'num' }, String(j.attempts ?? 0)),
    h('td', {}, time(j.at)),
    h('td', {}, j.error ? h('span', { class: 'health-error' }, j.error)
      : j.result !== undefined ? h('pre', { class: 'json' }, JSON.stringify(j.result, null, 2)) : '—'))));
}
