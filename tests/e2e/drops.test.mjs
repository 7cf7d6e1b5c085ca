// Seeing every drop: each event that does not reach a sink is counted by reason (signature,
// deduplicated, filtered, rate_limited, transform_error, dead_lettered) and component, the
// same in /api/pipelines and in switchyard_events_dropped_total; a request refused for its
// signature counts in `refused` (as in switchyard_signature_failures_total), and the last
// refusal's reason is shown, in the API and on the console.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startEngine, sign } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const SECRET = 'the-right-secret';

const pipelines = (receiverUrl) => ({
  gh: `name: gh
source: {type: github.webhook, path: /gh, secret: ${SECRET}}
sinks: [{name: out, type: blackhole}]
`,
  relay: `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
transforms:
  - {name: typed, type: map, event_type: '\${{ payload.kind }}'}
  - {name: only-kept, type: filter, if: '\${{ payload.keep }}'}
  - {name: once, type: dedup, key: '\${{ payload.key }}', window: 1h}
  - {name: slow-down, type: rate_limit, rate: 1, per: 1h}
sinks:
  - {name: all, type: blackhole}
  - {name: routed, type: blackhole, if: '\${{ payload.route == true }}'}
  - {name: rejected, type: http, url: ${receiverUrl}/reject, retry: {max_attempts: 1}}
`,
});

async function post(engine, id, data) {
  const res = await fetch(`${engine.url}/in`, {
    method: 'POST', body: JSON.stringify(data), headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  await res.text();
  return res.status;
}

async function github(engine, secret, delivery) {
  const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
  const res = await fetch(`${engine.url}/gh`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery,
               'x-hub-signature-256': sign(secret, body) },
  });
  await res.text();
  return res.status;
}

const pipeline = async (engine, name) =>
  (await (await fetch(`${engine.adminUrl}/api/pipelines`)).json()).find((p) => p.name === name && p.state === 'running');

// The value of switchyard_events_dropped_total{pipeline, component, reason}; undefined: no such series.
function dropped(metrics, pipelineName, component, reason) {
  const line = metrics.split('\n').find((l) => l.startsWith('switchyard_events_dropped_total{') &&
    l.includes(`pipeline="${pipelineName}"`) && l.includes(`component="${component}"`) && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').pop()) : undefined;
}

test('every event that does not reach a sink is counted by reason, alike in /api/pipelines and /metrics', async () => {
  const receiver = await startReceiver(() => ({ status: 400 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: pipelines(receiver.url) });
  cleanups.push(() => engine.stop());

  // A wrong secret: 401, counted as refused, with the reason the sender was told.
  assert.equal(await github(engine, 'a-wrong-secret', 'd-1'), 401);
  assert.equal(await github(engine, 'a-wrong-secret', 'd-2'), 401);
  assert.equal(await github(engine, SECRET, 'd-3'), 202);
  assert.equal(await github(engine, SECRET, 'd-3'), 200, 'a redelivery is answered, not emitted again');
  const gh = await pipeline(engine, 'gh');
  assert.equal(gh.refused, 2, JSON.stringify(gh));
  assert.equal(gh.refused_signature, 2);
  assert.match(gh.last_refusal, /^\d{4}-\d\d-\d\dT\S+ X-Hub-Signature-256 does not match the body$/);

  assert.equal(await post(engine, 'no-kind', { keep: true, key: 'x' }), 202);   // map fails: transform_error
  assert.equal(await post(engine, 'not-kept', { kind: 'k', keep: false }), 202);  // filtered
  assert.equal(await post(engine, 'first', { kind: 'k', keep: true, key: 'a' }), 202);  // reaches the sinks
  assert.equal(await post(engine, 'again', { kind: 'k', keep: true, key: 'a' }), 202);  // deduplicated
  assert.equal(await post(engine, 'too-many', { kind: 'k', keep: true, key: 'b' }), 202);  // rate_limited
  const expected = [
    { component: 'typed', reason: 'transform_error', count: 1 },
    { component: 'only-kept', reason: 'filtered', count: 1 },
    { component: 'once', reason: 'deduplicated', count: 1 },
    { component: 'slow-down', reason: 'rate_limited', count: 1 },
    { component: 'routed', reason: 'filtered', count: 1 },
    { component: 'rejected', reason: 'dead_lettered', count: 1 },
  ];
  const key = (d) => `${d.component}/${d.reason}`;
  const relay = await waitUntil(async () => {
    const p = await pipeline(engine, 'relay');
    return p.drops.length === expected.length && p;
  }, 10000, 'every drop of the relay pipeline');
  assert.deepEqual(relay.drops.map(key).sort(), expected.map(key).sort(), JSON.stringify(relay.drops));
  for (const d of expected) assert.equal(relay.drops.find((x) => key(x) === key(d)).count, d.count, key(d));
  assert.equal(relay.refused, 0);
  assert.equal(relay.last_refusal, null);

  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  for (const d of expected) assert.equal(dropped(metrics, 'relay', d.component, d.reason), d.count, `${key(d)}:\n${metrics}`);
  assert.equal(dropped(metrics, 'gh', gh.source.name, 'signature'), 2, metrics);
  assert.equal(dropped(metrics, 'gh', gh.source.name, 'deduplicated'), 1, metrics);
  assert.ok(gh.drops.some((d) => d.reason === 'deduplicated' && d.count === 1), JSON.stringify(gh.drops));
  const signature = metrics.split('\n').find((l) => l.startsWith('switchyard_signature_failures_total{') && l.includes('pipeline="gh"'));
  assert.equal(Number(signature.split(' ').pop()), gh.refused_signature, 'the API and the metric agree');

  const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics });
  assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
});
