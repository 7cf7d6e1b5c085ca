// The admin listener: a real Prometheus server scrapes /metrics and the test reads the
// series back from Prometheus' HTTP API; promtool checks the exposition format; the bearer
// token guards every endpoint; secrets never reach /api/pipelines; /readyz reports a
// pipeline that failed to start; the DLQ endpoints and their 4xx answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, tempDir } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';
import { freePort } from './lib/ports.mjs';

const cleanups = [];
// The admin API takes state changes only as JSON (no web page can send them).
const JSON_TYPE = { 'content-type': 'application/json' };
after(async () => { for (const c of cleanups.reverse()) await c(); });

const SECRET = 'webhook-secret-never-shown';
const TOKEN = 'admin-token-for-tests';

const pipelines = (receiverUrl) => ({
  gh: `name: gh
source: {type: github.webhook, path: /gh, secret: ${SECRET}}
sinks: [{name: out, type: blackhole}]
`,
  relay: `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - {name: ok, type: http, url: ${receiverUrl}/ok}
  - {name: rejecting, type: http, url: ${receiverUrl}/reject}
`,
});

async function post(engine, id) {
  const res = await fetch(`${engine.url}/in`, { method: 'POST', body: JSON.stringify({ id }), headers: { 'content-type': 'application/json', 'x-request-id': id } });
  await res.text();
  return res.status;
}

test('Prometheus scrapes labelled series; promtool accepts the format', { timeout: 90_000 }, async (t) => {
  if (spawnSync('which', ['prometheus']).status !== 0) return t.skip('prometheus is not installed');
  const receiver = await startReceiver((r) => (r.url === '/reject' ? { status: 400 } : { status: 200 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: pipelines(receiver.url) });
  cleanups.push(() => engine.stop());
  await engine.waitFor((e) => /pipeline relay started/.test(e.stderr), 10_000, 'the relay pipeline');
  for (let i = 0; i < 5; i++) assert.equal(await post(engine, `m-${i}`), 202);
  const bad = await fetch(`${engine.url}/gh`, { method: 'POST', body: '{}', headers: { 'x-github-event': 'push', 'x-github-delivery': 'd1', 'x-hub-signature-256': sign('wrong', '{}') } });
  assert.equal(bad.status, 401);
  await waitUntil(() => receiver.requests.length >= 10, 10_000, 'deliveries to both sinks');

  // promtool: the exposition is valid and lint-clean.
  const text = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text });
  assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);

  // A real Prometheus, scraping every second.
  const dir = tempDir('switchyard-prom-');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: switchyard
    static_configs: [{targets: ['${new URL(engine.adminUrl).host}']}]
`);
  mkdirSync(join(dir, 'data'));
  const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promLog = '';
  prom.stderr.on('data', (d) => { promLog += d; });
  cleanups.push(() => new Promise((r) => { if (prom.exitCode !== null) return r(); prom.once('exit', r); prom.kill('SIGKILL'); }));
  const query = async (q) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = await res.json();
    return body.data?.result ?? [];
  };
  const series = await waitUntil(async () => {
    try {
      const r = await query('switchyard_events_received_total');
      return r.length >= 2 && r;
    } catch { return false; }
  }, 30_000, `Prometheus to scrape the engine (log: ${promLog.slice(-500)})`);
  const received = Object.fromEntries(series.map((s) => [`${s.metric.pipeline}/${s.metric.component}`, Number(s.value[1])]));
  assert.equal(received['relay/http'], 5);
  assert.equal(received['gh/github.webhook'] ?? 0, 0);
  const delivered = await query('switchyard_events_delivered_total{pipeline="relay"}');
  assert.deepEqual(delivered.map((s) => [s.metric.component, Number(s.value[1])]).sort(), [['ok', 5], ['rejecting', 0]]);
  const failures = await query('switchyard_delivery_failures_total{component="rejecting",reason="permanent"}');
  assert.equal(Number(failures[0]?.value[1]), 5);
  const dlq = await query('switchyard_dlq_events{component="rejecting"}');
  assert.equal(Number(dlq[0]?.value[1]), 5);
  const signatures = await query('switchyard_signature_failures_total{pipeline="gh"}');
  assert.equal(Number(signatures[0]?.value[1]), 1);
  const latency = await query('switchyard_delivery_latency_seconds_count{pipeline="relay",component="ok"}');
  assert.equal(Number(latency[0]?.value[1]), 5);
  const p99 = await query('histogram_quantile(0.99, sum by (le) (switchyard_delivery_latency_seconds_bucket{component="ok"}))');
  assert.ok(Number(p99[0]?.value[1]) > 0 && Number(p99[0]?.value[1]) <= 60, `p99 latency ${JSON.stringify(p99)}`);
  const build = await query('switchyard_build_info');
  assert.match(build[0]?.metric.version ?? '', /^\d+\.\d+\.\d+$/);
  const depth = await query('switchyard_queue_depth{pipeline="relay"}');
  assert.equal(depth.length, 2, 'a queue depth per sink');
});

test('admin.token: every endpoint wants it; secrets never appear in /api/pipelines', async () => {
  const receiver = await startReceiver((r) => (r.url === '/reject' ? { status: 400 } : { status: 200 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({
    pipelines: pipelines(receiver.url),
    config: `admin: {listen: "127.0.0.1:0", token: ${TOKEN}}\n`,
  });
  cleanups.push(() => engine.stop());
  await engine.waitFor((e) => /pipeline relay started/.test(e.stderr) && /pipeline gh started/.test(e.stderr), 10_000, 'both pipelines');
  const endpoints = [['GET', '/metrics'], ['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/api/pipelines'],
    ['GET', '/api/dlq'], ['GET', '/api/dlq/entry?id=1'], ['POST', '/api/dlq/replay'], ['POST', '/api/dlq/drop'], ['POST', '/api/reload']];
  for (const [method, path] of endpoints) {
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, TOKEN]) {
      const res = await fetch(`${engine.adminUrl}${path}`, { method, headers: auth ? { authorization: auth } : {}, body: method === 'POST' ? '{}' : undefined });
      assert.equal(res.status, 401, `${method} ${path} with ${auth ?? 'no'} authorization`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  }
  const auth = { authorization: `Bearer ${TOKEN}` };
  assert.equal((await fetch(`${engine.adminUrl}/healthz`, { headers: auth })).status, 200);
  const res = await fetch(`${engine.adminUrl}/api/pipelines`, { headers: auth });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(!text.includes(SECRET), 'the webhook secret leaked into /api/pipelines');
  assert.ok(!text.includes(TOKEN), 'the admin token leaked into /api/pipelines');
  const list = JSON.parse(text);
  assert.deepEqual(list.map((p) => p.name).sort(), ['gh', 'relay']);
  const gh = list.find((p) => p.name === 'gh');
  assert.equal(gh.state, 'running');
  assert.equal(gh.source.type, 'github.webhook');
  assert.match(JSON.stringify(gh.source.options.secret), /<redacted>/, 'the secret option is listed, redacted');
  assert.ok(!(await (await fetch(`${engine.adminUrl}/metrics`, { headers: auth })).text()).includes(SECRET));
  // With the token, a dead letter's event is served whole.
  assert.equal(await post(engine, 'dead-with-token'), 202);
  const [dead] = await waitUntil(async () => {
    const l = await (await fetch(`${engine.adminUrl}/api/dlq`, { headers: auth })).json();
    return l.length === 1 && l;
  }, 10_000, 'the dead letter');
  const entry = await (await fetch(`${engine.adminUrl}/api/dlq/entry?id=${dead.id}`, { headers: auth })).json();
  assert.equal(entry.event.data.id, 'dead-with-token');
});

test('/readyz is 503 naming a pipeline that failed to start; DLQ endpoints and their 4xx answers', async () => {
  const receiver = await startReceiver((r) => (r.url === '/reject' ? { status: 400 } : { status: 200 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({
    pipelines: {
      ...pipelines(receiver.url),
      // Valid, but its sink cannot open its file: it cannot start.
      zz_clash: `name: clash\nsource: {type: http, path: /clash}\nsinks: [{name: out, type: file, path: /nonexistent-switchyard-dir/out.jsonl}]\n`,
    },
  });
  cleanups.push(() => engine.stop());
  await engine.waitFor((e) => /pipeline clash .* failed to start/.test(e.stderr), 10_000, 'the clash to be refused');
  const ready = await fetch(`${engine.adminUrl}/readyz`);
  assert.equal(ready.status, 503);
  const body = await ready.json();
  assert.equal(body.status, 'not ready');
  assert.ok(body.reasons.some((r) => /clash/.test(r) && /cannot open/.test(r)), JSON.stringify(body));
  assert.equal((await fetch(`${engine.adminUrl}/healthz`)).status, 200, 'alive even when not ready');

  assert.equal(await post(engine, 'dead-1'), 202);
  assert.equal(await post(engine, 'dead-2'), 202);
  const list = await waitUntil(async () => {
    const l = await (await fetch(`${engine.adminUrl}/api/dlq?sink=rejecting`)).json();
    return l.length === 2 && l;
  }, 10_000, 'two dead letters');
  assert.deepEqual(list.map((e) => e.event_id).sort(), ['dead-1', 'dead-2']);
  assert.equal((await (await fetch(`${engine.adminUrl}/api/dlq?pipeline=none`)).json()).length, 0);
  // Without admin.token the entry's payload is not served (anyone who reaches the port).
  const open = await fetch(`${engine.adminUrl}/api/dlq/entry?id=${list[0].id}`);
  assert.equal(open.status, 403);
  assert.match((await open.json()).error, /only when admin.token is set.*switchyard dlq show/);

  // 4xx: bad id, unknown id, bad body, no selection, unknown key, bad duration, wrong method.
  assert.equal((await fetch(`${engine.adminUrl}/api/dlq/entry?id=abc`)).status, 400);
  assert.equal((await fetch(`${engine.adminUrl}/api/dlq/entry?id=99999`)).status, 404);
  const deep = '['.repeat(512 * 1024);  // recursively parsed, it would overflow the stack
  for (const bad of ['not json', '[]', '{}', '{"idz":[1]}', '{"older_than":"soon"}', '{"ids":["x"]}', deep, `{"ids":${deep}`]) {
    const res = await fetch(`${engine.adminUrl}/api/dlq/replay`, { method: 'POST', body: bad, headers: JSON_TYPE });
    assert.equal(res.status, 400, `replay with ${bad.slice(0, 40)}`);
    assert.ok((await res.json()).error, 'a 400 says why');
  }
  assert.equal((await fetch(`${engine.adminUrl}/api/dlq/replay`)).status, 405);
  assert.equal((await fetch(`${engine.adminUrl}/api/nothing`)).status, 404);
  assert.equal((await fetch(`${engine.adminUrl}/api/dlq?older_than=soon`)).status, 400);

  // Replay one to its sink (still rejecting: back in the DLQ), drop the other.
  const replay = await fetch(`${engine.adminUrl}/api/dlq/replay`, { method: 'POST', body: JSON.stringify({ ids: [list[0].id] }), headers: JSON_TYPE });
  assert.deepEqual(await replay.json(), { replayed: 1 });
  await waitUntil(() => receiver.requests.filter((r) => r.url === '/reject' && r.body?.id === list[0].event_id).length === 2,
    10_000, 'the replayed delivery');
  const drop = await fetch(`${engine.adminUrl}/api/dlq/drop`, { method: 'POST', body: JSON.stringify({ ids: [list[1].id] }), headers: JSON_TYPE });
  assert.deepEqual(await drop.json(), { dropped: 1 });
  const left = await waitUntil(async () => {
    const l = await (await fetch(`${engine.adminUrl}/api/dlq`)).json();
    return l.length === 1 && l;
  }, 10_000, 'one entry left');
  assert.equal(left[0].event_id, list[0].event_id);
  assert.equal(receiver.requests.filter((r) => r.url === '/ok').length, 2, 'replay reached the other sink');
});
