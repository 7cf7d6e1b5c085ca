// A transform that fails an event does not lose it (contract section 1): the event goes to
// the dead-letter queue, named after the transform, with the error; `dlq replay` runs it
// through the (fixed, hot-reloaded) transforms again and it is delivered.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, dlq, dlqList } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

// payload.kind becomes the event type: an event without one fails map ("event_type
// rendered empty") until the fixed version gives a fallback.
function relay(url, eventType) {
  return `name: typed
source: {type: http, path: /in, id_header: X-Request-Id}
transforms:
  - type: map
    event_type: ${eventType}
sinks:
  - name: out
    type: http
    url: ${url}/hook
`;
}

async function post(engine, id, data) {
  const res = await fetch(`${engine.url}/in`, {
    method: 'POST', body: JSON.stringify(data),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  return res.status;
}

test('a map that fails an event dead-letters it; fixed and reloaded, dlq replay delivers it', async () => {
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: { typed: relay(receiver.url, "'${{ payload.kind }}'") } });
  cleanups.push(() => engine.stop());

  assert.equal(await post(engine, 'ok-1', { kind: 'build' }), 202);
  assert.equal(await post(engine, 'bad-1', { note: 'no kind' }), 202, 'the source is answered: the event is kept');
  assert.equal(await post(engine, 'ok-2', { kind: 'deploy' }), 202);
  await waitUntil(() => receiver.delivered().length === 2, 10000, 'the two good events');
  assert.deepEqual(receiver.delivered(), ['ok-1', 'ok-2']);

  const entries = await waitUntil(async () => {
    const list = await dlqList(engine.configFile);
    return list.length === 1 && list;
  }, 10000, 'the failed event in the dead-letter queue');
  assert.equal(entries[0].pipeline, 'typed');
  assert.equal(entries[0].sink, "transforms[0] 'map'", 'the entry names the transform');
  assert.equal(entries[0].event_id, 'bad-1');
  assert.match(entries[0].error, /event_type rendered empty/);
  const shown = JSON.parse((await dlq(engine.configFile, 'show', String(entries[0].id))).stdout);
  const stored = typeof shown.event === 'string' ? JSON.parse(shown.event) : shown.event;
  assert.deepEqual(stored.data, { note: 'no kind' }, 'the event as it came in');

  const admin = await (await fetch(`${engine.adminUrl}/api/pipelines`)).json();
  const typed = (Array.isArray(admin) ? admin : admin.pipelines).find((p) => p.name === 'typed');
  assert.equal(typed.transform_errors, 1);
  assert.match(typed.last_error, /transforms\[0\] 'map': event_type rendered empty/);

  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  const gauge = metrics.split('\n').find((l) => l.startsWith('switchyard_dlq_events{') && l.includes('pipeline="typed"') &&
    l.includes(`component="transforms[0] 'map'"`));
  assert.ok(gauge && Number(gauge.split(' ').pop()) === 1, `switchyard_dlq_events for the transform:\n${metrics}`);

  // The fix, hot reloaded; then the replay goes through the new map.
  writeFileSync(join(engine.dir, 'pipelines', 'typed.yaml'), relay(receiver.url, "'${{ payload.kind || ''unknown'' }}'"));
  const reload = await fetch(`${engine.adminUrl}/api/reload`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  assert.equal(reload.status, 200, await reload.text());
  await dlq(engine.configFile, 'replay', '--all');
  await waitUntil(() => receiver.delivered().includes('bad-1'), 10000, 'the replayed event at the receiver');
  const replayed = receiver.requestsFor('bad-1');
  assert.equal(replayed.length, 1);
  assert.equal(replayed[0].body.type, 'unknown');
  assert.deepEqual(replayed[0].body.data, { note: 'no kind' });
  await waitUntil(async () => (await dlqList(engine.configFile)).length === 0, 10000, 'the entry out of the DLQ');
  assert.equal(await engine.stop(), 0);
});

// A review found the replay lost: dedup, before the failing map, remembered the event's key
// on its first pass and dropped the replay as a duplicate, and the entry was taken out.
test('a replay a transform drops (dedup saw it before it failed) stays in the dead-letter queue, saying why', async () => {
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const deduped = (eventType) => relay(receiver.url, eventType).replace(
    'transforms:\n', "transforms:\n  - type: dedup\n    key: '${{ payload.n }}'\n");
  const engine = await startEngine({ pipelines: { typed: deduped("'${{ payload.kind }}'") } });
  cleanups.push(() => engine.stop());

  assert.equal(await post(engine, 'bad-1', { n: 1, note: 'no kind' }), 202);
  const entries = await waitUntil(async () => {
    const list = await dlqList(engine.configFile);
    return list.length === 1 && list;
  }, 10000, 'the failed event in the dead-letter queue');
  assert.equal(entries[0].sink, "transforms[1] 'map'");

  writeFileSync(join(engine.dir, 'pipelines', 'typed.yaml'), deduped("'${{ payload.kind || ''unknown'' }}'"));
  const reload = await fetch(`${engine.adminUrl}/api/reload`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  assert.equal(reload.status, 200, await reload.text());
  await dlq(engine.configFile, 'replay', '--all');
  // Back in the queue, named after the transform that dropped it, and not parked: listed again.
  const again = await waitUntil(async () => {
    const list = await dlqList(engine.configFile);
    return list.length === 1 && list[0].sink === "transforms[0] 'dedup'" && list;
  }, 10000, 'the dropped replay back in the dead-letter queue');
  assert.equal(again[0].event_id, 'bad-1');
  assert.match(again[0].error, /dropped \(deduplicated\) when replayed from the dead-letter queue/);
  assert.deepEqual(receiver.delivered(), []);
  assert.equal(await engine.stop(), 0);
});
