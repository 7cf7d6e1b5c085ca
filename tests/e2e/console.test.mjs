// The live console (GET / on the admin listener) in a real browser: Debian's chromium
// driven by playwright-core. The page follows /api/stream (Server-Sent Events): events
// posted to an http source show up in its list with each sink's outcome, the received
// counter moves, and a failing sink's error is shown. The dead-letter section lists entries
// and replays or drops them through the admin API. With admin.token, the page and the
// stream refuse requests without the token (401) and take it as ?token=, and the page sends
// it on as a bearer token to the dead-letter API.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startEngine } from './lib/engine.mjs';
import { sleep, startReceiver, waitUntil } from './lib/receiver.mjs';

// From the build tree's e2e/node_modules (NODE_PATH, which only require() reads).
const { chromium } = createRequire(import.meta.url)('playwright-core');

const CHROMIUM = process.env.SWITCHYARD_CHROMIUM || '/usr/bin/chromium';
const SECRET = 'hunter2-payload-secret';

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

// source http /in → `good` (stdout) and `broken` (http, to a receiver answering 500; one
// attempt, so each event is dead-lettered at once).
function consolePipeline(receiverUrl) {
  return `name: console
source: {type: http, path: /in, id_header: X-Request-Id, event_type: console.test}
transforms:
  - name: subject
    type: map
    subject: "\${{ payload.branch }}"
sinks:
  - name: good
    type: stdout
  - name: broken
    type: http
    url: ${receiverUrl}/hook
    retry: {max_attempts: 1}
`;
}

async function post(engine, id, data) {
  const res = await fetch(`${engine.url}/in`, {
    method: 'POST',
    body: JSON.stringify(data),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  assert.equal(res.status, 202, `posting ${id}: ${await res.text()}`);
}

// The first `bytes` of an event stream (then the request is aborted).
async function readStream(url, { bytes = 4096, ms = 5000, headers = {} } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const res = await fetch(url, { signal: controller.signal, headers });
  let text = '';
  if (res.ok) {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        text += decoder.decode(chunk, { stream: true });
        if (text.length >= bytes) break;
      }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    }
  } else {
    text = await res.text();
  }
  clearTimeout(timer);
  controller.abort();
  return { status: res.status, type: res.headers.get('content-type'), text };
}

// The dead-letter queue as GET /api/dlq answers it.
async function dlqList(engine, headers = {}) {
  const res = await fetch(`${engine.adminUrl}/api/dlq`, { headers });
  assert.equal(res.status, 200, `GET /api/dlq: ${await res.clone().text()}`);
  return res.json();
}

const dlqRow = (eventId) => `#dlq tr.dlq-entry[data-event-id="${eventId}"]`;

const cell = (page, selector) => page.locator(selector).first().textContent({ timeout: 5000 });

test('the console shows pipelines, live counters, recent events with sink outcomes, and a failing sink\'s error', async () => {
  const receiver = await startReceiver(() => ({ status: 500, body: 'upstream exploded' }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: { console: consolePipeline(receiver.url) } });
  cleanups.push(async () => { await engine.kill(); await engine.stop(); });
  assert.ok(engine.adminUrl, `the admin listener's address is logged:\n${engine.stderr}`);

  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(engine.adminUrl)) external.push(r.url()); });

  const response = await page.goto(engine.adminUrl + '/');
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'], /^text\/html/);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 10000 });
  await page.waitForSelector('tr.pipeline[data-pipeline="console"]', { timeout: 10000 });
  assert.equal((await cell(page, 'tr.pipeline[data-pipeline="console"] [data-field="state"]')).trim(), 'running');
  assert.equal(await cell(page, 'tr.pipeline[data-pipeline="console"] [data-field="received"]'), '0');
  assert.equal(await page.locator('tr.sink[data-pipeline="console"]').count(), 2, 'one row per sink');

  const ids = ['console-1', 'console-2', 'console-3'];
  for (const [i, id] of ids.entries()) await post(engine, id, { n: i, branch: `feature/${i}`, password: SECRET });

  // Each event appears in the list, with the envelope (type, subject set by the transform)
  // and what each sink did with it.
  for (const [i, id] of ids.entries()) {
    const row = `tr.event[data-event-id="${id}"]`;
    await page.waitForSelector(`${row} [data-sink="good"][data-outcome="delivered"]`, { timeout: 10000 });
    await page.waitForSelector(`${row} [data-sink="broken"][data-outcome="dead_lettered"]`, { timeout: 10000 });
    const text = await cell(page, row);
    assert.match(text, /console\.test/, 'type shown');
    assert.ok(text.includes(`feature/${i}`), `subject shown: ${text}`);
    assert.match(text, /HTTP 500: upstream exploded/, 'the failing sink\'s error is shown on the event');
  }
  // The received counter follows (pipelines frames come every second).
  await page.waitForFunction(() => document.querySelector(
    'tr.pipeline[data-pipeline="console"] [data-field="received"]')?.textContent === '3', null, { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector(
    'tr.sink[data-sink="good"] [data-field="delivered"]')?.textContent === '3', null, { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector(
    'tr.sink[data-sink="broken"] [data-field="dead-lettered"]')?.textContent === '3', null, { timeout: 5000 });
  // The pipeline's last error is highlighted.
  const lastError = page.locator('tr.pipeline[data-pipeline="console"] td.error[data-field="last-error"]');
  await lastError.waitFor({ timeout: 5000 });
  assert.match(await lastError.textContent(), /broken.*HTTP 500: upstream exploded/);
  assert.match(await lastError.evaluate((e) => getComputedStyle(e).color), /^rgb\(179, 38, 30\)$/, 'shown in red');

  // Newest first, and never a payload field.
  const shown = await page.locator('tr.event').evaluateAll((rows) => rows.map((r) => r.dataset.eventId));
  assert.deepEqual(shown, [...ids].reverse());
  assert.ok(!(await page.content()).includes(SECRET), 'payload data is not on the page');
  const raw = await readStream(engine.adminUrl + '/api/stream', { bytes: 2000 });
  assert.equal(raw.status, 200);
  assert.match(raw.type, /^text\/event-stream/);
  assert.match(raw.text, /event: pipelines\ndata: \[/);
  assert.match(raw.text, /event: events\ndata: \{.*"id":"console-1"/);
  assert.ok(!raw.text.includes(SECRET), 'payload data is not in the stream');

  assert.deepEqual(external, [], 'the page loads nothing from elsewhere');
  assert.deepEqual(pageErrors, [], 'no script errors');

  const dir = join(process.env.SWITCHYARD_BUILD_DIR || engine.dir, 'e2e');
  mkdirSync(dir, { recursive: true });
  const shot = join(dir, 'console.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(existsSync(shot) && statSync(shot).size > 1000, `screenshot at ${shot}`);
  console.log(`screenshot: ${shot}`);

  // A burst: the list keeps the newest 100 events.
  const burst = Array.from({ length: 150 }, (_, i) => `burst-${i}`);
  for (let i = 0; i < burst.length; i += 25) {
    await Promise.all(burst.slice(i, i + 25).map((id) => post(engine, id, { branch: 'burst' })));
  }
  await page.waitForFunction(() => document.querySelector(
    'tr.pipeline[data-pipeline="console"] [data-field="received"]')?.textContent === '153', null, { timeout: 10000 });
  await page.waitForSelector('tr.event[data-event-id="burst-149"]', { timeout: 10000 });
  assert.equal(await page.locator('tr.event').count(), 100, 'the list keeps 100 events');
  assert.equal(await page.locator('tr.event[data-event-id="console-1"]').count(), 0, 'the oldest left the list');
  assert.deepEqual(pageErrors, [], 'no script errors');
  await page.close();
});

test('with admin.token the page and the stream want the token (header, or ?token= on those two only)', async () => {
  const token = 'console-s3cret';
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({
    pipelines: { console: consolePipeline(receiver.url) },
    config: `admin: {listen: "127.0.0.1:0", token: ${token}}\n`,
  });
  cleanups.push(async () => { await engine.kill(); await engine.stop(); });
  const admin = engine.adminUrl;

  for (const path of ['/', '/api/stream', `/api/stream?token=wrong-${token}`, '/?token=', '/api/pipelines?token=' + token]) {
    const r = await fetch(admin + path);
    assert.equal(r.status, 401, `${path} without the right token`);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
  }
  const withHeader = await fetch(admin + '/', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(withHeader.status, 200);
  assert.match(await withHeader.text(), /Switchyard console/);
  const viaHeader = await readStream(admin + '/api/stream', { headers: { authorization: `Bearer ${token}` }, bytes: 100 });
  assert.equal(viaHeader.status, 200);
  const viaQuery = await readStream(`${admin}/api/stream?token=${token}`, { bytes: 100 });
  assert.equal(viaQuery.status, 200);
  assert.match(viaQuery.type, /^text\/event-stream/);
  assert.match(viaQuery.text, /event: pipelines/);

  // In the browser: refused without the token; with ?token= the page goes live.
  const page = await browser.newPage();
  const refused = await page.goto(admin + '/');
  assert.equal(refused.status(), 401);
  const ok = await page.goto(`${admin}/?token=${token}`);
  assert.equal(ok.status(), 200);
  await page.waitForSelector('#status[data-state="live"]', { timeout: 10000 });
  await page.waitForSelector('tr.pipeline[data-pipeline="console"]', { timeout: 10000 });
  await post(engine, 'token-1', { branch: 'main' });
  await page.waitForSelector('tr.event[data-event-id="token-1"] [data-outcome="delivered"]', { timeout: 10000 });
  await page.close();
});


test('the console lists dead letters; Replay delivers an entry once and Drop deletes one', async () => {
  let status = 400;
  const receiver = await startReceiver(() => ({ status, body: status === 400 ? 'no such repo' : 'ok' }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: { console: consolePipeline(receiver.url) } });
  cleanups.push(async () => { await engine.kill(); await engine.stop(); });

  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(engine.adminUrl)) external.push(r.url()); });
  await page.goto(engine.adminUrl + '/');
  await page.waitForSelector('#dlq tr.empty', { timeout: 10000 });
  assert.match(await cell(page, '#dlq tbody'), /no dead letters/);

  // The http sink gets 400 (not retried): both events are dead-lettered and listed.
  await post(engine, 'dlq-replay', { branch: 'main' });
  await post(engine, 'dlq-drop', { branch: 'main' });
  await page.waitForSelector(dlqRow('dlq-replay'), { timeout: 10000 });
  await page.waitForSelector(dlqRow('dlq-drop'), { timeout: 10000 });
  const entries = await dlqList(engine);
  assert.deepEqual(entries.map((e) => e.event_id).sort(), ['dlq-drop', 'dlq-replay']);
  const field = (id, name) => cell(page, `${dlqRow(id)} [data-field="${name}"]`);
  const replayEntry = entries.find((e) => e.event_id === 'dlq-replay');
  assert.equal(await page.locator(dlqRow('dlq-replay')).getAttribute('data-dlq-id'), String(replayEntry.id));
  assert.equal(await field('dlq-replay', 'pipeline'), 'console');
  assert.equal(await field('dlq-replay', 'sink'), 'broken');
  assert.equal(await field('dlq-replay', 'event-id'), 'dlq-replay');
  assert.equal(await field('dlq-replay', 'type'), 'console.test');
  assert.equal(await field('dlq-replay', 'attempts'), '1');
  assert.match(await field('dlq-replay', 'age'), /^\d+ s$/);
  assert.match(await field('dlq-replay', 'error'), /HTTP 400: no such repo/);
  assert.equal(await page.locator(`${dlqRow('dlq-replay')} [data-field="replay-pending"]`).count(), 0);
  assert.match(await cell(page, '#dlq-note'), /\(2\)/);
  assert.equal(receiver.requestsFor('dlq-replay').length, 1);

  // The receiver recovers; Replay re-delivers that entry (only it), once, and it leaves the list.
  status = 200;
  await page.locator(`${dlqRow('dlq-replay')} button[data-action="replay"]`).click();
  await page.waitForSelector('#dlq-message[data-kind="ok"]', { timeout: 5000 });
  assert.match(await cell(page, '#dlq-message'), new RegExp(`Replay requested for entry ${replayEntry.id} \\(event dlq-replay`));
  await waitUntil(() => receiver.requestsFor('dlq-replay').some((r) => r.status === 200), 10000, 'the replayed delivery');
  await page.waitForSelector(dlqRow('dlq-replay'), { state: 'detached', timeout: 10000 });
  await sleep(1500);
  assert.deepEqual(receiver.requestsFor('dlq-replay').map((r) => r.status), [400, 200], 'delivered exactly once on replay');
  assert.equal(receiver.requestsFor('dlq-drop').length, 1, 'the other entry was not replayed');
  assert.deepEqual((await dlqList(engine)).map((e) => e.event_id), ['dlq-drop']);
  assert.equal(await page.locator('#dlq tr.dlq-entry').count(), 1);

  // Drop asks first: dismissed, nothing happens; accepted, the entry is deleted.
  const dropButton = page.locator(`${dlqRow('dlq-drop')} button[data-action="drop"]`);
  page.once('dialog', (d) => d.dismiss());
  await dropButton.click();
  await sleep(500);
  assert.equal((await dlqList(engine)).length, 1, 'a dismissed drop drops nothing');
  let question = '';
  page.once('dialog', (d) => { question = d.message(); d.accept(); });
  await dropButton.click();
  await page.waitForSelector(dlqRow('dlq-drop'), { state: 'detached', timeout: 10000 });
  assert.match(question, /dlq-drop/);
  // The row can go with a list refresh before the POST's answer updates the message.
  await page.waitForFunction(() => /^Dropped entry/.test(document.querySelector('#dlq-message')?.textContent ?? ''),
    null, { timeout: 10000 });
  assert.match(await cell(page, '#dlq-message'), /^Dropped entry \d+ \(event dlq-drop/);
  assert.deepEqual(await dlqList(engine), [], 'GET /api/dlq is empty');
  await page.waitForSelector('#dlq tr.empty', { timeout: 5000 });
  assert.equal(receiver.requestsFor('dlq-drop').length, 1, 'a dropped entry is not delivered');

  // Rendering: the "replay pending" marker, data inserted as text, a failing request shown.
  // (/api/dlq answered by the test: the engine picks a replay up within a second.)
  const fake = { id: 77, pipeline: 'console', sink: 'broken', event_id: '<b id="x">evt</b>', type: 'console.test',
                 attempts: 3, error: '<img src=x onerror="window.__xss=1">', failed_at: new Date(Date.now() - 7_200_000).toISOString(),
                 replay_requested: true };
  await page.route((url) => url.pathname === '/api/dlq', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify([fake]) }));
  await page.waitForSelector('#dlq tr.dlq-entry[data-dlq-id="77"]', { timeout: 10000 });
  const row = '#dlq tr.dlq-entry[data-dlq-id="77"]';
  assert.equal(await cell(page, `${row} [data-field="replay-pending"]`), 'replay pending');
  assert.ok(await page.locator(`${row} button[data-action="replay"]`).isDisabled(), 'no second replay while one is pending');
  assert.equal(await cell(page, `${row} [data-field="event-id"]`), fake.event_id);
  assert.equal(await cell(page, `${row} [data-field="error"]`), fake.error);
  assert.match(await cell(page, `${row} [data-field="age"]`), /^2 h 0 min$/);
  assert.equal(await page.locator('#dlq img, #dlq b#x').count(), 0, 'no markup from data');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await page.unroute((url) => url.pathname === '/api/dlq');
  await page.route((url) => url.pathname === '/api/dlq', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"no journal (state.dir)"}' }));
  await page.waitForFunction(() => /HTTP 503: no journal/.test(document.getElementById('dlq-error').textContent), null, { timeout: 10000 });
  await page.unrouteAll();
  await page.waitForSelector('#dlq tr.empty', { timeout: 10000 });
  assert.equal(await cell(page, '#dlq-error'), '', 'the error goes once loading works again');

  assert.deepEqual(external, [], 'the page loads nothing from elsewhere');
  assert.deepEqual(pageErrors, [], 'no script errors');
  await page.close();
});

test('with admin.token the dead-letter section sends the ?token= as a bearer token', async () => {
  const token = 'console-dlq-s3cret';
  let status = 400;
  const receiver = await startReceiver(() => ({ status }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({
    pipelines: { console: consolePipeline(receiver.url) },
    config: `admin: {listen: "127.0.0.1:0", token: ${token}}\n`,
  });
  cleanups.push(async () => { await engine.kill(); await engine.stop(); });
  const auth = { authorization: `Bearer ${token}` };
  assert.equal((await fetch(`${engine.adminUrl}/api/dlq?token=${token}`)).status, 401, 'the DLQ API takes no ?token=');

  const page = await browser.newPage();
  const dlqRequests = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/api/dlq')) dlqRequests.push(r); });
  await page.goto(`${engine.adminUrl}/?token=${token}`);
  await post(engine, 'token-dead-1', { branch: 'main' });
  await post(engine, 'token-dead-2', { branch: 'main' });
  await page.waitForSelector(dlqRow('token-dead-1'), { timeout: 10000 });
  await page.waitForSelector(dlqRow('token-dead-2'), { timeout: 10000 });
  assert.equal(await cell(page, '#dlq-error'), '');

  status = 200;
  await page.locator(`${dlqRow('token-dead-1')} button[data-action="replay"]`).click();
  await page.waitForSelector(dlqRow('token-dead-1'), { state: 'detached', timeout: 10000 });
  await waitUntil(() => receiver.requestsFor('token-dead-1').some((r) => r.status === 200), 10000, 'the replayed delivery');
  page.once('dialog', (d) => d.accept());
  await page.locator(`${dlqRow('token-dead-2')} button[data-action="drop"]`).click();
  await page.waitForSelector(dlqRow('token-dead-2'), { state: 'detached', timeout: 10000 });
  await page.waitForFunction(() => /^Dropped entry/.test(document.querySelector('#dlq-message')?.textContent ?? ''),
    null, { timeout: 10000 });
  assert.deepEqual(await dlqList(engine, auth), []);
  assert.deepEqual(receiver.requestsFor('token-dead-1').map((r) => r.status), [400, 200]);
  assert.deepEqual(receiver.requestsFor('token-dead-2').map((r) => r.status), [400]);

  assert.ok(dlqRequests.some((r) => r.method() === 'POST' && r.url().endsWith('/api/dlq/replay')));
  assert.ok(dlqRequests.some((r) => r.method() === 'POST' && r.url().endsWith('/api/dlq/drop')));
  for (const r of dlqRequests) {
    assert.equal(r.headers().authorization, `Bearer ${token}`, `${r.method()} ${r.url()} carries the token`);
    assert.ok(!r.url().includes(token), 'the token is not put in API addresses');
  }
  await page.close();
});
