// github.webhook `acknowledge`: with `accepted` (the default) GitHub hears 202 once the
// event is in the pipeline; with `delivered`, only once the sink has delivered it — what an
// ingest engine in front of NATS needs so that GitHub's 202 means JetStream has the event.
// The sink's endpoint holds its answer until the test releases it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startEngine, sign } from './lib/engine.mjs';
import { waitUntil, sleep } from './lib/receiver.mjs';

const SECRET = 'ack-secret';
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

// Holds every request until release(); records the delivery ids it got.
async function heldReceiver() {
  const held = [];
  const got = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push(JSON.parse(Buffer.concat(chunks).toString()).id);
      held.push(() => { res.writeHead(200); res.end(); });
    });
  });
  const port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
  return {
    url: `http://127.0.0.1:${port}`, got,
    release() { while (held.length) held.shift()(); },
    close() { return new Promise((r) => { server.closeAllConnections(); server.close(r); }); },
  };
}

function deliver(engine, path, delivery) {
  const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 7, repository: { full_name: 'o/r' } });
  return fetch(`${engine.url}${path}`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery,
               'x-hub-signature-256': sign(SECRET, body) },
  }).then(async (res) => ({ status: res.status, body: await res.text() }));
}

test('acknowledge: delivered answers after the sink delivered; accepted answers before', async () => {
  const sink = await heldReceiver();
  cleanups.push(() => sink.close());
  const engine = await startEngine({
    pipelines: {
      delivered: `name: delivered
source: {type: github.webhook, path: /delivered, secret: ${SECRET}, acknowledge: delivered}
sinks: [{name: out, type: http, url: ${sink.url}/hook}]
`,
      accepted: `name: accepted
source: {type: github.webhook, path: /accepted, secret: ${SECRET}}
sinks: [{name: out, type: http, url: ${sink.url}/hook}]
`,
    },
  });
  cleanups.push(() => engine.stop());

  // accepted: 202 while the sink still holds the event.
  const early = await deliver(engine, '/accepted', 'd-accepted');
  assert.equal(early.status, 202, early.body);
  await waitUntil(() => sink.got.includes('d-accepted'), 10000, 'the accepted event at the sink');
  sink.release();

  // delivered: no answer while the sink holds it; 202 once it is released.
  let answered = null;
  const late = deliver(engine, '/delivered', 'd-delivered').then((r) => { answered = r; return r; });
  await waitUntil(() => sink.got.includes('d-delivered'), 10000, 'the event at the sink');
  await sleep(500);
  assert.equal(answered, null, 'GitHub heard back before the sink had delivered the event');
  sink.release();
  const result = await late;
  assert.equal(result.status, 202, result.body);
  assert.equal(JSON.parse(result.body).status, 'accepted');

  // A redelivery of the same id is still recognised.
  const again = await deliver(engine, '/delivered', 'd-delivered');
  assert.equal(again.status, 200, again.body);
  assert.equal(sink.got.filter((id) => id === 'd-delivered').length, 1, 'delivered once');
});
