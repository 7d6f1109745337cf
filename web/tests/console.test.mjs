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
import { createRequire } from 'node:module';
import { accessibilityScenario, makeAxeCheck } from './accessibility.mjs';
import { allowedNames, englishWords, visibleText } from './chinese.mjs';

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
let AXE;
try { AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js'); } catch (e) {
  skipOrFail(`npm package axe-core is missing (cd web && npm ci): ${e.message}`);
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
    ['up', '--var', join(work, 'var'), '--port', String(port), '--no-tls', '--shared-dir', SHARED, '--ready-timeout', '240'],
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
  async function newPage(lang = 'en', viewport = { width: 1366, height: 900 }) {
    const ctx = await browser.newContext({ viewport, locale: lang === 'zh' ? 'zh-CN' : 'en-US', acceptDownloads: true });
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
  const axeCheck = makeAxeCheck({ AXE, check, log });

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
    await axeCheck(page, 'the launch dialog');
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
    await axeCheck(page, 'the join token shown once');
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
    for (const path of ['/pool', '/nodes', '/centers', '/tenants', '/users', '/account', '/audit', '/prices', '/bills', '/requests']) {
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

  // ---- 5: money and forms: prices, the bill, requests, users, limits, keys --
  await step('5 (prices, bills, forms)', async () => {
    const page = await newPage();
    await signIn(page, 'admin', pw('admin'));
    await page.goto(`${base}/prices`);
    await tid(page, 'price-form').waitFor();
    await tid(page, 'price-model').fill('*');
    await tid(page, 'price-prompt_per_million').fill('1000');
    await tid(page, 'price-completion_per_million').fill('2000.5');
    await tid(page, 'price-replica_hour').fill('3.6');
    await tid(page, 'price-save').click();
    await tid(page, 'price-saved').waitFor();
    const prices = (await admin('GET', '/api/v1/prices')).body;
    const every = prices.data.find((p) => p.model === '*' && p.center_id === null);
    check(every && every.prompt_per_million === '1000' && every.completion_per_million === '2000.5' && every.replica_hour === '3.6',
      `the price form set the price of every model (${JSON.stringify(every)})`);
    await tid(page, 'price-row-*-all').waitFor();
    check((await tid(page, 'price-row-*-all').innerText()).includes('CN¥2,000.5'), 'the price row is in CNY, locale-formatted');
    await shot(page, '5-prices');
    // The admin deletes a price in the table (a confirm dialog first).
    const extra = await admin('PUT', '/api/v1/prices', { model: 'stories260K', replica_hour: '9' });
    check(extra.status === 200, `a second price to delete (${extra.status})`);
    await page.reload();
    await tid(page, 'price-row-stories260K-all').waitFor();
    page.once('dialog', (d) => d.accept());
    await tid(page, 'price-delete-stories260K-all').click();
    await tid(page, 'price-row-stories260K-all').waitFor({ state: 'detached' });
    const left = (await admin('GET', '/api/v1/prices')).body.data;
    check(!left.some((p) => p.id === extra.body.id) && left.some((p) => p.model === '*'),
      'the admin deleted a price in the console (gone from the API, the others stay)');

    // The admin makes a tenant, a member of it, and sets its limits.
    await page.goto(`${base}/tenants`);
    await tid(page, 'tenant-name').fill('web-tenant');
    await tid(page, 'tenant-display').fill('Web tenant');
    await tid(page, 'tenant-create').click();
    await tid(page, 'tenant-row-web-tenant').waitFor();
    await page.goto(`${base}/users`);
    await tid(page, 'user-name').fill('web-member');
    await tid(page, 'user-password').fill('web-member-pass');
    await tid(page, 'user-role').selectOption('member');
    await tid(page, 'user-tenant').selectOption({ label: 'web-tenant' });
    await tid(page, 'user-create').click();
    await tid(page, 'user-row-web-member').waitFor();
    check(true, 'the admin created a tenant and its member with the forms');
    await tid(page, 'user-edit-web-member').click();
    await tid(page, 'user-edit-form').waitFor();
    await axeCheck(page, 'the edit user dialog');
    await page.keyboard.press('Escape');
    await tid(page, 'user-edit-form').waitFor({ state: 'detached' });
    // The admin resets the member's password; the member signs in with it and
    // changes it on the account page.
    await tid(page, 'user-reset-web-member').click();
    await tid(page, 'user-reset-form').waitFor();
    await tid(page, 'user-reset-password').fill('reset-by-admin-1');
    await tid(page, 'user-reset-confirm').fill('reset-by-admin-1');
    await axeCheck(page, 'the reset password dialog');
    await tid(page, 'user-reset-save').click();
    await tid(page, 'users-notice').waitFor();
    await shot(page, '5-users');
    const mp = await newPage();
    await signIn(mp, 'web-member', 'reset-by-admin-1');
    check(true, 'the member signed in with the password the admin set');
    await mp.goto(`${base}/account`);
    await tid(mp, 'password-old').fill('reset-by-admin-1');
    await tid(mp, 'password-new').fill('web-member-pass');
    await tid(mp, 'password-confirm').fill('web-member-pass');
    await tid(mp, 'password-save').click();
    await tid(mp, 'password-changed').waitFor();
    await shot(mp, '5-account');
    await mp.context().close();
    // The tenant's settings and members in their dialogs.
    await page.goto(`${base}/tenants`);
    await tid(page, 'tenant-edit-web-tenant').click();
    await tid(page, 'tenant-edit-display').fill('Web tenant two');
    await tid(page, 'tenant-edit-regions').fill('beijing, shanghai');
    await axeCheck(page, 'the tenant edit dialog');
    await tid(page, 'tenant-edit-save').click();
    await tid(page, 'tenant-edit-form').waitFor({ state: 'detached' });
    const editedTenant = (await admin('GET', '/api/v1/tenants')).body.data.find((x) => x.name === 'web-tenant');
    check(editedTenant && editedTenant.display_name === 'Web tenant two' && JSON.stringify(editedTenant.allowed_regions) === '["beijing","shanghai"]',
      `the tenant edit dialog changed the display name and regions (${JSON.stringify(editedTenant)})`);
    await admin('PATCH', `/api/v1/tenants/${editedTenant.id}`, { allowed_regions: null });
    await tid(page, 'tenant-members-web-tenant').click();
    await tid(page, 'member-row-web-member').waitFor();
    await axeCheck(page, 'the tenant members dialog');
    await shot(page, '5-tenant-members');
    await page.keyboard.press('Escape');
    await tid(page, 'tenant-limits-web-tenant').click();
    await tid(page, 'tenant-limits-form').waitFor();
    await tid(page, 'limits-max_replicas').fill('7');
    await tid(page, 'limits-requests_per_minute').fill('120');
    await tid(page, 'limits-monthly_token_budget').fill('1000000');
    await shot(page, '5-tenant-limits');
    await axeCheck(page, 'the tenant limits dialog');
    await tid(page, 'limits-save').click();
    await tid(page, 'tenant-limits-form').waitFor({ state: 'detached' });
    const wt = (await admin('GET', '/api/v1/tenants')).body.data.find((x) => x.name === 'web-tenant');
    const lim = wt && (await admin('GET', `/api/v1/tenants/${wt.id}/limits`)).body;
    check(lim && lim.max_replicas === 7 && lim.requests_per_minute === 120 && lim.monthly_token_budget === 1000000 &&
      lim.tokens_per_minute === null, `the limits form set the tenant's quota and limits (${JSON.stringify(lim)})`);
    await shot(page, '5-tenants');
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'web-member', password: 'web-member-pass' }),
    });
    check(login.status === 200, `the new member can sign in (${login.status})`);

    // The admin suspends the tenant from its row (after a confirmation): the
    // badge says so, its member signs in but cannot change anything; reinstated, they can.
    page.once('dialog', (d) => d.accept());
    await tid(page, 'tenant-suspend-web-tenant').click();
    await page.locator('[data-testid="tenant-status-web-tenant"][data-state="suspended"]').waitFor();
    await tid(page, 'tenant-reinstate-web-tenant').waitFor();
    const member = await session('web-member', 'web-member-pass');
    const meSuspended = await member('GET', '/api/v1/auth/me');
    const refused = await member('POST', '/api/v1/api-keys', { name: 'while-suspended' });
    check(meSuspended.status === 200 && meSuspended.body.tenant_suspended === true && refused.status === 403 &&
      refused.body.error?.type === 'tenant_suspended',
      `a suspended tenant's member reads but its changes are 403 tenant_suspended (${meSuspended.status}, ${refused.status})`);
    const suspendedPage = await newPage();
    await signIn(suspendedPage, 'web-member', 'web-member-pass');
    await tid(suspendedPage, 'tenant-suspended').waitFor();
    await shot(suspendedPage, '5-tenant-suspended');
    await suspendedPage.context().close();
    page.once('dialog', (d) => d.accept());
    await tid(page, 'tenant-reinstate-web-tenant').click();
    await page.locator('[data-testid="tenant-status-web-tenant"][data-state="active"]').waitFor();
    const allowed = await member('POST', '/api/v1/api-keys', { name: 'reinstated' });
    check(allowed.status === 201, `reinstated, the member may change things again (${allowed.status})`);

    // The admin sees every tenant's bill.
    await page.goto(`${base}/bills`);
    await tid(page, 'bill-tenant-demo').waitFor({ timeout: 30000 });
    await shot(page, '5-bills-admin');
    await page.context().close();

    // The tenant: its bill (money, CSV), its requests, a key with limits.
    const tp = await newPage();
    await signIn(tp, 'demo', pw('demo'));
    await tp.goto(`${base}/bills`);
    await tid(tp, `bill-line-${svcName}`).first().waitFor({ timeout: 30000 });
    // Replica-hours grow while replicas run: the page's total is the broker's
    // within the fen or two the time between the two reads adds.
    const bill = (await (await session('demo', pw('demo')))('GET', '/api/v1/bills')).body;
    const totalNow = () => tid(tp, 'bill-total').evaluate((e) => [e.innerText.trim(), e.getAttribute('data-amount')]);
    const [totalText, shown] = await totalNow();
    check(Number(bill.total) > 0 && Math.abs(Number(shown) - Number(bill.total)) < 0.1,
      `the bill total is the broker's (page ${shown}, API ${bill.total})`);
    const cny = (lang, v) => new Intl.NumberFormat(lang, { style: 'currency', currency: 'CNY', minimumFractionDigits: 2 }).format(v);
    check(totalText === cny('en-US', shown), `the total is formatted as CNY (${totalText})`);
    const [download] = await Promise.all([tp.waitForEvent('download'), tid(tp, 'bill-csv').click()]);
    const csvPath = join(work, 'bill.csv');
    await download.saveAs(csvPath);
    const csv = readFileSync(csvPath, 'utf8');
    check(csv.startsWith('tenant_id,tenant_name,service_id') && csv.includes(svcName) && /\r\ntotal,/.test(csv),
      `the CSV download is the broker's bill (${download.suggestedFilename()})`);
    await shot(tp, '5-bills');
    await tid(tp, 'bill-prev').click();
    await tp.waitForFunction(() => document.querySelector('[data-testid="bill-month"]').value !== '', null);
    await tp.selectOption('[data-testid="lang-switch"]', 'zh');
    await tid(tp, 'bill-next').click();
    await tid(tp, `bill-line-${svcName}`).first().waitFor();
    const [zhTotal, zhAmount] = await totalNow();
    const zhWant = cny('zh-CN', zhAmount);
    check(zhTotal === zhWant && zhTotal.startsWith('¥'), `in Chinese the total is ${zhTotal} (${zhWant})`);
    await shot(tp, '5-bills-zh');
    await tp.selectOption('[data-testid="lang-switch"]', 'en');

    await tp.goto(`${base}/requests`);
    await tid(tp, `request-row-${svcName}`).first().waitFor({ timeout: 30000 });
    const routeText = await tid(tp, `request-row-${svcName}`).first().innerText();
    check(/(sh-cpu|bj-gpu|gz-gpu) \/ \S+ \/ [0-9a-f]{8}/.test(routeText) && routeText.includes('200'),
      `a request shows status and route center / node / replica (${routeText.replace(/\s+/g, ' ').slice(0, 160)})`);
    await shot(tp, '5-requests');

    await tp.goto(`${base}/keys`);
    await tid(tp, 'key-name').fill('limited');
    await tp.locator('details.wide summary').click();
    await tid(tp, 'key-limits-requests_per_minute').fill('5');
    await tid(tp, `key-scope-${svcName}`).check();
    await tid(tp, 'key-expiry').fill('2');
    await tid(tp, 'key-create').click();
    await tid(tp, 'key-secret').waitFor();
    await axeCheck(tp, 'the API key shown once');
    const demo = await session('demo', pw('demo'));
    const keyRow = (await demo('GET', '/api/v1/api-keys')).body.data.find((k) => k.name === 'limited');
    const key = keyRow && (await demo('GET', `/api/v1/api-keys/${keyRow.id}`)).body;
    check(key && key.limits.requests_per_minute === 5 && key.services?.length === 1 && key.services[0].name === svcName &&
      key.expires_at && Math.abs(new Date(key.expires_at) - Date.now() - 2 * 86400000) < 600000,
      `the key form sets limits, services and expiry (${JSON.stringify(key)})`);
    await tid(tp, 'key-edit-limited').click();
    await tid(tp, 'key-edit-form').waitFor();
    await tid(tp, 'key-edit-requests_per_minute').fill('');
    await tid(tp, 'key-edit-tokens_per_minute').fill('5000');
    await tid(tp, 'key-edit-all').check();
    await shot(tp, '5-key-edit');
    await axeCheck(tp, 'the key limits dialog');
    await tid(tp, 'key-edit-save').click();
    await tid(tp, 'key-edit-form').waitFor({ state: 'detached' });
    const edited = (await demo('GET', `/api/v1/api-keys/${keyRow.id}`)).body;
    check(edited.limits.requests_per_minute === null && edited.limits.tokens_per_minute === 5000 && edited.services === null,
      `the key's limits and scope were changed with PATCH (${JSON.stringify(edited.limits)}, ${JSON.stringify(edited.services)})`);
    await tp.context().close();
  });

  // ---- 6: accessibility (axe) in both languages, keyboard, phone -----------
  await step('6 (accessibility)', () => accessibilityScenario({
    base, newPage, signIn, pw, tid, T, check, shot, serviceId, axeCheck,
  }));
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
