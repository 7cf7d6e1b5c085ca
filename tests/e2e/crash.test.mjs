// The delivery promise under real faults: the engine runs as a child process with an `http`
// source and an `http` sink pointed at a local receiver; a client posts N events while the
// engine is killed with SIGKILL at random moments and restarted on the same state dir.
// Every event the engine acknowledged (202) must reach the receiver at least once;
// duplicates are counted and reported, not failed.
//
// Short run (make test): 10,000 events, 4 kills. Longer run, by hand:
//   CRASH_EVENTS=200000 CRASH_KILLS=30 ctest --test-dir build -R e2e.crash --output-on-failure
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { rmSync } from 'node:fs';
import { startEngine, tempDir } from './lib/engine.mjs';
import { startReceiver, waitUntil, sleep } from './lib/receiver.mjs';

const EVENTS = Number(process.env.CRASH_EVENTS ?? 10000);
const KILLS = Number(process.env.CRASH_KILLS ?? 4);
const CLIENTS = 32;

const pipeline = (receiverUrl) => `
name: relay
source: {type: http, path: /in}
sinks:
  - name: out
    type: http
    url: ${receiverUrl}/ingest
    concurrency: 16
    retry: {max_attempts: 1000, initial: 50ms, max: 500ms, max_age: 1h}
`;

// POSTs one body; resolves with the status, or 0 when the connection failed.
function post(agent, url, body) {
  return new Promise((resolve) => {
    const req = request(`${url}/in`, {
      method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

test(`kill -9 ${KILLS} times while posting ${EVENTS} events: every acknowledged event is delivered`, { timeout: 600_000 }, async () => {
  const receiver = await startReceiver();
  const dir = tempDir();
  let engine;
  try {
    engine = await startEngine({ dir, pipelines: { relay: pipeline(receiver.url) } });
    const live = { url: engine.url };
    const acked = new Set();
    const refused = { count: 0 };  // answers other than 202: the client retries them
    const unacked = Array.from({ length: EVENTS }, (_, i) => i);
    let agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });

    // The load: CLIENTS workers take the next unacknowledged event and post it until 202.
    const worker = async () => {
      while (unacked.length > 0) {
        const i = unacked.shift();
        const url = live.url;
        const status = url ? await post(agent, url, JSON.stringify({ i, pad: 'x'.repeat(100) })) : 0;
        if (status === 202) {
          acked.add(i);
        } else {
          refused.count++;
          unacked.push(i);
          await sleep(20);
        }
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, worker));

    // The faults: SIGKILL at random moments while the load runs, restart on the same state.
    const kills = [];
    for (let k = 0; k < KILLS; k++) {
      await sleep(200 + Math.random() * 800);
      kills.push({ acked: acked.size, received: receiver.requests.length });
      live.url = '';
      await engine.kill('SIGKILL');
      agent.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
      engine = await startEngine({ dir });
      live.url = engine.url;
    }
    await load;
    assert.equal(acked.size, EVENTS);

    // Every acknowledged event reaches the receiver (resumed from the journal after each kill).
    const received = () => new Set(receiver.requests.filter((r) => r.status === 200).map((r) => r.body?.data?.i));
    await waitUntil(() => {
      const got = received();
      return [...acked].every((i) => got.has(i));
    }, 120_000, 'every acknowledged event at the receiver');
    const got = received();
    const lost = [...acked].filter((i) => !got.has(i));
    assert.deepEqual(lost, [], `acknowledged but never delivered: ${lost.slice(0, 20)}`);

    const deliveries = receiver.requests.length;
    const duplicates = deliveries - got.size;
    console.log(`crash test: ${EVENTS} events acknowledged, ${KILLS} kills (at ${kills.map((k) => `${k.acked} acked`).join(', ')}), ` +
      `${deliveries} deliveries, ${duplicates} duplicates (${(100 * duplicates / EVENTS).toFixed(2)}%), ` +
      `${refused.count} posts refused or cut off and retried by the client`);
    // Each delivery carries an event the engine had accepted: nothing invented, no garbage.
    for (const r of receiver.requests) assert.ok(Number.isInteger(r.body?.data?.i), `unexpected delivery ${JSON.stringify(r.body)}`);
    agent.destroy();
    assert.equal(await engine.stop(), 0);
  } finally {
    await engine?.kill('SIGKILL');
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
