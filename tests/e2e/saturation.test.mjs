// A busy pipeline: github.webhook must still answer every delivery well within GitHub's
// 10 s, refusing with 503 + Retry-After what its bounded queues cannot take.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startEngine, sign } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('saturated pipeline answers 503 with Retry-After, fast, and loses nothing it accepted', async () => {
  // The receiver holds each request for 3 s: the sink falls behind at once.
  const received = new Set();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => setTimeout(() => { received.add(JSON.parse(body).id); res.writeHead(204); res.end(); }, 3000));
  });
  const port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const engine = await startEngine({
    pipelines: {
      busy: `name: busy
durability: memory
queue_size: 4
source: {type: github.webhook, path: /gh, secret: s}
sinks: [{name: slow, type: http, url: "http://127.0.0.1:${port}/", queue_size: 4, concurrency: 2}]
`,
    },
  });
  cleanups.push(() => engine.stop());

  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    const started = Date.now();
    const res = await fetch(`${engine.url}/gh`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `busy-${i}`,
        'x-hub-signature-256': sign('s', body) },
    });
    return { id: `busy-${i}`, status: res.status, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started };
  }));
  const accepted = results.filter((r) => r.status === 202);
  const refused = results.filter((r) => r.status === 503);
  assert.equal(accepted.length + refused.length, 40, JSON.stringify(results.map((r) => r.status)));
  assert.ok(refused.length > 0, 'some deliveries must be refused while the queues are full');
  assert.ok(accepted.length >= 4, `only ${accepted.length} accepted`);
  for (const r of refused) assert.ok(Number(r.retryAfter) > 0, 'a 503 carries Retry-After');
  const slowest = Math.max(...results.map((r) => r.ms));
  assert.ok(slowest < 10000, `slowest answer took ${slowest} ms`);
  // Everything acknowledged reaches the receiver.
  await engine.waitFor(() => accepted.every((r) => received.has(r.id)), 60000, 'accepted events delivered');
});
