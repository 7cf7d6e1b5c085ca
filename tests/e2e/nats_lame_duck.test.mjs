// A NATS server of the cluster shutting down politely (SIGTERM: lame-duck mode) under a
// running `nats` sink (issue 23): the engine hears of it, moves to another server when this
// one lets its clients go, and nothing published before, during or after is lost.
// A real 3-node cluster (tests/e2e/lib/nats.mjs; lame_duck_duration 30 s, the server's
// minimum, so this test takes up to about half a minute).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine } from './lib/engine.mjs';
import { startNatsCluster, relayToNats } from './lib/nats.mjs';
import { waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('a server entering lame-duck mode: the sink moves to another server and loses nothing', async () => {
  const cluster = await startNatsCluster({ size: 3, name: 'lame-duck' });
  cleanups.push(() => cluster.close());
  const engine = await startEngine({
    pipelines: {
      relay: relayToNats(cluster.urls.join(','), { replicas: 3, more: '    retry: {max_attempts: 1000, initial: 250ms, max: 2s}\n' }),
    },
  });
  cleanups.push(() => engine.stop());
  let sent = 0;
  const post = async () => {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: ++sent }) });
    assert.equal(res.status, 202);
  };
  for (let i = 0; i < 20; i++) await post();
  await waitUntil(async () => (await cluster.stream('EVENTS'))?.state.messages === sent, 30000, 'the first events stored');
  // The server it is on now (the last "connected to" or "reconnected to" line).
  const first = [...engine.stderr.matchAll(/connected to (nats:\/\/127\.0\.0\.1:\d+)/g)].at(-1)[1];
  const node = cluster.nodes.find((n) => n.url === first);
  assert.ok(node, `connected to ${first}, one of ${cluster.urls}`);
  const before = engine.stderr.length;

  node.child.kill('SIGUSR2');  // lame-duck mode (nats-server --signal ldm): clients are told, then let go over 30 s
  try {
    await engine.waitFor((e) => /is shutting down \(lame-duck mode\)/.test(e.stderr.slice(before)), 20000, 'the lame-duck notice');
  } catch (e) {
    throw new Error(`${e.message}\n${cluster.nodes.map((n) => n.log).join('\n----\n')}`);
  }
  for (let i = 0; i < 20; i++) await post();
  await engine.waitFor((e) => new RegExp(`reconnected to (?!${first.replace(/[.:/]/g, '\\$&')})nats://`).test(e.stderr.slice(before)),
    45000, 'the move to another server');
  for (let i = 0; i < 20; i++) await post();

  await waitUntil(async () => (await cluster.stream('EVENTS'))?.state.messages === sent, 30000, `all ${sent} events stored`);
  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  assert.match(metrics, /^switchyard_nats_lame_duck_total\{component="bus",pipeline="relay"\} 1$/m);
  assert.equal((await (await fetch(`${engine.adminUrl}/readyz`)).json()).status, 'ready');
});
