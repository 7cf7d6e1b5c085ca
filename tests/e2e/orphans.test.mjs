// Undelivered events of a pipeline that no file defines any more (removed or renamed) used
// to wait in the journal for ever (issue 16, item 14). At start they move to the dead-letter
// queue, with a log line saying so, where `dlq list` shows them and `dlq replay` delivers
// them once a pipeline of that name runs again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, dlq, dlqList } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const pipeline = (name, url) => `name: ${name}
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - {name: out, type: http, url: ${url}/hook, retry: {max_attempts: 1000, initial: 100ms, max: 300ms, max_age: 1h}}
  - {name: log, type: stdout}
`;

test('a renamed pipeline\'s undelivered events move to the dead-letter queue at start and can be replayed', async () => {
  let up = false;
  const receiver = await startReceiver(() => ({ status: up ? 200 : 503 }));
  cleanups.push(() => receiver.close());
  let engine = await startEngine({ pipelines: { orders: pipeline('orders', receiver.url) }, keep: true });
  const dir = engine.dir;
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const id of ['o-1', 'o-2', 'o-3']) {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-request-id': id } });
    assert.equal(res.status, 202);
  }
  await engine.waitFor((e) => e.events().length === 3, 5000, 'the stdout sink');
  await engine.stop();

  // Renamed: the file now defines orders-v2.
  rmSync(join(dir, 'pipelines', 'orders.yaml'));
  writeFileSync(join(dir, 'pipelines', 'orders-v2.yaml'), pipeline('orders-v2', receiver.url));
  engine = await startEngine({ dir });
  cleanups.push(() => engine.stop());
  await engine.waitFor((e) => /pipeline 'orders' is no longer defined/.test(e.stderr), 5000, 'the log line');
  assert.match(engine.stderr, /pipeline 'orders' is no longer defined by any file \(removed or renamed\): its 3 undelivered event\(s\) moved from the journal to the dead-letter queue \(3 entries/);
  const entries = await (await fetch(`${engine.adminUrl}/api/dlq?pipeline=orders`)).json();
  assert.deepEqual(entries.map((e) => e.event_id).sort(), ['o-1', 'o-2', 'o-3']);
  assert.ok(entries.every((e) => e.sink === 'out' && e.error === 'pipeline orders is no longer configured (moved to the dead-letter queue at engine start)'),
    JSON.stringify(entries));
  // A replay now would wait for a pipeline no file defines: said, with the way out.
  const parked = await dlq(engine.configFile, 'replay', '--pipeline', 'orders');
  assert.match(parked.stdout, /^3 event\(s\) queued for replay/);
  assert.match(parked.stderr, /dlq replay: 3 event\(s\) of pipeline 'orders' wait: no file in .* defines it; they go once one does \(or `switchyard dlq drop --pipeline orders`\)/);
  await engine.stop();

  // Nothing is left in the journal for that name: the next start says nothing about it.
  engine = await startEngine({ dir });
  await engine.waitFor((e) => /pipeline orders-v2 started/.test(e.stderr), 5000, 'the start');
  await new Promise((r) => setTimeout(r, 300));
  assert.doesNotMatch(engine.stderr, /pipeline 'orders' is no longer defined/);
  await engine.stop();

  // The name comes back: the entries replay to it.
  rmSync(join(dir, 'pipelines', 'orders-v2.yaml'));
  writeFileSync(join(dir, 'pipelines', 'orders.yaml'), pipeline('orders', receiver.url));
  up = true;
  engine = await startEngine({ dir });
  await dlq(engine.configFile, 'replay', '--pipeline', 'orders');
  await waitUntil(() => ['o-1', 'o-2', 'o-3'].every((id) => receiver.requests.some((r) => r.body?.id === id && r.status === 200)),
    10000, 'the replayed events');
  assert.deepEqual(await dlqList(engine.configFile), []);
});
