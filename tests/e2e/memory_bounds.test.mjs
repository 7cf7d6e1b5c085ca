// A stuck sink must not hold a pipeline's events in memory whatever their size (issue 16,
// item 3): sinks' windows and the pipeline's intake are bounded in bytes (queue_bytes) as
// well as in events (queue_size). A durable pipeline's sink then reads its backlog from the
// journal; a memory pipeline pushes back (503).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startEngine } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const MiB = 1024 * 1024;
const body = (i, size) => JSON.stringify({ i, pad: 'x'.repeat(size) });
const rss = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

const pipeline = (url, durability) => `
name: big
durability: ${durability}
queue_bytes: 8MiB
source: {type: http, path: /in}
sinks:
  - name: stuck
    type: http
    url: ${url}/ingest
    queue_bytes: 8MiB
    retry: {max_attempts: 1000, initial: 1s, max: 1s, max_age: 1h}
`;

test('a memory pipeline whose sink is stuck answers 503 once queue_bytes of events wait, not after 1,024 of them', async () => {
  const receiver = await startReceiver(() => ({ status: 503 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: { big: pipeline(receiver.url, 'memory') } });
  cleanups.push(() => engine.stop());
  const statuses = [];
  for (let i = 0; i < 30; ++i) {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', body: body(i, 2 * MiB) });
    const text = await res.text();
    statuses.push(res.status);
    if (res.status === 503) {
      assert.match(text, /saturated/);
      assert.ok(res.headers.get('retry-after'));
      break;
    }
  }
  // 8 MiB of 2 MiB events in the sink's window (and one being delivered), then 8 MiB in the
  // pipeline's own queue waiting for the window: about 9, well under 30.
  assert.equal(statuses.at(-1), 503, `30 events of 2 MiB were all accepted: ${statuses}`);
  assert.ok(statuses.length <= 12, `${statuses.length - 1} accepted before the 503`);
});

test('a durable pipeline whose sink is stuck keeps taking large events, holding only queue_bytes of them in memory', async () => {
  const receiver = await startReceiver(() => ({ status: 503 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: { big: pipeline(receiver.url, 'disk') } });
  cleanups.push(() => engine.stop());
  await waitUntil(async () => (await fetch(`${engine.url}/in`, { method: 'POST', body: body(-1, 10) })).status === 202,
    5000, 'the pipeline to take events');
  const before = rss(engine.child.pid);
  const count = 40;
  for (let i = 0; i < count; ++i) {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', body: body(i, 4 * MiB) });
    assert.equal(res.status, 202, await res.text());
  }
  await waitUntil(() => receiver.requests.length > 0, 10_000, 'the sink to try');
  const grown = rss(engine.child.pid) - before;
  console.log(`${count} events of 4 MiB accepted, the sink stuck: RSS grew ${(grown / MiB).toFixed(0)} MiB`);
  // Without the byte bound the window held all 40 (about 8x their size: over 1 GiB).
  assert.ok(grown < 400 * MiB, `RSS grew by ${(grown / MiB).toFixed(0)} MiB holding ${count} x 4 MiB events`);
  // Nothing was lost: the journal holds them for the sink.
  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  assert.match(metrics, /switchyard_events_received_total\{[^}]*pipeline="big"[^}]*\} 41\b/);
});
