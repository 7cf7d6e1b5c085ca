// The OmniLens example end to end in a real browser: the shipped pipeline
// (pipelines/omnilens/live.yaml) takes signed GitHub webhooks, and the shipped page
// (pipelines/omnilens/dashboard.html), served by a test server on another origin, runs in
// Debian's headless Chromium (playwright-core): it connects with a JWT offered as a
// subprotocol, subscribes, and renders events. A hostile commit message shows as text and
// runs no script (the test checks the flag the script would set, and that no image was
// requested). After an engine restart the page reconnects and resumes: each event once.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SOURCE_DIR, sign, startEngine, tempDir } from './lib/engine.mjs';
import { jwt } from './lib/live_client.mjs';
import { freePort } from './lib/ports.mjs';

const { chromium } = createRequire(import.meta.url)('playwright-core');
const CHROMIUM = process.env.SWITCHYARD_CHROMIUM || '/usr/bin/chromium';
const WEBHOOK_SECRET = 'omnilens-webhook-secret';
const JWT_SECRET = 'omnilens-jwt-key-of-at-least-32-bytes';
const ROOM = 'octo-org/hello-service';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

let browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-deps.sh installs Debian's chromium`);
  // Chromium's sandbox refuses to run as root (containers, CI).
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  browser = await chromium.launch({ executablePath: CHROMIUM, args });
  cleanups.push(() => browser.close());
});

// Serves the example page; records every path asked for.
async function pageServer() {
  const requested = [];
  const server = createServer((req, res) => {
    requested.push(req.url);
    if (req.url.startsWith('/dashboard.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(readFileSync(join(SOURCE_DIR, 'pipelines/omnilens/dashboard.html')));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  return { origin: `http://127.0.0.1:${port}`, requested };
}

async function webhook(engine, event, delivery, payload) {
  const body = JSON.stringify(payload);
  const res = await fetch(`${engine.url}/api/webhooks/github`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': delivery,
      'x-hub-signature-256': sign(WEBHOOK_SECRET, body),
    },
  });
  assert.ok(res.status >= 200 && res.status < 300, `webhook ${delivery}: ${res.status} ${await res.text()}`);
}

// The listener opens with the pipeline's first route (the sink's): wait for the source's too.
const started = (engine) => engine.waitFor((e) => /pipeline omnilens-live started/.test(e.stderr), 10000, 'the pipeline');

function push(message) {
  return {
    ref: 'refs/heads/main',
    compare: 'https://github.com/octo-org/hello-service/compare/a...b',
    head_commit: { id: 'b', message },
    repository: { full_name: ROOM, name: 'hello-service' },
    sender: { login: 'mallory' },
  };
}

test('the example page renders live events as text, runs no injected script, and resumes after a restart', async () => {
  const pages = await pageServer();
  const port = await freePort();
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const engineOptions = {
    dir,
    env: { GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, OMNILENS_JWT_SECRET: JWT_SECRET, OMNILENS_ORIGIN: pages.origin },
  };
  let engine = await startEngine({
    ...engineOptions,
    pipelines: { 'omnilens-live': readFileSync(join(SOURCE_DIR, 'pipelines/omnilens/live.yaml'), 'utf8') },
    config: `http: {listen: "127.0.0.1:${port}"}\nenv: {allow: [GITHUB_WEBHOOK_SECRET, OMNILENS_JWT_SECRET, OMNILENS_ORIGIN]}\n`,
  });
  cleanups.push(async () => { await engine.kill(); });
  await started(engine);

  const token = await jwt({ sub: 'mona', rooms: ['octo-org/*'], exp: Math.floor(Date.now() / 1000) + 3600 }, JWT_SECRET);
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${pages.origin}/dashboard.html?room=${encodeURIComponent(ROOM)}` +
    `&ws=${encodeURIComponent(`ws://127.0.0.1:${port}/live`)}#token=${token}`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 10000 });

  const hostile = '<img src=x onerror="window.__pwned = true"> fix the build';
  await webhook(engine, 'push', 'd-1', push(hostile));
  await webhook(engine, 'workflow_run', 'd-2', {
    action: 'completed',
    workflow_run: { id: 7, name: 'CI', display_title: 'CI on main', status: 'completed', conclusion: 'failure',
      head_branch: 'main', html_url: 'https://github.com/octo-org/hello-service/actions/runs/7' },
    repository: { full_name: ROOM },
    sender: { login: 'mona' },
  });
  await page.waitForFunction(() => document.querySelectorAll('#events li[data-seq]').length === 2, null, { timeout: 10000 });

  const rows = await page.locator('#events li[data-seq]').allTextContents();
  assert.ok(rows.some((r) => r.includes(hostile)), `the message shows as text: ${JSON.stringify(rows)}`);
  assert.ok(rows.some((r) => r.includes('CI on main') && r.includes('failure')), JSON.stringify(rows));
  assert.equal(await page.locator('#events img').count(), 0, 'no element was made from the message');
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'the onerror script never ran');
  assert.ok(!pages.requested.some((p) => p === '/x'), 'no image was requested');
  assert.equal(await page.locator('#events a[href="https://github.com/octo-org/hello-service/actions/runs/7"]').count(), 1);

  // The engine restarts (same port, same journal): the page reconnects and resumes.
  assert.equal(await engine.stop(), 0, engine.stderr);
  await page.waitForSelector('#status[data-state="reconnecting"]', { timeout: 10000 });
  engine = await startEngine(engineOptions);
  await started(engine);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 15000 });
  await webhook(engine, 'push', 'd-3', push('after the restart'));
  await page.waitForFunction(() => document.querySelectorAll('#events li[data-seq]').length >= 3, null, { timeout: 10000 });
  const seqs = await page.locator('#events li[data-seq]').evaluateAll((lis) => lis.map((li) => Number(li.dataset.seq)));
  assert.equal(seqs.length, 3, 'nothing shown twice');
  assert.deepEqual([...seqs].sort((a, b) => a - b), [seqs[2], seqs[2] + 1, seqs[2] + 2], 'consecutive, newest first');
  assert.equal(await page.locator('#events li.gap').count(), 0, 'no gap');
  assert.deepEqual(pageErrors, []);
  await page.close();
  await engine.stop();
});
