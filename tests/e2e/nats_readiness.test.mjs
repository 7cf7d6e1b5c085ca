// An engine whose `nats` sink cannot reach NATS is not ready (issue 23): /readyz answers 503
// naming the component and why while it connects or reconnects, and 200 once it is connected
// again, so a load balancer sends GitHub's webhooks to an ingest engine that can publish them.
// A real nats-server (tests/e2e/lib/nats.mjs), stopped and started again on the same port.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
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
