// What one held event of a large body costs in memory (issue 16, item 3): a memory pipeline
// whose only sink is stuck (a receiver answering 503) holds every event it takes; the
// engine's resident memory grows by about COUNT x the cost of one event. Two body shapes:
// one long string (a log, a diff), and many small objects (a push with many commits), whose
// parsed tree costs more than its text.
//
//   SWITCHYARD_BINARY=build/bin/switchyard node bench/event_memory.mjs [MiB per body] [count]
//
// Prints, per shape, the RSS growth per event and its ratio to the body's size: averaged over
// all of them, and over the second half only (without what the first large body costs once).
import { readFileSync } from 'node:fs';
import { sign, startEngine } from '../tests/e2e/lib/engine.mjs';
import { startReceiver, waitUntil } from '../tests/e2e/lib/receiver.mjs';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 10) * MiB;
const count = Number(process.argv[3] ?? 12);
const rss = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

const shapes = {
  'one long string': (i) => JSON.stringify({ i, log: 'x'.repeat(size) }),
  'many small objects': (i) => {
    const commit = (n) => ({ id: `${n}`.padStart(40, '0'), message: 'Fix the flaky test', author: { name: 'Mona', email: 'mona@example.com' }, added: [], removed: [], modified: ['src/a.c'] });
    const one = JSON.stringify(commit(0)).length + 1;
    return JSON.stringify({ i, commits: Array.from({ length: Math.floor(size / one) }, (_, n) => commit(n)) });
  },
};

const SECRET = 'bench-secret';
const sources = {
  http: { yaml: '{type: http, path: /in, max_body: 64MiB}', headers: () => ({}) },
  'github.webhook': {
    yaml: `{type: github.webhook, path: /in, secret: ${SECRET}, max_body: 64MiB}`,
    headers: (body, i) => ({ 'x-github-event': 'push', 'x-github-delivery': `bench-${i}-${Date.now()}`, 'x-hub-signature-256': sign(SECRET, body) }),
  },
};

for (const [source, { yaml, headers }] of Object.entries(sources))
for (const [shape, make] of Object.entries(shapes)) {
  const receiver = await startReceiver(() => ({ status: 503 }));
  const engine = await startEngine({
    pipelines: {
      held: `name: held
durability: memory
queue_size: 100000
queue_bytes: 8GiB
source: ${yaml}
sinks:
  - name: stuck
    type: http
    url: ${receiver.url}/ingest
    queue_bytes: 8GiB
    retry: {max_attempts: 1000, initial: 10s, max: 10s, max_age: 1h}
`,
    },
    config: 'http: {listen: "127.0.0.1:0", max_body: 64MiB}\n',
  });
  try {
    const warm = '{"warm": true}';
    await waitUntil(async () => (await fetch(`${engine.url}/in`, { method: 'POST', body: warm, headers: { 'content-type': 'application/json', ...headers(warm, -1) } })).status === 202, 5000, 'the pipeline');
    const bodies = Array.from({ length: count }, (_, i) => make(i));
    const bytes = bodies[0].length;
    await new Promise((r) => setTimeout(r, 300));
    const before = rss(engine.child.pid);
    const half = Math.floor(count / 2);
    let middle = 0;
    for (const [i, body] of bodies.entries()) {
      if (i === half) {
        await new Promise((r) => setTimeout(r, 500));
        middle = rss(engine.child.pid);
      }
      const res = await fetch(`${engine.url}/in`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers(body, i) } });
      if (res.status !== 202) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = rss(engine.child.pid);
    // The average includes what the first large body costs once (the parser's buffers grow
    // to its size; the event in the sink's delivery slot); the second half's growth is what
    // each further held event adds.
    const per = (after - before) / count;
    const marginal = (after - middle) / (count - half);
    console.log(`${source}, ${shape}: ${count} bodies of ${(bytes / MiB).toFixed(1)} MiB held: ` +
                `${(per / MiB).toFixed(1)} MiB of RSS per event (${(per / bytes).toFixed(2)}x the body); ` +
                `each of the last ${count - half}: ${(marginal / MiB).toFixed(1)} MiB (${(marginal / bytes).toFixed(2)}x)`);
  } finally {
    await engine.stop();
    await receiver.close();
  }
}
