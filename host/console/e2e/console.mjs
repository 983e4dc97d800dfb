// Drives the operator console in Chromium (Debian's, through
// playwright-core) against a running host and checks every page.
//
//   LSIE_CONSOLE_URL        the host's API base, e.g. http://127.0.0.1:8080 (required)
//   LSIE_CONSOLE_TOKEN      its API token; empty or unset: the host has none
//   LSIE_SCREENSHOT_DIR     where the full-page screenshots go (required)
//   LSIE_CONSOLE_STREAM     the stream the live page watches (default: the first)
//   LSIE_CONSOLE_SUBJECT    a physiology subject that must be listed (optional)
//   LSIE_CONSOLE_EXPERIMENT NAME:ARM,ARM an experiment and arms that must be listed (optional)
//   LSIE_CONSOLE_TIMEOUT_S  how long to wait for each condition (default 120)
//   LSIE_PLAYWRIGHT_CORE    playwright-core's folder (default var/node/node_modules/
//                           playwright-core of this repository: scripts/fetch-playwright.sh)
//   LSIE_CHROMIUM           the browser (default /usr/bin/chromium)
//
// Exits 0 when every check passed, 1 with the failing step's name and
// reason otherwise (and a screenshot failure-STEP.png).

import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const env = (k, d) => (process.env[k] === undefined ? d : process.env[k]);
const base = env('LSIE_CONSOLE_URL', '').replace(/\/$/, '');
const token = env('LSIE_CONSOLE_TOKEN', '');
const shots = env('LSIE_SCREENSHOT_DIR', '');
const wantStream = env('LSIE_CONSOLE_STREAM', '');
const wantSubject = env('LSIE_CONSOLE_SUBJECT', '');
const wantExperiment = env('LSIE_CONSOLE_EXPERIMENT', '');
const timeout = Number(env('LSIE_CONSOLE_TIMEOUT_S', '120')) * 1000;
const pwDir = env('LSIE_PLAYWRIGHT_CORE', path.join(repo, 'var/node/node_modules/playwright-core'));
const chromiumPath = env('LSIE_CHROMIUM', '/usr/bin/chromium');

function fail(msg) {
  console.error(`console.mjs: FAIL: ${msg}`);
  process.exit(1);
}
if (!base) fail('LSIE_CONSOLE_URL is not set');
if (!shots) fail('LSIE_SCREENSHOT_DIR is not set');
if (!fs.existsSync(path.join(pwDir, 'index.mjs'))) fail(`playwright-core is not at ${pwDir} (run scripts/fetch-playwright.sh)`);
if (!fs.existsSync(chromiumPath)) fail(`no browser at ${chromiumPath} (apt-get install chromium; scripts/setup.sh does it)`);
fs.mkdirSync(shots, { recursive: true });

const { chromium } = await import(pathToFileURL(path.join(pwDir, 'index.mjs')).href);

const problems = [];   // console errors, page errors, CSP violations, failed loads
let expect401 = false; // the login checks cause 401s on purpose
const log = (...a) => console.log('console.mjs:', ...a);

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(timeout);
page.on('console', (m) => {
  const text = m.text();
  if (/Content.Security.Policy|Refused to (load|execute|apply|connect|frame)/i.test(text)) {
    problems.push(`CSP violation: ${text}`);
  } else if (m.type() === 'error') {
    if (/status of 401/.test(text)) return; // expected: probes, the login checks; an unexpected 401 fails its page
    problems.push(`console error: ${text} (${m.location().url || ''})`);
  }
});
page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
page.on('response', (r) => {
  if (r.status() >= 400 && !(r.status() === 401 && (expect401 || r.url().endsWith('/api/v1/streams')))) {
    problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  }
});

let current = 'start';
async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  try {
    await fn();
  } catch (err) {
    const file = path.join(shots, `failure-${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`console.mjs: page text at failure:\n${(await page.locator('body').innerText().catch(() => '')).slice(0, 4000)}`);
    await browser.close().catch(() => {});
    fail(`step "${name}": ${err.message.split('\n')[0]}${problems.length ? `\n  also: ${problems.join('\n  also: ')}` : ''}\n  screenshot: ${file}`);
  }
  if (problems.length) {
    await page.screenshot({ path: path.join(shots, `failure-${name}.png`), fullPage: true }).catch(() => {});
    await browser.close().catch(() => {});
    fail(`step "${name}": the page reported problems:\n  ${problems.join('\n  ')}`);
  }
  log(`ok ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

const tid = (id) => page.locator(`[data-testid="${id}"]`);
const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
async function until(what, fn, ms = timeout) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) { last = err.message; }
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`);
    await page.waitForTimeout(250);
  }
}
async function visit(hash) {
  await page.evaluate((hh) => { location.hash = hh; }, hash);
  await until(`page ${hash}`, async () => (await page.locator('#app').getAttribute('data-page')) === hash.split('/')[1]);
}
async function noErrorState() {
  const n = await tid('state-error').count();
  if (n) throw new Error(`the page shows an error: ${await tid('state-error').first().innerText()}`);
}

await step('login', async () => {
  const resp = await page.goto(base + '/', { waitUntil: 'load' });
  const ct = resp ? resp.headers()['content-type'] || '' : '';
  if (!resp || resp.status() !== 200 || !ct.startsWith('text/html')) {
    throw new Error(`GET ${base}/ answered ${resp ? resp.status() : 'nothing'} (${ct}), not the console page: is host/console's Handler mounted on the API server?`);
  }
  if (!/script-src 'self'/.test(resp.headers()['content-security-policy'] || '')) throw new Error('the console page has no strict Content-Security-Policy');
  if (!token) {
    await tid('nav').waitFor({ state: 'visible' });
    log('the host has no token: no login form');
    return;
  }
  expect401 = true;
  await tid('login-form').waitFor({ state: 'visible' });
  if (await tid('nav').isVisible()) throw new Error('the nav bar shows on the login page');
  await tid('login-token').fill(token + '-wrong');
  await tid('login-submit').click();
  await until('the refusal message', async () => /401|refused/i.test(await tid('login-message').innerText()));
  await shot('login');
  await tid('login-token').fill(token);
  await tid('login-submit').click();
  await tid('nav').waitFor({ state: 'visible' });
  await tid('login-form').waitFor({ state: 'detached' });
  expect401 = false;
  const stored = await page.evaluate(() => ({ session: sessionStorage.getItem('lsie.token'), local: localStorage.length }));
  if (stored.session !== token) throw new Error(`sessionStorage holds ${JSON.stringify(stored.session)}, not the token`);
  if (stored.local !== 0) throw new Error('something was written to localStorage');
  if (page.url().includes(token)) throw new Error(`the token is in the URL ${page.url()}`);
});

let stream = wantStream;
await step('overview', async () => {
  await visit('#/overview');
  await tid('stream-row').first().waitFor();
  await noErrorState();
  const rows = await tid('stream-row').evaluateAll((els) => els.map((e) => ({
    id: e.dataset.stream, health: e.querySelector('[data-testid="stream-health"]')?.dataset.health,
  })));
  if (!stream) stream = rows[0].id;
  const row = rows.find((r) => r.id === stream);
  if (!row) throw new Error(`stream ${stream} is not listed (have ${rows.map((r) => r.id).join(', ')})`);
  if (!/^(ok|starting|degraded|recovering|error|failed|stopped)$/.test(row.health || '')) throw new Error(`stream ${stream} shows health ${row.health}`);
  const host = await tid('host-health').getAttribute('data-health');
  if (!host || host === 'unknown') throw new Error(`host health shows ${host}`);
  log(`streams: ${rows.map((r) => `${r.id}=${r.health}`).join(', ')}; host ${host}`);
  await shot('overview');
});

await step('live', async () => {
  await visit(`#/live/${encodeURIComponent(stream)}`);
  await tid('au-plot').waitFor();
  await until('the live connection', async () => (await tid('ws-status').getAttribute('data-state')) === 'connected');
  const counts = () => page.evaluate(() => {
    const q = (id) => document.querySelector(`[data-testid="${id}"]`);
    return {
      au: Number(q('au-plot').dataset.points), prosody: Number(q('prosody-plot').dataset.points),
      finals: Number(q('transcript').dataset.finals), partials: Number(q('transcript').dataset.partials),
      closed: Number(q('reward').dataset.closed),
    };
  });
  const first = await counts();
  log(`live at open: ${JSON.stringify(first)}`);
  // Live values arrive: plotted points and transcript lines grow, and
  // segments close (segment_closed updates the reward explanation).
  const grew = await until('plotted points or transcript lines to increase', async () => {
    const c = await counts();
    return c.au + c.prosody >= first.au + first.prosody + 5 || c.finals + c.partials > first.finals + first.partials ? c : null;
  });
  log(`live values arrived: ${JSON.stringify(grew)}`);
  const closed = await until('a segment_closed message', async () => {
    const c = await counts();
    return c.closed > first.closed ? c : null;
  });
  await tid('reward-segment').waitFor();
  await tid('segment-reward').waitFor();
  const later = await until('more plotted points', async () => {
    const c = await counts();
    return c.au + c.prosody > closed.au + closed.prosody ? c : null;
  });
  log(`live later: ${JSON.stringify(later)}; reward panel: ${(await tid('reward').innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
  await noErrorState();
  await shot('live');
});

await step('experiments', async () => {
  await visit('#/experiments');
  await until('experiments or their empty state', async () => (await tid('experiment').count()) + (await tid('state-empty').count()) > 0);
  await noErrorState();
  if (wantExperiment) {
    const [name, arms] = wantExperiment.split(':');
    const exp = page.locator(`[data-testid="experiment"][data-experiment="${name}"]`);
    await exp.waitFor();
    const have = await exp.locator('[data-testid="arm-row"]').evaluateAll((els) => els.map((e) => e.dataset.arm));
    for (const a of (arms || '').split(',').filter(Boolean)) {
      if (!have.includes(a)) throw new Error(`experiment ${name} lacks arm ${a} (has ${have.join(', ')})`);
    }
    if ((await exp.locator('[data-testid="arm-pbest-bar"]').count()) !== have.length) throw new Error('a P(best) bar is missing');
    log(`experiment ${name}: arms ${have.join(', ')}`);
  }
  await shot('experiments');
});

await step('physiology', async () => {
  await visit('#/physiology');
  await until('subjects or their empty state', async () => (await tid('subject-row').count()) + (await tid('state-empty').count()) > 0);
  await noErrorState();
  const rows = await tid('subject-row').evaluateAll((els) => els.map((e) => {
    const b = e.querySelector('[data-testid="subject-state"]');
    return { subject: e.dataset.subject, state: e.dataset.state, label: b?.textContent, cls: b?.className, color: b ? getComputedStyle(b).color : '' };
  }));
  for (const r of rows) {
    if (!r.cls.split(' ').includes(`state-${r.state}`)) throw new Error(`subject ${r.subject}: badge class ${r.cls} lacks state-${r.state}`);
  }
  // Distinct states look distinct: label and colour.
  const byState = new Map(rows.map((r) => [r.state, r]));
  const labels = new Set([...byState.values()].map((r) => r.label));
  const colors = new Set([...byState.values()].map((r) => r.color));
  if (labels.size !== byState.size || colors.size !== byState.size) throw new Error(`states not distinct: ${JSON.stringify([...byState.values()])}`);
  // LSIE_CONSOLE_STATES=subject=state,...: each subject shows that state.
  for (const pair of (process.env.LSIE_CONSOLE_STATES || '').split(',').filter(Boolean)) {
    const [subject, state] = pair.split('=');
    const r = rows.find((x) => x.subject === subject);
    if (!r) throw new Error(`subject ${subject} is not listed (have ${rows.map((x) => x.subject).join(', ')})`);
    if (r.state !== state) throw new Error(`subject ${subject}: state ${r.state}, want ${state}`);
  }
  if (wantSubject) {
    const r = rows.find((x) => x.subject === wantSubject);
    if (!r) throw new Error(`subject ${wantSubject} is not listed (have ${rows.map((x) => x.subject).join(', ')})`);
  }
  await tid('physiology-comodulation').waitFor();
  log(`subjects: ${rows.map((r) => `${r.subject}=${r.label}`).join(', ') || 'none'}`);
  await shot('physiology');
});

await step('health', async () => {
  await visit('#/health');
  await tid('component-row').first().waitFor();
  await noErrorState();
  const comps = await tid('component-row').evaluateAll((els) => els.map((e) => `${e.dataset.kind}:${e.dataset.name}=${e.dataset.health}`));
  if (!comps.some((c) => c.startsWith(`stream:${stream}=`))) throw new Error(`no stream component ${stream} (have ${comps.join(', ')})`);
  const errors = comps.filter((c) => /=(error|failed)$/.test(c));
  if (errors.length && !(await tid('health-errors').count())) throw new Error(`components in error ${errors} but no error banner`);
  log(`components: ${comps.join(', ')}`);
  await shot('health');
});

await step('sessions', async () => {
  await visit('#/sessions');
  await tid('session-row').first().waitFor();
  await noErrorState();
  const row = page.locator(`[data-testid="session-row"][data-stream="${stream}"]`).first();
  await (await row.count() ? row : tid('session-row').first()).click();
  await tid('segment-row').first().waitFor();
  await noErrorState();
  await shot('sessions');
  const n = await tid('segment-row').count();
  await tid('segment-row').first().click();
  await tid('segment-detail').waitFor();
  await noErrorState();
  const status = await tid('segment-detail').locator('[data-testid="segment-status"]').getAttribute('data-status');
  const plugins = await tid('plugin-block').count();
  const aggs = await tid('aggregate-row').count();
  if (!status || status === 'unknown') throw new Error(`segment status ${status}`);
  if (plugins === 0 || aggs === 0) throw new Error(`segment detail shows ${plugins} plugins, ${aggs} aggregate rows`);
  for (const s of ['segment-analytics', 'segment-telemetry', 'segment-enrichment']) await tid(s).waitFor();
  log(`sessions: ${n} segments on the first page; segment ${await tid('segment-detail').getAttribute('data-index')}: ${status}, ${plugins} plugins, ${aggs} aggregate rows`);
  await shot('segment');
});

await step('alerts', async () => {
  await visit('#/alerts');
  // The page lists what the rules raised, newest first; a row opens the
  // alert with the values that made it true.
  await tid('alert-row').first().waitFor();
  await noErrorState();
  const n = await tid('alert-row').count();
  await shot('alerts');
  await tid('alert-row').first().click();
  await tid('alert-detail').waitFor();
  await noErrorState();
  const values = await tid('alert-value').count();
  const message = await tid('alert-message').textContent();
  if (values === 0 || !message) throw new Error(`alert detail shows ${values} values, message ${JSON.stringify(message)}`);
  log(`alerts: ${n} listed; ${await tid('alert-detail').getAttribute('data-id')}: ${values} values, "${message}"`);
  await shot('alert');
});

await step('token-refused', async () => {
  if (!token) return;
  expect401 = true;
  await page.evaluate(() => sessionStorage.setItem('lsie.token', 'not-the-token'));
  await page.reload({ waitUntil: 'load' });
  await tid('login-form').waitFor({ state: 'visible' });
  const msg = await tid('login-message').innerText();
  if (!/401|refused/i.test(msg)) throw new Error(`login message ${JSON.stringify(msg)}`);
  if (await page.evaluate(() => sessionStorage.getItem('lsie.token'))) throw new Error('the refused token stayed stored');
});

await browser.close();
log(`PASS: screenshots in ${shots}`);
