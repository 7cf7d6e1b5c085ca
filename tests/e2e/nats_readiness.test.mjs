// An engine whose `nats` sink cannot reach NATS is not ready (issue 23): /readyz answers 503
// naming the component and why while it connects or reconnects, and 200 once it is connected
// again, so a load balancer sends GitHub's webhooks to an ingest engine that can publish them.
// A real nats-server (tests/e2e/lib/nats.mjs), stopped and started again on the same port.
// The sink also checks its stream again after every reconnect: a server that comes back
// without its JetStream store gets the stream created again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine } from './lib/engine.mjs';
import { standaloneNatsServer, relayToNats } from './lib/nats.mjs';
import { waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('/readyz follows the NATS connection of a running sink', async () => {
  // Standalone: a client of a cluster would move to another server instead of going down.
  const node = await standaloneNatsServer();  // not started yet: down before the engine starts
  cleanups.push(() => node.close());

  const engine = await startEngine({
    pipelines: {
      relay: relayToNats(node.url),
    },
  });
  cleanups.push(() => engine.stop());
  const readyz = async () => {
    const res = await fetch(`${engine.adminUrl}/readyz`);
    return { status: res.status, body: await res.json() };
  };
  const pipeline = async () => (await (await fetch(`${engine.adminUrl}/api/pipelines`)).json()).find((p) => p.name === 'relay');

  let r = await readyz();
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.ok(r.body.reasons.some((why) => why.startsWith('relay/bus: NATS: connecting to ' + node.url)), JSON.stringify(r.body));
  assert.match(JSON.stringify((await pipeline()).problems), /"component":"bus","problem":"NATS: connecting/);

  await node.start();
  await waitUntil(async () => (await readyz()).status === 200, 20000, 'ready once connected');
  assert.deepEqual((await pipeline()).problems, []);

  await node.kill();
  await waitUntil(async () => (await readyz()).status === 503, 20000, 'not ready once the connection is lost');
  r = await readyz();
  assert.ok(r.body.reasons.some((why) => /^relay\/bus: NATS: not connected .*reconnecting$/.test(why)), JSON.stringify(r.body));

  await node.start();
  await waitUntil(async () => (await readyz()).status === 200, 30000, 'ready again after the reconnect');
});

test('a server back without its JetStream store: the sink creates the stream again and stores what follows', async () => {
  const node = await standaloneNatsServer();
  cleanups.push(() => node.close());
  await node.start();
  const engine = await startEngine({
    pipelines: {
      relay: relayToNats(node.url, { more: '    reconnect: {initial: 100ms, max: 1s}\n    retry: {max_attempts: 1000, initial: 200ms, max: 1s}\n' }),
    },
  });
  cleanups.push(() => engine.stop());
  const post = async (n) => {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) });
    assert.equal(res.status, 202);
  };
  await post(1);
  await waitUntil(async () => (await node.messages('EVENTS')) === 1, 20000, 'the first event in the stream');

  await node.kill();
  rmSync(join(node.dir, 'js'), { recursive: true, force: true });  // the store is gone, EVENTS with it
  await node.start();
  assert.equal(await node.messages('EVENTS'), null, 'the restarted server has no stream');
  await engine.waitFor((e) => (e.stderr.match(/created stream EVENTS/g) ?? []).length === 2, 20000, 'the stream created again');
  await post(2);
  await waitUntil(async () => (await node.messages('EVENTS')) === 1, 20000,
    async () => `the second event in the new stream (${await node.messages('EVENTS')}):\n${engine.stderr}`);
});
