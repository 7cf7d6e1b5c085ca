// No web page can drive the admin API (issue 16, item 5), tried in a real browser (Debian's
// chromium through playwright-core, as console.test.mjs). With the default configuration (no
// admin.token), a page of another origin — a second local server — makes Chromium send an
// HTML form POST to /api/reload and a no-cors fetch to /api/dlq/drop: both are refused and
// not one dead letter is lost. A DNS-rebinding page (a foreign name resolving to 127.0.0.1;
// Chromium's --host-resolver-rules stands in for the attacker's DNS) cannot read
// /api/dlq/entry. The console itself still replays and drops.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { startEngine } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const { chromium } = createRequire(import.meta.url)('playwright-core');
const CHROMIUM = process.env.SWITCHYARD_CHROMIUM || '/usr/bin/chromium';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

let browser;
let engine;
let receiver;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-deps.sh installs Debian's chromium`);
  const args = ['--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1'];
  if (process.getuid?.() === 0) args.push('--no-sandbox');  // Chromium's sandbox refuses root
  browser = await chromium.launch({ executablePath: CHROMIUM, args });
  cleanups.push(() => browser.close());

  // Every event fails its one attempt: each becomes a dead letter.
  receiver = await startReceiver(() => ({ status: 500, body: 'down' }));
  cleanups.push(() => receiver.close());
  engine = await startEngine({
    pipelines: {
      relay: `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
sinks: [{name: out, type: http, url: ${receiver.url}/hook, retry: {max_attempts: 1}}]
`,
    },
  });
  cleanups.push(() => engine.stop());
  for (const id of ['dead-1', 'dead-2', 'dead-3']) {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-request-id': id } });
    assert.equal(res.status, 202);
  }
  await waitUntil(async () => (await dlq()).length === 3, 10000, 'three dead letters');
});

async function dlq() {
  return (await fetch(`${engine.adminUrl}/api/dlq`)).json();
}

async function reloads() {
  const text = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  return Number(/^switchyard_reloads_total\{result="ok"\} (\d+)/m.exec(text)?.[1] ?? 0)
    + Number(/^switchyard_reloads_total\{result="error"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

// A page served from another local origin.
async function attackerSite(html) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  return `http://127.0.0.1:${port}/`;
}

test('a page of another origin cannot reload or drop dead letters (form POST, no-cors and cors fetch)', async () => {
  const admin = engine.adminUrl;
  const site = await attackerSite(`<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="reload" method="POST" action="${admin}/api/reload" target="sink"><input name="x" value="1"></form>
<script>
  window.results = {};
  (async () => {
    document.getElementById('reload').submit();
    try {
      await fetch('${admin}/api/dlq/drop', { method: 'POST', mode: 'no-cors', body: JSON.stringify({ all: true }) });
      window.results.nocors = 'sent';
    } catch (e) { window.results.nocors = 'error: ' + e.message; }
    try {
      const r = await fetch('${admin}/api/dlq/drop', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                       body: JSON.stringify({ all: true }) });
      window.results.cors = 'status ' + r.status;
    } catch (e) { window.results.cors = 'error: ' + e.message; }
    window.results.done = true;
  })();
</script></body></html>`);

  const reloadsBefore = await reloads();
  const page = await browser.newPage();
  const answers = [];
  page.on('response', (r) => { if (r.url().startsWith(admin)) answers.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`); });
  await page.goto(site);
  await page.waitForFunction(() => window.results?.done, null, { timeout: 10000 });
  await waitUntil(() => answers.some((a) => a.startsWith('POST /api/reload')), 10000, 'the form POST to reach the engine');
  const results = await page.evaluate(() => window.results);
  await page.close();

  // The form and the no-cors fetch reached the engine and were refused; the cors fetch
  // never got past its preflight (no CORS is granted), so the browser did not send it.
  assert.ok(answers.includes('POST /api/reload 403'), answers.join(', '));
  assert.ok(answers.includes('POST /api/dlq/drop 403'), answers.join(', '));
  assert.ok(!answers.some((a) => /^POST .* 200$/.test(a)), answers.join(', '));
  assert.match(results.cors, /^error/, JSON.stringify(results));
  assert.equal(await reloads(), reloadsBefore, 'no reload ran');
  assert.deepEqual((await dlq()).map((e) => e.event_id).sort(), ['dead-1', 'dead-2', 'dead-3'], 'no dead letter lost');
});

test('a DNS-rebinding name is refused: its page cannot read dead letters', async () => {
  const port = new URL(engine.adminUrl).port;
  const [entry] = await dlq();
  const page = await browser.newPage();
  for (const path of ['/', `/api/dlq/entry?id=${entry.id}`, '/api/dlq', '/api/pipelines']) {
    const res = await page.goto(`http://rebind.attacker.test:${port}${path}`);
    assert.equal(res.status(), 403, path);
    assert.match(await res.text(), /is not a name of this admin listener/);
  }
  // Requests that do name the listener are served: by address, as localhost, or by a name
  // admin.allowed_hosts lists.
  assert.equal((await fetch(`http://localhost:${port}/healthz`)).status, 200);
  const named = await startEngine({
    pipelines: { p: 'source: {type: http, path: /p}\nsinks: [{type: stdout}]\n' },
    config: 'admin: {listen: "127.0.0.1:0", allowed_hosts: [rebind.attacker.test]}\n',
  });
  cleanups.push(() => named.stop());
  const res = await page.goto(`http://rebind.attacker.test:${new URL(named.adminUrl).port}/api/dlq`);
  assert.equal(res.status(), 200, await res.text());
  await page.close();
});

test('the console, same origin, still replays and drops', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${engine.adminUrl}/`);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 10000 });
  const row = (id) => `#dlq tr.dlq-entry[data-event-id="${id}"]`;
  await page.waitForSelector(row('dead-1'), { timeout: 10000 });
  await page.locator(`${row('dead-1')} button[data-action="replay"]`).click();
  await waitUntil(() => receiver.requestsFor('dead-1').length === 2, 10000, 'the replayed delivery');
  page.once('dialog', (d) => d.accept());
  await page.waitForSelector(row('dead-2'), { timeout: 10000 });
  await page.locator(`${row('dead-2')} button[data-action="drop"]`).click();
  await page.waitForSelector(row('dead-2'), { state: 'detached', timeout: 10000 });
  await waitUntil(async () => !(await dlq()).some((e) => e.event_id === 'dead-2'), 10000, 'dead-2 dropped');
  assert.deepEqual(errors, []);
  await page.close();
});
