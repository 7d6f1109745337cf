#!/usr/bin/env node
// The web console in a real browser (issue 6, "Tested in a real browser"):
// Playwright (playwright-core) drives Debian's Chromium, headless, against a
// real platform brought up by `scn up` (its own PostgreSQL and Redis, the
// scheduler, the broker serving web/dist, agents, a stories260K service).
//
// Scenarios: (1) a tenant launches stories260K from the catalog, chats in the
// playground, creates an API key that works with plain HTTP and sees the
// request in usage; (2) an operator creates a join token and an agent started
// with the command shown joins and appears on the operator's page; (3) the
// admin sees the node and the replicas on the pool dashboard, its chart has
// data, and in Chinese every visible word is Chinese (names excepted); (4) a
// tenant typing another tenant's service URL gets an error page, no data.
//
// Environment: SCN_BINARY (the built scn), SCN_SHARED_DIR (models),
// SCN_SOURCE_DIR (the repository), SCN_SCREENSHOT_DIR (default
// ./web-screenshots), CHROMIUM (default /usr/bin/chromium). Exit status: 0
// passed, 1 failed, 77 skipped (something missing and CI is not "true").
// Everything started is stopped at the end (SIGINT to scn up), also on failure.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.SCN_SOURCE_DIR || resolve(here, '..', '..');
const BINARY = process.env.SCN_BINARY || join(SOURCE, 'build', 'scn');
const SHARED = process.env.SCN_SHARED_DIR || resolve(SOURCE, '..', 'shared');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = resolve(process.env.SCN_SCREENSHOT_DIR || 'web-screenshots');
const IN_CI = process.env.CI === 'true';
const SKIP = 77;

// The console's data-testids (web/README.md).
const T = {
  loginUser: 'login-username', loginPassword: 'login-password', loginSubmit: 'login-submit',
  whoami: 'whoami', langSwitch: 'lang-switch', errorPage: 'error-page',
  catalogSearch: 'catalog-search', modelCard: (m) => `model-card-${m}`, launch: (m) => `launch-${m}`,
  launchName: 'launch-name', launchReplicas: 'launch-replicas', launchSubmit: 'launch-submit',
  serviceLink: (s) => `service-link-${s}`, openPlayground: 'open-playground',
  chatKeyCreate: 'chat-key-create', chatKeyBox: 'chat-key-box', chatInput: 'chat-input', chatSend: 'chat-send',
  chatStreaming: 'chat-streaming', chatAssistant: 'chat-msg-assistant', chatStats: 'chat-stats',
  keyName: 'key-name', keyCreate: 'key-create', keySecret: 'key-secret',
  tokenCreate: 'token-create', tokenCommand: 'token-command', tokenNodeName: 'token-node-name',
  poolNodesReady: 'pool-nodes-ready', poolReplicasReady: 'pool-replicas-ready',
};

let failures = 0;
const started = Date.now();
function log(...a) { console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a); }
function skipOrFail(why) {
  if (IN_CI) { console.error(`FAIL: ${why} (CI=true: required)`); process.exit(1); }
  console.log(`SKIPPED: ${why}`);
  process.exit(SKIP);
}
function check(cond, what) {
  if (cond) { log(`ok: ${what}`); return; }
  failures++;
  console.error(`FAILED: ${what}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function eventually(what, ms, fn, every = 1000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { if (e.fatal) throw e; last = e; }
    if (Date.now() > end) throw new Error(`timed out (${ms / 1000}s) waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(every);
  }
}
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

// ---- what the test needs --------------------------------------------------
const [major] = process.versions.node.split('.').map(Number);
if (major < 18) skipOrFail(`node ${process.versions.node} is too old (18+)`);
if (!existsSync(CHROMIUM)) skipOrFail(`no Chromium at ${CHROMIUM} (scripts/install-deps.sh installs it)`);
if (!existsSync(BINARY)) skipOrFail(`no scn binary at ${BINARY} (set SCN_BINARY)`);
if (!existsSync(join(SHARED, 'models', 'stories260K.gguf'))) skipOrFail(`no ${SHARED}/models/stories260K.gguf`);
if (!existsSync(join(SOURCE, 'web', 'dist', 'index.html'))) skipOrFail('web/dist is not built (scripts/build.sh)');
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch (e) {
  skipOrFail(`npm package playwright-core is missing (cd web && npm ci): ${e.message}`);
}
mkdirSync(SHOTS, { recursive: true });

// ---- the platform ------------------------------------------------------------
const children = [];  // {name, proc}
function startChild(name, cmd, args, logFile, env = {}) {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile);
  let text = '';
  const take = (d) => { out.write(d); text += d.toString(); };
  proc.stdout.on('data', take);
  proc.stderr.on('data', take);
  const child = { name, proc, logFile, exited: null, text: () => text };
  proc.on('exit', (code, signal) => { child.exited = { code, signal }; out.end(); });
  children.push(child);
  return child;
}
async function stopChild(c, ms = 90000) {
  if (c.exited) return;
  c.proc.kill('SIGINT');
  const end = Date.now() + ms;
  while (!c.exited && Date.now() < end) await sleep(200);
  if (!c.exited) { console.error(`${c.name} did not stop in ${ms / 1000}s; killing it`); c.proc.kill('SIGKILL'); }
}
let cleaning = null;
async function cleanup() {
  if (!cleaning) cleaning = (async () => {
    for (const c of [...children].reverse()) await stopChild(c);
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup().then(() => process.exit(1)); });

const work = mkdtempSync(join(tmpdir(), 'scn-web-test-'));
chmodSync(work, 0o755);  // scn up runs PostgreSQL as user postgres under it
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let browser;
try {
  log(`scn up on ${base} (var ${work}/var)`);
  const up = startChild('scn up', BINARY,
    ['up', '--var', join(work, 'var'), '--port', String(port), '--shared-dir', SHARED, '--ready-timeout', '240'],
    join(work, 'up.log'), { SCN_PG_URL: '', SCN_REDIS_URL: '', SCN_SOURCE_DIR: SOURCE });
  await eventually('scn up to print its summary', 360000, () => {
    if (up.exited) throw Object.assign(new Error(`scn up exited (${JSON.stringify(up.exited)})`), { fatal: true });
    return up.text().includes('scn is up');
  }, 500);
  check(up.text().includes(`Console:      ${base}/`), 'scn up prints the console URL');
  check(!up.text().includes('WARNING'), 'the demo service became ready');
  const creds = JSON.parse(readFileSync(join(work, 'var', 'credentials.json'), 'utf8'));
  const pw = (u) => creds.passwords[u];
  const config = await (await fetch(`${base}/api/v1/config`)).json();
  check(/^http:\/\/127\.0\.0\.1:\d+$/.test(config.scheduler_url), `/api/v1/config has the scheduler URL (${config.scheduler_url})`);

  // An admin session for set-up through the API (a second tenant, lookups).
  async function session(username, password) {
    const r = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
    });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
    const cookie = r.headers.get('set-cookie').split(';')[0];
    return async (method, path, body) => {
      const res = await fetch(`${base}${path}`, {
        method, headers: { cookie, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
    };
  }
  const admin = await session('admin', pw('admin'));

  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  const tid = (page, id) => page.getByTestId(id);
  async function newPage(lang = 'en') {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: lang === 'zh' ? 'zh-CN' : 'en-US' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30000);
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    return page;
  }
  async function signIn(page, username, password) {
    await page.goto(`${base}/login`);
    // The console starts in the browser's language; the tests read English.
    const sw = tid(page, T.langSwitch);
    if (await sw.count()) await sw.first().selectOption('en');
    await tid(page, T.loginUser).fill(username);
    await tid(page, T.loginPassword).fill(password);
    await tid(page, T.loginSubmit).click();
    await tid(page, T.whoami).waitFor();
  }
  async function shot(page, name) {
    await page.waitForLoadState('networkidle').catch(() => {});
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    log(`screenshot ${name}.png`);
  }
  async function step(name, fn) {
    const t0 = Date.now();
    try { await fn(); log(`scenario ${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s`); } catch (e) {
      failures++;
      console.error(`FAILED: scenario ${name}: ${e.stack || e}`);
    }
  }
  const bodyText = (page) => page.evaluate(() => document.body.innerText);

  // ---- 1: a tenant launches, chats, makes a key, sees usage ----------------
  const svcName = 'web-stories';
  let serviceId = '';
  await step('1 (tenant)', async () => {
    const page = await newPage();
    await signIn(page, 'demo', pw('demo'));
    await page.goto(`${base}/catalog`);
    await tid(page, T.modelCard('stories260k')).waitFor();
    await shot(page, '1-catalog');
    await tid(page, T.launch('stories260k')).click();
    await tid(page, T.launchName).fill(svcName);
    await tid(page, T.launchReplicas).fill('1');
    await shot(page, '1-launch');
    await tid(page, T.launchSubmit).click();
    // The app opens the new service (or its list: follow the link).
    await page.waitForURL(/\/services(\/[0-9a-f-]{36})?$/, { timeout: 30000 });
    if (!/\/services\/[0-9a-f-]{36}$/.test(page.url())) await tid(page, T.serviceLink(svcName)).click();
    await page.waitForURL(/\/services\/[0-9a-f-]{36}$/);
    serviceId = page.url().split('/').pop();
    await page.locator('[data-testid="replica"] [data-state="ready"], [data-testid="replica"][data-state="ready"]')
      .first().waitFor({ timeout: 240000 });
    check(true, `service ${svcName} (${serviceId}) has a ready replica`);
    await shot(page, '1-service');
    await tid(page, T.openPlayground).click();
    await page.waitForURL(/\/chat/);
    if (await tid(page, T.chatKeyCreate).isVisible()) await tid(page, T.chatKeyCreate).click();
    await tid(page, T.chatInput).fill('Once upon a time');
    // Streaming is proven by the wire, not by a transient indicator (a tiny
    // model can finish before a poll sees it): the playground's request asks
    // for a stream and the broker answers text/event-stream.
    const streamed = page.waitForResponse(
      (r) => r.url().endsWith('/v1/chat/completions') && r.request().method() === 'POST',
      { timeout: 90000 });
    await tid(page, T.chatSend).click();
    const response = await streamed;
    const answer = tid(page, T.chatAssistant).last();
    await answer.waitFor({ timeout: 90000 });
    const text = (await answer.innerText()).trim();
    check(text.length > 0, `the playground shows the answer: ${JSON.stringify(text.slice(0, 80))}`);
    const sent = JSON.parse(response.request().postData() || '{}');
    check(sent.stream === true && (response.headers()['content-type'] || '').startsWith('text/event-stream'),
      'the answer was streamed (stream: true, text/event-stream)');
    check(await tid(page, T.chatStats).count() > 0, 'token counts and tokens/s are shown');
    await shot(page, '1-chat');

    await page.goto(`${base}/keys`);
    await tid(page, T.keyName).fill('from-the-browser');
    await tid(page, T.keyCreate).click();
    const secret = (await tid(page, T.keySecret).innerText()).trim();
    check(secret.length > 20, 'a new API key is shown once');
    await shot(page, '1-keys');
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: svcName, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 16 }),
    });
    const j = await r.json();
    check(r.status === 200 && typeof j.choices?.[0]?.message?.content === 'string',
      `the key works with a plain HTTP call (${r.status})`);

    await eventually('the request in usage', 60000, async () => {
      await page.goto(`${base}/usage`);
      await page.waitForLoadState('networkidle');
      return (await bodyText(page)).includes(svcName);
    }, 2000);
    check(true, 'usage shows the service');
    await shot(page, '1-usage');
    await page.context().close();
  });

  // ---- 2: an operator adds a node with a join token -----------------------
  const nodeName = 'web-node-1';
  await step('2 (operator)', async () => {
    const page = await newPage();
    await signIn(page, 'bj-gpu-op', pw('bj-gpu-op'));
    await page.goto(`${base}/tokens`);
    if (await tid(page, T.tokenNodeName).count()) await tid(page, T.tokenNodeName).fill(nodeName);
    await tid(page, T.tokenCreate).click();
    const command = (await tid(page, T.tokenCommand).innerText()).trim();
    log(`the console shows: ${command.replace(/(--join-token\s+)\S+/, '$1<secret>')}`);
    await shot(page, '2-tokens');
    const tok = /--join-token[ =]'?([^\s']+)/.exec(command);
    const sch = /--scheduler[ =]'?([^\s']+)/.exec(command);
    check(tok && sch, 'the command has --scheduler and --join-token');
    check(sch && sch[1] === config.scheduler_url, 'the command points at the scheduler');
    const args = command.replace(/^\S*scn\s+/, '').match(/'[^']*'|"[^"]*"|\S+/g).map((a) => a.replace(/^['"]|['"]$/g, ''));
    if (!args.includes('--name')) args.push('--name', nodeName);
    if (!args.includes('--state-dir')) args.push('--state-dir', join(work, 'agent-state'));
    if (!args.includes('--simulate')) args.push('--simulate', '2xH200-141G');
    startChild('agent', BINARY, args, join(work, 'agent.log'), { SCN_PG_URL: '', SCN_REDIS_URL: '' });
    await eventually('the node on the operator\'s page', 60000, async () => {
      await page.goto(`${base}/nodes`);
      await page.waitForLoadState('networkidle');
      return (await bodyText(page)).includes(nodeName);
    }, 2000);
    check(true, 'the new node appears on the operator\'s page');
    await shot(page, '2-nodes');
    await page.context().close();
  });

  // ---- 3: the admin's pool dashboard, in English and in Chinese -----------
  await step('3 (admin)', async () => {
    const page = await newPage();
    await signIn(page, 'admin', pw('admin'));
    await page.goto(`${base}/nodes`);
    await eventually('the node on the admin\'s nodes page', 30000, async () => (await bodyText(page)).includes(nodeName));
    await shot(page, '3-nodes');
    await page.goto(`${base}/pool`);
    const charts = page.locator('.chart[data-points]');
    await eventually('a chart with data', 90000, async () => {
      const n = await charts.count();
      for (let i = 0; i < n; i++) {
        const c = charts.nth(i);
        if (Number(await c.getAttribute('data-points')) > 0 && (await c.locator('canvas').count()) > 0) return true;
      }
      return false;
    }, 2000);
    check(true, 'the pool dashboard has a chart (canvas) with data');
    const pool = (await admin('GET', '/api/v1/pool')).body;
    const bj = pool.centers.find((c) => c.name === 'bj-gpu');
    check(bj && bj.nodes.ready >= 2, 'the API counts the new node in bj-gpu');
    const readyNodes = pool.centers.reduce((a, c) => a + c.nodes.ready, 0);
    check((pool.replicas.ready ?? 0) >= 3, 'the pool has the replicas ready (2 of stories, 1 of web-stories)');
    await eventually('the dashboard to count the new node and the replicas', 30000, async () =>
      Number((await tid(page, T.poolNodesReady).innerText()).replace(/\D/g, '')) === readyNodes &&
      Number((await tid(page, T.poolReplicasReady).innerText()).replace(/\D/g, '')) === pool.replicas.ready);
    check(true, `the dashboard shows ${readyNodes} nodes ready (with ${nodeName}) and ${pool.replicas.ready} replicas ready`);
    check((await bodyText(page)).includes('bj-gpu'), 'the dashboard shows the centers');
    await shot(page, '3-pool-en');

    await tid(page, T.langSwitch).first().selectOption('zh');
    await page.waitForFunction(() => document.documentElement.lang.startsWith('zh'), null, { timeout: 10000 }).catch(() => {});
    await sleep(500);
    const allowed = await allowedNames(admin);
    for (const path of ['/pool', '/nodes', '/centers', '/tenants', '/audit']) {
      await page.goto(`${base}${path}`);
      await page.waitForLoadState('networkidle');
      await sleep(300);
      const leftovers = englishWords(await visibleText(page), allowed);
      check(leftovers.length === 0, `${path} in Chinese has no English words${leftovers.length ? `: ${leftovers.slice(0, 20).join(', ')}` : ''}`);
      await shot(page, `3${path.replace(/\//g, '-')}-zh`);
    }
    await page.context().close();
  });

  // ---- 4: another tenant cannot open the service ---------------------------
  await step('4 (isolation)', async () => {
    if (!serviceId) throw new Error('scenario 1 made no service');
    const t = await admin('POST', '/api/v1/tenants', { name: 'other', display_name: 'Other' });
    check(t.status === 201, `a second tenant (${t.status})`);
    const u = await admin('POST', '/api/v1/users', { username: 'other-user', password: 'other-password-1', role: 'member', tenant_id: t.body.id });
    check(u.status === 201, `its member (${u.status})`);
    const page = await newPage();
    await signIn(page, 'other-user', 'other-password-1');
    await page.goto(`${base}/services/${serviceId}`);
    await tid(page, T.errorPage).waitFor({ timeout: 30000 });
    const text = await bodyText(page);
    for (const secret of [svcName, 'stories260k', 'sh-cpu', 'bj-gpu', 'gz-gpu']) {
      check(!text.includes(secret), `the error page does not show "${secret}"`);
    }
    await shot(page, '4-foreign-service');
    await page.context().close();
  });
} catch (e) {
  failures++;
  console.error(`FAILED: ${e.stack || e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  await cleanup();
  if (failures) {
    for (const c of children) console.error(`--- ${c.name} (log ${c.logFile}), last lines:\n${c.text().slice(-2500)}`);
  } else {
    rmSync(work, { recursive: true, force: true });
  }
}
log(failures ? `${failures} check(s) failed; screenshots in ${SHOTS}` : `passed; screenshots in ${SHOTS}`);
process.exit(failures ? 1 : 0);

// ---- the Chinese check -------------------------------------------------------
// Visible text: innerText of the body, plus placeholders, titles and
// aria-labels of visible elements.
async function visibleText(page) {
  return page.evaluate(() => {
    const parts = [document.body.innerText];
    for (const el of document.querySelectorAll('[placeholder], [title], [aria-label]')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      for (const a of ['placeholder', 'title', 'aria-label']) if (el.getAttribute(a)) parts.push(el.getAttribute(a));
    }
    return parts.join('\n');
  });
}
// Words of two or more ASCII letters that are neither names from the
// platform's data nor product names, units or abbreviations.
function englishWords(text, allowed) {
  const out = new Set();
  for (const m of text.matchAll(/[A-Za-z][A-Za-z0-9._@\/+-]*/g)) {
    const w = m[0].replace(/[._\/-]+$/, '');
    if (!/[A-Za-z]{2}/.test(w)) continue;                     // x, 8x, v1
    if (allowed.has(w) || allowed.has(w.toLowerCase())) continue;
    if (/^[0-9a-f-]{8,}$/i.test(w)) continue;                  // ids, hashes
    if (w.split(/[-_.\/@]/).every((p) => !/[A-Za-z]{2}/.test(p) || allowed.has(p) || allowed.has(p.toLowerCase()))) continue;
    out.add(w);
  }
  return [...out];
}
async function allowedNames(admin) {
  const names = new Set([
    'scn', 'English', 'CPU', 'GPU', 'NPU', 'API', 'URL', 'ID', 'IP', 'CNY', 'RMB', 'UTC', 'CSV', 'JSON', 'HTTP', 'HTTPS',
    'OpenAI', 'ECharts', 'GiB', 'MiB', 'KiB', 'TiB', 'GB', 'MB', 'KB', 'TB', 'ms', 'GGUF', 'Q4_0', 'Q8_0', 'F16', 'F32',
    'BF16', 'K_M', 'H200', 'H100', 'A100', 'Ascend', 'Xeon', 'EPYC', 'NVIDIA', 'Huawei', 'top_p', 'tokens', 'curl',
    'Bearer', 'DeepSeek', 'Qwen', 'Llama', 'stories', 'R1', 'scheduler', 'agent', 'join', 'token', 'simulate', 'name',
    'state', 'dir', 'sk',
  ]);
  const add = (v) => {
    if (typeof v !== 'string' || !v) return;
    names.add(v);
    for (const p of v.split(/[\s\-_.\/@:]+/)) if (p) names.add(p);
    for (const m of v.matchAll(/[A-Za-z][A-Za-z0-9]*/g)) names.add(m[0]);  // "Intel(R) Xeon(R) ..."
  };
  const walk = (v, key = '') => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (/name|model|family|region|username|kind|quant|id|prefix|action|target|address|hostname|reason|url/i.test(key)) add(v);
  };
  for (const path of ['/api/v1/pool', '/api/v1/nodes', '/api/v1/centers', '/api/v1/tenants', '/api/v1/users',
    '/api/v1/services', '/api/v1/catalog', '/api/v1/audit?limit=1000', '/api/v1/config']) {
    const r = await admin('GET', path);
    if (r.status === 200) walk(r.body);
  }
  return names;
}
