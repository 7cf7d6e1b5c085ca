// Dead letters as a source (contract section 10, `dlq`): a delivery the engine gives up on
// becomes an event of an alerts pipeline, as a Slack alert would go out. Once per entry
// across a restart; never the alerts pipeline's own failures (that would loop); `dlq drop`
// and `dlq replay` leave it following the queue.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startEngine, dlq, dlqList } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const pipelines = (deployUrl, alertUrl) => ({
  // The failing flow: its http sink's endpoint refuses the event (400: permanent, no retry).
  deploys: `name: deploys
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - name: notify
    type: http
    url: ${deployUrl}/hook
`,
  // The alerts: every other pipeline's dead letters, posted to a chat-like endpoint.
  alerts: `name: alerts
source:
  type: dlq
sinks:
  - name: chat
    type: http
    url: ${alertUrl}/alert
`,
});

async function post(engine, id) {
  const res = await fetch(`${engine.url}/in`, {
    method: 'POST', body: JSON.stringify({ service: 'api', id }),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  return res.status;
}

test('a dead letter alerts once, survives a restart without a duplicate, and never loops', async () => {
  const deploy = await startReceiver(() => ({ status: 400, body: '{"message":"unknown service"}' }));
  cleanups.push(() => deploy.close());
  // The chat endpoint refuses the alert about `loop-1`: that alert is a dead letter of
  // the alerts pipeline itself, which must not alert about it again.
  const chat = await startReceiver((r) => ({ status: r.body?.data?.event?.id === 'loop-1' ? 400 : 200 }));
  cleanups.push(() => chat.close());
  const alertsFor = (id) => chat.requests.filter((r) => r.body?.data?.event?.id === id);

  let engine = await startEngine({ pipelines: pipelines(deploy.url, chat.url), keep: true });
  const dir = engine.dir;
  cleanups.push(async () => { await engine.stop(); rmSync(dir, { recursive: true, force: true }); });

  assert.equal(await post(engine, 'bad-1'), 202);
  const [alert] = await waitUntil(() => alertsFor('bad-1').length > 0 && alertsFor('bad-1'), 10000, 'the alert for bad-1');
  assert.equal(alert.body.type, 'switchyard.dead_letter');
  assert.equal(alert.body.source, 'switchyard://deploys/notify');
  assert.equal(alert.body.subject, 'bad-1');
  assert.equal(alert.body.data.pipeline, 'deploys');
  assert.equal(alert.body.data.component, 'notify');
  assert.match(alert.body.data.error, /400/);
  assert.deepEqual(alert.body.data.event.data, { service: 'api', id: 'bad-1' }, 'the failed event as it came in');
  const [entry] = await dlqList(engine.configFile, '--pipeline', 'deploys');
  assert.equal(alert.body.id, `dlq-${entry.id}`, 'the alert id names the entry');
  assert.equal(alert.body.data.id, entry.id);

  // Restart: the place in the queue was kept; bad-1 is not alerted again. bad-2's alert
  // comes after wherever a duplicate would have (entries are followed in order).
  assert.equal(await engine.stop(), 0);
  engine = await startEngine({ dir });
  assert.equal(await post(engine, 'bad-2'), 202);
  await waitUntil(() => alertsFor('bad-2').length > 0, 10000, 'the alert for bad-2 after the restart');
  assert.equal(alertsFor('bad-1').length, 1, 'no duplicate alert after the restart');

  // An alert that fails is a dead letter of `alerts`: not fed back to it.
  assert.equal(await post(engine, 'loop-1'), 202);
  await waitUntil(async () => (await dlqList(engine.configFile, '--pipeline', 'alerts')).length === 1, 10000,
    "the failed alert in the alerts pipeline's dead letters");
  assert.equal(await post(engine, 'bad-3'), 202);
  await waitUntil(() => alertsFor('bad-3').length > 0, 10000, 'the alert for bad-3');
  assert.equal(alertsFor('loop-1').length, 1, 'the failed alert was not alerted about (no loop)');
  assert.equal(chat.requests.filter((r) => r.body?.data?.pipeline === 'alerts').length, 0);

  // Operators at work: the deploys entries dropped, the alert's entry replayed (it fails
  // again: a new entry of `alerts`, still not fed back). The source follows on.
  await dlq(engine.configFile, 'drop', '--pipeline', 'deploys');
  await dlq(engine.configFile, 'replay', '--pipeline', 'alerts');
  await waitUntil(() => alertsFor('loop-1').length === 2, 10000, 'the replayed alert tried again');
  assert.equal(await post(engine, 'bad-4'), 202);
  await waitUntil(() => alertsFor('bad-4').length > 0, 10000, 'the alert for bad-4 after drop and replay');
  const ids = chat.requests.filter((r) => r.status === 200).map((r) => r.body.data.event.id);
  assert.deepEqual(ids, ['bad-1', 'bad-2', 'bad-3', 'bad-4'], 'one alert per failure, in order');
  const alertsEntries = await dlqList(engine.configFile, '--pipeline', 'alerts');
  assert.equal(alertsEntries.length, 1, 'the replayed alert failed again: one entry, replacing the first');
  assert.equal(await engine.stop(), 0);
});
