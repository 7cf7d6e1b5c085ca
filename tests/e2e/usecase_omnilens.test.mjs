// OmniLens (use case omnilens-webhooks-websockets.md) as shipped configuration, end to end:
// pipelines/omnilens/live.yaml as it is, signed webhooks in, 1,000 dashboard connections
// out (100 users with 10 connections each, JWTs as the login service would sign them),
// GitHub's published workflow_run, workflow_job and push examples as input. The use case's
// test plan and decisions:
// - 1,000 clients in 5 repository rooms; 100 webhooks posted back to back reach every
//   client of their room, in order, none lost;
// - 10 connections per user (the 11th is refused with 429), origins checked (403), a token
//   limited to other repositories cannot subscribe;
// - a webhook with a bad signature is refused (401) and reaches nobody;
// - output sanitised: a hostile commit message stays text in `title` and is escaped in
//   `title_html`, a javascript: link is blanked;
// - 30 minutes of replay: a client that resumes after a seq gets exactly what followed;
// - 60 webhooks a minute per repository: a burst past it is spread out, not lost.
// The 1,000 clients are node `ws` connections; times are not asserted, except that the
// rate limit spreads events out (a lower bound).
// tests/e2e/websocket_browser.test.mjs runs the shipped page in Chromium against the same
// pipeline (rendering as text, reconnect and resume after an engine restart).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';
import { connect, jwt } from './lib/live_client.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const SECRET = 'omnilens-e2e-webhook-secret';
const JWT_SECRET = 'omnilens-e2e-jwt-key-of-at-least-32-bytes';
const ORIGIN = 'https://omnilens.example.com';
const ROOMS = Array.from({ length: 5 }, (_, i) => `octo-org/service-${i}`);
const USERS = 100;
const PER_USER = 10;

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const group = (name) => examples.find((g) => g.name === name).examples;
// GitHub's examples, cycled, each moved into `room` under a distinct delivery.
const samples = [...group('workflow_run'), ...group('workflow_job'), ...group('push').filter((p) => p.head_commit)];
function sample(n, room) {
  const p = structuredClone(samples[n % samples.length]);
  p.repository.full_name = room;
  return p;
}
const eventOf = (p) => (p.workflow_job ? 'workflow_job' : p.workflow_run ? 'workflow_run' : 'push');

test('OmniLens: 1,000 dashboards, 100 rapid webhooks none lost, limits, signatures, sanitised output, replay, rate limit', { timeout: 90000 }, async () => {
  const pipeline = readFileSync(join(SOURCE_DIR, 'pipelines/omnilens/live.yaml'), 'utf8');
  const engine = await startEngine({
    pipelines: { live: pipeline },
    config: readFileSync(join(SOURCE_DIR, 'config/switchyard.yaml'), 'utf8').match(/^env:\n(?:[ #].*\n)*/m)[0],
    env: { GITHUB_WEBHOOK_SECRET: SECRET, OMNILENS_JWT_SECRET: JWT_SECRET, OMNILENS_ORIGIN: ORIGIN },
  });
  cleanups.push(async () => { await engine.kill(); await engine.stop(); });
  await engine.waitFor((e) => /pipeline omnilens-live started/.test(e.stderr), 10000, 'the pipeline');
  const url = `${engine.url.replace(/^http/, 'ws')}/live`;
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const tokenFor = (sub, rooms = ['octo-org/*']) => jwt({ sub, rooms, exp }, JWT_SECRET);
  const open = async (sub, rooms, origin = ORIGIN) => connect(url, { protocols: ['switchyard.v1', `bearer.${await tokenFor(sub, rooms)}`], origin });

  let delivery = 0;
  const post = async (event, payload, { secret = SECRET } = {}) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${engine.url}/api/webhooks/github`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': `ol-${++delivery}`,
        'x-hub-signature-256': sign(secret, body) },
    });
    return res.status;
  };

  // 1,000 connections: 100 users, 10 each, each in one room.
  const clients = [];
  for (let u = 0; u < USERS; u += 10) {
    clients.push(...await Promise.all(Array.from({ length: 10 * PER_USER }, (_, i) => open(`user-${u + Math.floor(i / PER_USER)}`))));
  }
  cleanups.push(() => Promise.all(clients.map((c) => c.terminate())));
  const roomOf = (i) => ROOMS[i % ROOMS.length];
  clients.forEach((c, i) => c.subscribe(roomOf(i)));
  await Promise.all(clients.map((c, i) => c.waitOp('subscribed', roomOf(i), 20000)));

  // Who may connect, and to what.
  await assert.rejects(open('user-0'), (e) => e.status === 429, 'an 11th connection of one user');
  await assert.rejects(open('someone', undefined, 'https://evil.example.com'), (e) => e.status === 403, 'another origin');
  const outsider = await open('outsider', ['other-org/*']);
  cleanups.push(() => outsider.terminate());
  outsider.subscribe(ROOMS[0]);
  await outsider.waitOp('error', ROOMS[0]);

  // A forged webhook: refused, and nobody sees it.
  assert.equal(await post('push', sample(0, ROOMS[0]), { secret: 'not-the-secret' }), 401);

  // 100 webhooks back to back, 20 per room.
  const sent = new Map(ROOMS.map((r) => [r, []]));
  for (let n = 0; n < 100; n++) {
    const room = ROOMS[n % ROOMS.length];
    const p = sample(n, room);
    assert.equal(await post(eventOf(p), p), 202);
    sent.get(room).push(`ol-${delivery}`);
  }
  await Promise.all(clients.map((c, i) => c.waitFor((x) => x.events(roomOf(i)).length >= 20, 30000, 'all 20 events of its room')));
  for (const [i, c] of clients.entries()) {
    const events = c.events(roomOf(i));
    assert.deepEqual(events.map((m) => m.event.id), sent.get(roomOf(i)), `client ${i}: every event of its room, in order, once`);
    for (let k = 1; k < events.length; k++) assert.equal(events[k].seq, events[k - 1].seq + 1);
  }
  const first = clients[0].events(ROOMS[0]);
  assert.ok(first.every((m) => m.event.data.repository === ROOMS[0] && typeof m.event.data.status === 'string'));

  // Sanitised output: hostile text, a javascript: link.
  const hostile = structuredClone(group('push').find((p) => p.head_commit));
  hostile.repository.full_name = ROOMS[1];
  hostile.head_commit.message = '<img src=x onerror="alert(document.cookie)"> fix';
  hostile.compare = 'javascript:alert(1)';
  assert.equal(await post('push', hostile), 202);
  const [shown] = (await clients[1].waitEvents(ROOMS[1], 21)).slice(20);
  assert.equal(shown.event.data.title, hostile.head_commit.message, 'kept as text for textContent');
  assert.equal(shown.event.data.title_html, '&lt;img src=x onerror=&quot;alert(document.cookie)&quot;&gt; fix');
  assert.equal(shown.event.data.url, '', 'a javascript: link is blanked');

  // Replay: a dashboard that reconnects after the 10th event of a room gets the rest.
  const back = await open('returning');
  cleanups.push(() => back.terminate());
  back.subscribe(ROOMS[0], first[9].seq);
  const replayed = await back.waitEvents(ROOMS[0], 10);
  assert.deepEqual(replayed.map((m) => m.event.id), sent.get(ROOMS[0]).slice(10));

  // 60 a minute per repository: 65 webhooks at once to a quiet repository → up to 60 at
  // once, the rest spread out (one a second), none lost.
  const BURST = 'octo-org/busy-bot';
  const watcher = await open('watcher');
  cleanups.push(() => watcher.terminate());
  watcher.subscribe(BURST);
  await watcher.waitOp('subscribed', BURST);
  const burst = [];
  for (let n = 0; n < 65; n++) {
    const p = sample(n, BURST);
    assert.equal(await post(eventOf(p), p), 202, 'acknowledged at once, even over the limit');
    burst.push(`ol-${delivery}`);
  }
  const got = await watcher.waitEvents(BURST, 65, 30000);
  assert.deepEqual(got.map((m) => m.event.id), burst, 'none lost, in order');
  // The bucket holds 60 when the first arrives and refills one a second: the 65th cannot
  // be published less than 5 s after the first, however fast or slow the posting was.
  const at = (m) => watcher.arrivals[watcher.messages.indexOf(m)];
  assert.ok(at(got[64]) - at(got[0]) >= 4500,
    `the ones over the limit were spread out (the 65th came ${(at(got[64]) - at(got[0])).toFixed(0)} ms after the first)`);
});
