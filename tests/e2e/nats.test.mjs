// Scale-out through NATS JetStream end to end: a real 3-node nats-server cluster
// (tests/e2e/lib/nats.mjs), the shipped pipelines/scale-out/ files, ingest engines
// (github.webhook → nats) and two worker engines (nats → http) as child processes, and a
// local HTTP receiver as the final sink.
// - GitHub's redelivery of one delivery, to two ingest engines, is stored once (duplicate window);
// - under load, one NATS server and one worker are SIGKILLed (the worker restarted): every
//   webhook an ingest engine acknowledged reaches the receiver at least once; duplicates are
//   counted and reported, a loss fails the test.
// A longer soak: SWITCHYARD_NATS_SOAK=5000 node --test tests/e2e/nats.test.mjs (docs/operations.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startNatsCluster } from './lib/nats.mjs';
import { createServer } from 'node:http';
import { waitUntil } from './lib/receiver.mjs';

const SECRET = 'nats-e2e-secret';
const LOAD = Number(process.env.SWITCHYARD_NATS_SOAK ?? 400);
const shipped = (name) => readFileSync(join(SOURCE_DIR, 'pipelines', 'scale-out', name), 'utf8');
// The test's own ack_wait and batch: a killed worker's messages come back within seconds.
const workerPipeline = () => shipped('worker.yaml')
  .replace(/ack_wait: .*/, 'ack_wait: 2s')
  .replace(/batch: .*/, 'batch: 16')
  .replace(/max_in_flight: .*/, 'max_in_flight: 32')
  .replace(/concurrency: .*/, 'concurrency: 4');

// The final sink: an HTTP endpoint that takes 100 ms per event (slower than webhooks come in), so that workers always hold
// messages in flight (a killed worker dies mid-batch). Records the CloudEvent ids it took.
async function startSlowReceiver() {
  const ids = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => setTimeout(() => {
      try { ids.push(JSON.parse(Buffer.concat(chunks).toString()).id); } catch { /* not an event */ }
      res.writeHead(200).end();
    }, 100));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    delivered: () => ids,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

let cluster;
let receiver;
const cleanups = [];
before(async () => {
  cluster = await startNatsCluster({ size: 3 });
  receiver = await startSlowReceiver();
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await receiver?.close();
  await cluster?.close();
});

async function engine(pipelines) {
  const e = await startEngine({
    pipelines,
    env: { NATS_URL: cluster.urls.join(','), GITHUB_WEBHOOK_SECRET: SECRET, SCALE_OUT_SINK_URL: `${receiver.url}/events` },
    config: 'env: {allow: [NATS_URL, GITHUB_WEBHOOK_SECRET, SCALE_OUT_SINK_URL]}\n',
  });
  cleanups.push(() => e.stop());
  return e;
}
const ingest = async () => {
  const e = await engine({ ingest: shipped('ingest.yaml') });
  await e.waitFor((x) => /stream GITHUB is there|created stream GITHUB/.test(x.stderr), 20000, 'the stream check');
  return e;
};
// A worker has no HTTP source; the probe pipeline opens the listener startEngine waits for.
const PROBE = 'source: {type: http, path: /probe}\nsinks: [{type: blackhole}]\n';
const worker = async () => {
  const e = await engine({ worker: workerPipeline(), probe: PROBE });
  await e.waitFor((x) => /(created|bound to) durable consumer workers/.test(x.stderr), 20000, 'the consumer');
  return e;
};

// The worker's switchyard_nats_in_flight gauge, read from /metrics into `cache` (waitFor is synchronous).
const cache = new Map();
function inFlight(w) {
  fetch(`${w.adminUrl}/metrics`).then((r) => r.text())
    .then((text) => cache.set(w, Number(/switchyard_nats_in_flight\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0))).catch(() => {});
  return cache.get(w) ?? 0;
}

async function postPush(e, delivery, n) {
  const body = JSON.stringify({ ref: 'refs/heads/main', n, repository: { full_name: 'octo-org/switchyard' } });
  try {
    const res = await fetch(`${e.url}/github/webhook`, {
      method: 'POST', body, signal: AbortSignal.timeout(10000),
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery,
        'x-hub-signature-256': sign(SECRET, body) },
    });
    return res.status;
  } catch {
    return 0;
  }
}

test('a GitHub redelivery reaching two ingest engines is stored once', async () => {
  const [a, b] = [await ingest(), await ingest()];
  const before = (await cluster.stream('GITHUB'))?.state?.messages ?? 0;
  const delivery = `redelivered-${Date.now()}`;
  assert.equal(await postPush(a, delivery, 0), 202);
  assert.equal(await postPush(b, delivery, 0), 202);  // GitHub's "Redeliver", through another engine
  // Both engines publish it: the second is acknowledged as a duplicate, not stored.
  const duplicates = async (e) => {
    const text = await (await fetch(`${e.adminUrl}/metrics`)).text();
    return /switchyard_nats_published_total\{[^}]*result="duplicate"[^}]*\} 1/.test(text) ? 1 : 0;
  };
  const stored = async (e) => {
    const text = await (await fetch(`${e.adminUrl}/metrics`)).text();
    return /switchyard_nats_published_total\{[^}]*result="stored"[^}]*\} 1/.test(text) ? 1 : 0;
  };
  await waitUntil(async () => (await stored(a)) + (await stored(b)) === 1 && (await duplicates(a)) + (await duplicates(b)) === 1,
    15000, 'one publish stored and one acknowledged as a duplicate');
  assert.equal((await cluster.stream('GITHUB')).state.messages, before + 1);
  await a.stop();
  await b.stop();
});

test('under load, a NATS server and a worker killed: every acknowledged webhook arrives, duplicates counted', async (t) => {
  const gateway = await ingest();
  const workers = [await worker(), await worker()];
  const accepted = new Set();
  let refused = 0;
  let faults = Promise.resolve();
  const prefix = `load-${Date.now()}-`;

  // A steady stream of webhooks, 8 at a time; the faults come a third and two thirds in.
  let next = 0;
  const sendAll = async () => {
    while (next < LOAD) {
      const n = next++;
      const delivery = `${prefix}${n}`;
      const status = await postPush(gateway, delivery, n);
      if (status === 202) accepted.add(delivery); else refused++;
      if (n === Math.floor(LOAD / 3)) {
        faults = faults.then(() => cluster.nodes[1].kill());  // a crash of one of the three servers
      }
      if (n === Math.floor((2 * LOAD) / 3)) {
        faults = faults.then(async () => {
          // A worker dies mid-batch (it holds unacknowledged messages), and comes back.
          await workers[0].waitFor(() => inFlight(workers[0]) > 0, 10000, 'messages in flight');
          await workers[0].kill();
          workers[0] = await worker();
        });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await Promise.all(Array.from({ length: 8 }, sendAll));
  await faults;

  const arrived = () => new Set(receiver.delivered().filter((id) => id?.startsWith(prefix)));
  await waitUntil(() => [...accepted].every((id) => arrived().has(id)), 45000,
    'every acknowledged webhook at the receiver').catch(() => {});
  const got = arrived();
  const lost = [...accepted].filter((id) => !got.has(id));
  const deliveries = receiver.delivered().filter((id) => id?.startsWith(prefix));
  const duplicates = deliveries.length - got.size;
  t.diagnostic(`${accepted.size} webhooks acknowledged (${refused} refused), ${got.size} arrived, ` +
    `${duplicates} duplicate deliveries, ${lost.length} lost`);
  assert.deepEqual(lost, [], `acknowledged webhooks that never arrived:\n${workers.map((w) => w.stderr).join('\n')}`);
  assert.ok(accepted.size >= LOAD * 0.9, `most webhooks are acknowledged (${accepted.size} of ${LOAD})`);
  // Every id that arrived was one we sent and acknowledged or at least sent.
  for (const id of got) assert.ok(Number(id.slice(prefix.length)) < LOAD);
  // The killed worker held messages: the server delivered them again to the workers alive.
  let redelivered = 0;
  for (const w of workers) {
    const text = await (await fetch(`${w.adminUrl}/metrics`)).text();
    redelivered += Number(/switchyard_nats_redelivered_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  }
  t.diagnostic(`${redelivered} message(s) redelivered after the worker was killed`);
  assert.ok(redelivered > 0, 'the killed worker died holding unacknowledged messages');
  await cluster.nodes[1].start();  // the cluster whole again for what follows
});
