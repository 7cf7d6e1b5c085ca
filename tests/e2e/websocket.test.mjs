// The websocket sink end to end: the real binary, events posted to an http source, clients
// on the npm `ws` package. The protocol (subscribe, replay, resume with no gap and no
// duplicate, gap, unsubscribe, ping), seq across an engine restart, auth none/token/jwt,
// the origin allow-list, the per-client limit, a slow client closed with 1013 while a fast
// one receives everything, and wss on a TLS listener.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { startEngine, tempDir } from './lib/engine.mjs';
import { makeCerts } from './lib/certs.mjs';
import { waitUntil } from './lib/receiver.mjs';
import { connect, jwt } from './lib/live_client.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function pipeline(sinkOptions = '') {
  return `name: live
source: {type: http, path: /in, id_header: X-Request-Id, event_type: github.push}
sinks:
  - name: feed
    type: websocket
    path: /live
    room: "\${{ payload.repository.full_name }}"
${sinkOptions.replace(/^/gm, '    ')}
`;
}

// The listener opens with the pipeline's first route (the sink's): wait for the source's too.
const started = (engine) => engine.waitFor((e) => /pipeline live started/.test(e.stderr), 10000, 'the pipeline');

async function engineWith(sinkOptions, options = {}) {
  const engine = await startEngine({ pipelines: { live: pipeline(sinkOptions) }, ...options });
  cleanups.push(async () => { await engine.kill(); await engine.stop(); });
  await started(engine);
  return engine;
}

const wsUrl = (engine) => `${engine.url.replace(/^http/, 'ws')}/live`;

async function post(engine, id, repo, data = {}) {
  const res = await fetch(`${engine.url}/in`, {
    method: 'POST',
    body: JSON.stringify({ repository: { full_name: repo }, ...data }),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  assert.equal(res.status, 202, `posting ${id}: ${await res.text()}`);
}

async function open(url, options) {
  const client = await connect(url, options);
  cleanups.push(() => client.terminate());
  return client;
}

async function refusal(url, options) {
  try {
    const client = await connect(url, options);
    client.terminate();
  } catch (e) {
    return e.status;
  }
  throw new Error('the upgrade was accepted');
}

async function metric(engine, pattern) {
  const text = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${pattern} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const ids = (events) => events.map((m) => m.event.id);

test('subscribe, live events in order, replay on subscribe, resume without gap or duplicate, unsubscribe', async () => {
  const engine = await engineWith('');
  const room = 'octo-org/hello-service';
  const first = await open(wsUrl(engine));
  first.subscribe(room);
  assert.equal((await first.waitOp('subscribed', room)).seq, 0, 'no event yet');

  await post(engine, 'e1', room, { head_commit: { message: 'one' } });
  await post(engine, 'e2', room);
  await post(engine, 'x1', 'octo-org/other');
  const live = await first.waitEvents(room, 2);
  assert.deepEqual(ids(live), ['e1', 'e2']);
  assert.equal(live[1].seq, live[0].seq + 1);
  assert.equal(live[0].event.type, 'github.push');
  assert.equal(live[0].event.data.head_commit.message, 'one');
  assert.equal(first.events('octo-org/other').length, 0, 'only the rooms it subscribed to');

  // A newcomer gets what is kept, then live events.
  const second = await open(wsUrl(engine));
  second.subscribe(room);
  assert.equal((await second.waitOp('subscribed', room)).seq, live[1].seq);
  assert.deepEqual(ids(await second.waitEvents(room, 2)), ['e1', 'e2']);

  // The first client drops; events go on; it comes back with its cursor.
  const cursor = live[1].seq;
  await first.terminate();
  await post(engine, 'e3', room);
  await post(engine, 'e4', room);
  const back = await open(wsUrl(engine));
  back.subscribe(room, cursor);
  await back.waitEvents(room, 2);
  await post(engine, 'e5', room);
  const resumed = await back.waitEvents(room, 3);
  assert.deepEqual(ids(resumed), ['e3', 'e4', 'e5'], 'exactly after its cursor, then live');
  assert.deepEqual(resumed.map((m) => m.seq), [cursor + 1, cursor + 2, cursor + 3]);
  assert.equal(back.of('gap').length, 0);

  // Unsubscribe: nothing more from that room (a ping's pong orders it before the posts).
  second.send({ op: 'unsubscribe', room });
  second.subscribe('octo-org/other');
  second.send({ op: 'ping' });
  await second.waitOp('pong');
  await post(engine, 'e6', room);
  await post(engine, 'x2', 'octo-org/other');
  await second.waitFor((c) => c.events('octo-org/other').some((m) => m.event.id === 'x2'), 10000, 'x2');
  await back.waitFor((c) => c.events(room).some((m) => m.event.id === 'e6'), 10000, 'e6 to the other client');
  assert.ok(!second.events(room).some((m) => m.event.id === 'e6'), 'unsubscribed');

  second.send({ op: 'dance' });
  assert.match((await second.waitOp('error')).reason, /unknown op/);
  assert.ok(await metric(engine, 'switchyard_websocket_connections\\{component="feed",pipeline="live"\\}') >= 2);
  assert.ok(await metric(engine, 'switchyard_websocket_replayed_total\\{component="feed",pipeline="live"\\}') >= 4);
});

test('a cursor stays valid across an engine restart', async () => {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const room = 'octo-org/hello-service';
  let engine = await startEngine({ pipelines: { live: pipeline('') }, dir });
  await started(engine);
  const client = await open(wsUrl(engine));
  client.subscribe(room);
  await post(engine, 'r1', room);
  await post(engine, 'r2', room);
  const before = await client.waitEvents(room, 2);
  assert.equal(await engine.stop(), 0, engine.stderr);
  await client.closedPromise;
  assert.equal(client.closed.code, 1001, 'told the endpoint went away');

  engine = await startEngine({ dir });
  cleanups.push(async () => { await engine.kill(); });
  await started(engine);
  await post(engine, 'r3', room);
  // One client saw both, one only the first: each continues exactly after its cursor.
  const caughtUp = await open(wsUrl(engine));
  caughtUp.subscribe(room, before[1].seq);
  const behind = await open(wsUrl(engine));
  behind.subscribe(room, before[0].seq);
  const a = await caughtUp.waitEvents(room, 1);
  const b = await behind.waitEvents(room, 2);
  assert.deepEqual(ids(a), ['r3']);
  assert.equal(a[0].seq, before[1].seq + 1, 'numbering continued across the restart');
  assert.deepEqual(ids(b), ['r2', 'r3'], 'kept events were read back from the journal');
  assert.deepEqual(b.map((m) => m.seq), [before[1].seq, before[1].seq + 1]);
  await engine.stop();
});

test('a hot reload closes clients with 1001 and they resume on the new version, numbering unbroken', async () => {
  const engine = await engineWith('', { watch: true });
  const room = 'octo-org/hello-service';
  const client = await open(wsUrl(engine));
  client.subscribe(room);
  await post(engine, 'h1', room);
  await post(engine, 'h2', room);
  const before = await client.waitEvents(room, 2);
  writeFileSync(join(engine.dir, 'pipelines', 'live.yaml'), pipeline('replay_max: 999'));
  const closed = await client.closedPromise;
  assert.equal(closed.code, 1001, `closed with ${closed.code}`);
  await post(engine, 'h3', room);
  const back = await open(wsUrl(engine));
  back.subscribe(room, before[1].seq);
  await back.waitEvents(room, 1);
  await post(engine, 'h4', room);
  const got = await back.waitEvents(room, 2);
  assert.deepEqual(ids(got), ['h3', 'h4']);
  assert.deepEqual(got.map((m) => m.seq), [before[1].seq + 1, before[1].seq + 2]);
  assert.match(engine.stderr, /reload/i);
});

test('a resume from further back than what is kept gets a gap, then the kept events', async () => {
  const engine = await engineWith('replay_max: 2');
  const room = 'acme/site';
  const probe = await open(wsUrl(engine));
  probe.subscribe(room);
  for (let i = 1; i <= 5; i++) await post(engine, `g${i}`, room);
  const all = await probe.waitEvents(room, 5);
  const late = await open(wsUrl(engine));
  late.subscribe(room, all[0].seq);
  const kept = await late.waitEvents(room, 2);
  const gap = late.of('gap', room)[0];
  assert.deepEqual(gap, { op: 'gap', room, from: all[1].seq, to: all[2].seq });
  assert.deepEqual(ids(kept), ['g4', 'g5']);
  assert.ok(late.messages.indexOf(gap) < late.messages.indexOf(kept[0]), 'the gap comes first');
});

test('auth: token in the Authorization header or as a subprotocol; origins; the per-client limit', async () => {
  const token = 'dashboard-token-7f3a9c2e1b';
  const engine = await engineWith(`auth: token
tokens: ["${token}"]
origins: ["https://dash.example.com"]
max_connections_per_client: 2`);
  const url = wsUrl(engine);
  assert.equal(await refusal(url), 401);
  assert.equal(await refusal(url, { headers: { authorization: 'Bearer wrong-token-0000000000' } }), 401);
  assert.equal(await refusal(url, { headers: { authorization: `Bearer ${token}` }, origin: 'https://evil.example.com' }), 403);

  const header = await open(url, { headers: { authorization: `Bearer ${token}` } });
  const browserLike = await open(url, { protocols: ['switchyard.v1', `bearer.${token}`], origin: 'https://dash.example.com' });
  assert.equal(browserLike.ws.protocol, 'switchyard.v1', 'the token is never echoed');
  // Both from 127.0.0.1: a third is one too many.
  assert.equal(await refusal(url, { headers: { authorization: `Bearer ${token}` } }), 429);
  await header.close();
  await waitUntil(async () => {
    try { (await connect(url, { headers: { authorization: `Bearer ${token}` } })).terminate(); return true; } catch { return false; }
  }, 5000, 'a slot to free up once a client leaves');

  browserLike.subscribe('r');
  await browserLike.waitOp('subscribed', 'r');
  assert.equal(await metric(engine, 'switchyard_websocket_auth_failures_total\\{component="feed",pipeline="live"\\}'), 2);
  assert.equal(await metric(engine, 'switchyard_websocket_refused_total\\{component="feed",pipeline="live",reason="origin"\\}'), 1);
  assert.ok(!engine.stderr.includes(token), 'the token is never logged');
});

test('auth: jwt — expired and badly signed tokens are refused; the rooms claim limits subscriptions', async () => {
  const secret = 'omnilens-jwt-secret-of-32-bytes-or-more';
  const engine = await engineWith(`auth: jwt\njwt_secret: "${secret}"`);
  const url = wsUrl(engine);
  const now = Math.floor(Date.now() / 1000);
  const bearer = async (claims, key = secret) => ({ headers: { authorization: `Bearer ${await jwt(claims, key)}` } });
  assert.equal(await refusal(url, await bearer({ sub: 'ann', exp: now - 3600 })), 401, 'expired');
  assert.equal(await refusal(url, await bearer({ sub: 'ann', exp: now + 3600 }, 'some-other-secret-of-32-bytes-long!')), 401, 'bad signature');
  assert.equal(await refusal(url, await bearer({ sub: 'ann', nbf: now + 3600, exp: now + 7200 })), 401, 'not valid yet');
  assert.equal(await refusal(url, await bearer({ sub: 'ann' })), 401, 'no exp: it would never expire');

  const client = await open(url, { protocols: ['switchyard.v1', `bearer.${await jwt({ sub: 'ann', exp: now + 3600, rooms: ['octo-org/*'] }, secret)}`] });
  client.subscribe('acme/secret');
  const error = await client.waitOp('error', 'acme/secret');
  assert.equal(error.reason, 'not allowed to read this room');
  client.subscribe('octo-org/hello-service');
  await client.waitOp('subscribed', 'octo-org/hello-service');
  await post(engine, 'j1', 'acme/secret');
  await post(engine, 'j2', 'octo-org/hello-service');
  assert.deepEqual(ids(await client.waitEvents('octo-org/hello-service', 1)), ['j2']);
  assert.equal(client.events('acme/secret').length, 0);
});

test('auth: jwt — a connection is closed when its token expires; jwt_audience and jwt_issuer refuse other tokens', async () => {
  const secret = 'omnilens-jwt-secret-of-32-bytes-or-more';
  const engine = await engineWith(`auth: jwt\njwt_secret: "${secret}"\njwt_audience: dashboard\njwt_issuer: https://login.example.com`);
  const url = wsUrl(engine);
  const now = Math.floor(Date.now() / 1000);
  const ours = { aud: 'dashboard', iss: 'https://login.example.com' };
  const bearer = async (claims) => ({ headers: { authorization: `Bearer ${await jwt(claims, secret)}` } });
  assert.equal(await refusal(url, await bearer({ sub: 'ann', exp: now + 3600, aud: 'billing', iss: ours.iss })), 401, 'another audience');
  assert.equal(await refusal(url, await bearer({ sub: 'ann', exp: now + 3600, aud: ours.aud })), 401, 'no issuer');

  // exp is 28 s ago: inside the 30 s leeway, so it connects, and is closed about 2 s later.
  const expiring = await open(url, await bearer({ sub: 'ann', exp: now - 28, ...ours }));
  const lasting = await open(url, await bearer({ sub: 'bob', exp: now + 3600, ...ours }));
  expiring.subscribe('octo-org/hello-service');
  lasting.subscribe('octo-org/hello-service');
  await expiring.waitOp('subscribed', 'octo-org/hello-service');
  const closed = await Promise.race([expiring.closedPromise, new Promise((r) => setTimeout(() => r(null), 10000))]);
  assert.deepEqual(closed, { code: 1008, reason: 'token expired' });
  await post(engine, 'after-expiry', 'octo-org/hello-service');
  assert.deepEqual(ids(await lasting.waitEvents('octo-org/hello-service', 1)), ['after-expiry'], 'other connections go on');
  assert.equal(lasting.closed, null);
});

test('a client that stops reading is closed with 1013 while a fast client receives everything, in order', async () => {
  const engine = await engineWith('send_queue: 256KiB');
  const room = 'octo-org/monorepo';
  const fast = await open(wsUrl(engine));
  const slow = await open(wsUrl(engine));
  fast.subscribe(room);
  slow.subscribe(room);
  await fast.waitOp('subscribed', room);
  await slow.waitOp('subscribed', room);
  slow.ws._socket.pause();  // reads nothing more: kernel buffers fill, then its send queue

  const payload = 'x'.repeat(128 * 1024);
  const metricName = 'switchyard_websocket_slow_clients_total\\{component="feed",pipeline="live"\\}';
  let posted = 0;
  const started = Date.now();
  while (await metric(engine, metricName) < 1) {
    await post(engine, `s${++posted}`, room, { payload });  // always 202: the pipeline is not held up
    assert.ok(posted < 1000, 'the slow client was never closed');
  }
  slow.ws._socket.resume();
  const closed = await slow.closedPromise;
  assert.equal(closed.code, 1013, `closed with ${closed.code} ${closed.reason}`);
  const got = await fast.waitEvents(room, posted, 30000);
  assert.deepEqual(ids(got), Array.from({ length: posted }, (_, i) => `s${i + 1}`));
  assert.ok(got.every((m, i) => i === 0 || m.seq === got[i - 1].seq + 1));
  assert.ok(slow.events(room).length < posted, 'the slow one did not get everything');
  console.log(`# ${posted} events of 128 KiB until the slow client was closed (${Date.now() - started} ms)`);
});

test('wss on a TLS listener', async () => {
  const dir = tempDir('switchyard-certs-');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCerts(dir, { engine: 'IP:127.0.0.1' });
  const engine = await engineWith('', {
    config: `http: {listen: "127.0.0.1:0", tls: {cert: ${certs.file('engine', 'pem')}, key: ${certs.file('engine', 'key')}}}\n`,
  });
  assert.match(engine.url, /^https:/);
  const ca = readFileSync(certs.ca);
  const client = await open(wsUrl(engine), { ca });
  client.subscribe('r');
  await client.waitOp('subscribed', 'r');
  // Node's fetch takes no CA per request: post with https.request.
  const status = await new Promise((resolve, reject) => {
    const req = httpsRequest(`${engine.url}/in`, {
      method: 'POST', ca, headers: { 'content-type': 'application/json', 'x-request-id': 't1' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(JSON.stringify({ repository: { full_name: 'r' } }));
  });
  assert.equal(status, 202);
  assert.deepEqual(ids(await client.waitEvents('r', 1)), ['t1']);
  await assert.rejects(connect(wsUrl(engine)), /certificate/i, 'a client without the CA does not trust it');
});
