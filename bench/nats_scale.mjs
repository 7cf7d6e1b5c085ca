// The NATS scale-out figures (docs/performance.md, "Scaling out through NATS"), on a real
// 3-node nats-server cluster (tests/e2e/lib/nats.mjs) with an R3 stream:
// 1. ingest: generate → nats sink, COUNT events published with acknowledgements (events/s
//    from the first to the last stored), the sink's concurrency CONCURRENCY;
// 2. workers: the stream consumed by 1, 2 and 4 worker engines (one durable consumer per
//    round), each nats → http sink to a local endpoint that takes DELAY_MS per event, sink
//    concurrency 1: the sink's latency dominates. Events/s from the first arrival to the last.
// Run with bench/nats_scale.sh (it sets the paths).
import { createServer } from 'node:http';
import { startEngine } from '../tests/e2e/lib/engine.mjs';
import { startNatsCluster } from '../tests/e2e/lib/nats.mjs';

const COUNT = Number(process.env.COUNT ?? 2000);
const DELAY_MS = Number(process.env.DELAY_MS ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const WORKERS = (process.env.WORKERS ?? '1 2 4').split(/\s+/).map(Number);
const PROBE = 'source: {type: http, path: /probe}\nsinks: [{type: blackhole}]\n';

const cluster = await startNatsCluster({ size: 3 });
const servers = JSON.stringify(cluster.urls);
const engines = [];
let arrivals = [];
// Requests wait at the gate until every worker of the round is up: the round is timed from
// its opening, all workers running.
let gate = Promise.resolve();
const endpoint = createServer((req, res) => {
  req.resume();
  req.on('end', () => gate.then(() => setTimeout(() => { arrivals.push(performance.now()); res.writeHead(200).end(); }, DELAY_MS)));
});
await new Promise((r) => endpoint.listen(0, '127.0.0.1', r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  // 1. Ingest: publish with acknowledgements.
  const ingest = await startEngine({
    pipelines: {
      probe: PROBE,
      ingest: `source: {type: generate, count: ${COUNT}, interval: 0s, payload: {ref: refs/heads/main, n: 1}}\n` +
        `sinks:\n  - type: nats\n    servers: ${servers}\n    subject: bench.push\n    stream: BENCH\n` +
        `    concurrency: ${CONCURRENCY}\n    create_stream: {subjects: ["bench.>"], replicas: 3}\n`,
    },
  });
  engines.push(ingest);
  let first = 0;
  for (;;) {
    const stored = (await cluster.stream('BENCH'))?.state?.messages ?? 0;
    if (stored > 0 && !first) first = performance.now();
    if (stored >= COUNT) break;
    await sleep(10);
  }
  const ingestSeconds = (performance.now() - first) / 1000;
  console.log(`ingest: ${COUNT} events published to an R3 stream with acks in ${ingestSeconds.toFixed(2)} s: ` +
    `${Math.round(COUNT / ingestSeconds)} events/s (sink concurrency ${CONCURRENCY})`);
  await ingest.stop();

  // 2. Workers: the same COUNT messages, a fresh consumer per round.
  const rates = {};
  for (const n of WORKERS) {
    arrivals = [];
    let open;
    gate = new Promise((r) => { open = r; });
    const pipeline = `source: {type: nats, servers: ${servers}, stream: BENCH, consumer: bench-${n}, batch: 64, max_in_flight: 64}\n` +
      `sinks: [{type: http, url: "http://127.0.0.1:${endpoint.address().port}/", concurrency: 1}]\n`;
    const round = [];
    for (let i = 0; i < n; i++) round.push(startEngine({ pipelines: { probe: PROBE, worker: pipeline } }));
    const workers = await Promise.all(round);
    engines.push(...workers);
    for (const w of workers) await w.waitFor((e) => /durable consumer bench/.test(e.stderr), 20000, 'the consumer');
    await sleep(200);
    const opened = performance.now();
    open();
    while (arrivals.length < COUNT) await sleep(20);
    const seconds = (arrivals[COUNT - 1] - opened) / 1000;
    rates[n] = COUNT / seconds;
    console.log(`workers: ${n}: ${COUNT} events through a ${DELAY_MS} ms sink in ${seconds.toFixed(2)} s: ${Math.round(rates[n])} events/s`);
    for (const w of workers) await w.stop();
  }
  if (rates[1] && rates[4]) console.log(`scaling 1 → 4 workers: ${(rates[4] / rates[1]).toFixed(2)}x`);
} finally {
  for (const e of engines) await e.stop();
  endpoint.close();
  await cluster.close();
}
