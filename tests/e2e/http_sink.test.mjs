// The http source and sink end to end, with a receiver started by the test: retries on
// 503 and 429 (Retry-After honoured), 400 is not retried, and TLS verification of the
// outbound client against a private CA.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync, rmSync } from 'node:fs';
import { startEngine, tempDir } from './lib/engine.mjs';
import { makeCerts } from './lib/certs.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function post(engine, path, body, headers = {}) {
  const res = await fetch(`${engine.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: await res.text() };
}

function pipeline(url, extra = '') {
  return `name: relay
durability: memory
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - name: out
    type: http
    url: ${url}
    ${extra}
    retry: {max_attempts: 6, initial: 100ms, max: 5s}
`;
}

test('503, then 429 with Retry-After: 2, then success: every event arrives once it recovers', async () => {
  const received = [];
  const times = [];
  const attempts = [];
  let phase = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      times.push(Date.now());
      attempts.push(JSON.parse(body).attempt);
      phase += 1;
      if (phase <= 2) { res.writeHead(503); return res.end('busy'); }
      if (phase === 3) { res.writeHead(429, { 'Retry-After': '2' }); return res.end('slow down'); }
      received.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(204); res.end();
    });
  });
  const port = await listen(server);
  cleanups.push(() => new Promise((r) => server.close(r)));
  const engine = await startEngine({ pipelines: { relay: pipeline(`http://127.0.0.1:${port}/hook`) } });
  cleanups.push(() => engine.stop());

  const r = await post(engine, '/in', JSON.stringify({ deploy: 'api', n: 1 }), { 'X-Request-Id': 'evt-1' });
  assert.equal(r.status, 202);
  await engine.waitFor(() => received.length === 1, 15000, 'delivery after recovery');
  const ce = received[0].body;
  assert.equal(ce.specversion, '1.0');
  assert.equal(ce.id, 'evt-1');
  assert.deepEqual(ce.data, { deploy: 'api', n: 1 });
  assert.equal(received[0].headers['content-type'], 'application/cloudevents+json');
  assert.equal(received[0].headers['idempotency-key'], 'evt-1');
  assert.equal(times.length, 4);
  // Each retry says which attempt it is (the CloudEvents extension); the first says nothing.
  assert.deepEqual(attempts, [undefined, 2, 3, 4]);
  // The wait after the 429 honours Retry-After: 2 (backoff alone would be far shorter).
  assert.ok(times[3] - times[2] >= 1900, `waited only ${times[3] - times[2]} ms after 429`);
});

test('a 100 Continue before the answer is skipped, and the pooled connection stays in step', async () => {
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.writeContinue();
      received.push(JSON.parse(body).id);
      res.writeHead(received.length === 1 ? 204 : 202);
      res.end();
    });
  });
  const port = await listen(server);
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const engine = await startEngine({ pipelines: { relay: pipeline(`http://127.0.0.1:${port}/hook`) } });
  cleanups.push(() => engine.stop());
  for (const id of ['c-1', 'c-2', 'c-3']) {
    assert.equal((await post(engine, '/in', '{}', { 'X-Request-Id': id })).status, 202);
    await engine.waitFor(() => received.includes(id), 5000, `delivery of ${id}`);
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(received, ['c-1', 'c-2', 'c-3'], 'each event delivered once, none retried');
  assert.doesNotMatch(engine.stderr, /HTTP 100/);
});

test('a 400 answer is not retried', async () => {
  let calls = 0;
  const server = createServer((req, res) => { calls += 1; req.resume(); req.on('end', () => { res.writeHead(400); res.end('{"message":"bad"}'); }); });
  const port = await listen(server);
  cleanups.push(() => new Promise((r) => server.close(r)));
  const engine = await startEngine({ pipelines: { relay: pipeline(`http://127.0.0.1:${port}/hook`) } });
  cleanups.push(() => engine.stop());
  assert.equal((await post(engine, '/in', '{"a":1}')).status, 202);
  await engine.waitFor((e) => /HTTP 400/.test(e.stderr), 5000, 'the permanent failure in the log');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(calls, 1);
});

test('TLS: a private CA via ca_file is trusted; wrong host name and unknown CA are refused', async () => {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCerts(dir, { good: 'IP:127.0.0.1,DNS:localhost', wrong: 'DNS:other.example' });
  const hits = { good: 0, wrong: 0 };
  const servers = {};
  for (const name of ['good', 'wrong']) {
    const server = createTlsServer({ key: readFileSync(certs.file(name, 'key')), cert: readFileSync(certs.file(name, 'pem')) },
      (req, res) => { req.resume(); req.on('end', () => { hits[name] += 1; res.writeHead(200); res.end('{}'); }); });
    servers[name] = await listen(server);
    cleanups.push(() => new Promise((r) => server.close(r)));
  }
  const sinks = (name, url, extra) => `  - name: ${name}
    type: http
    url: ${url}
    ${extra}
    retry: {max_attempts: 1}
`;
  const engine = await startEngine({
    pipelines: {
      tls: `name: tls
durability: memory
source: {type: http, path: /in}
sinks:
${sinks('trusted', `https://127.0.0.1:${servers.good}/x`, `ca_file: ${certs.ca}`)}
${sinks('wrong_host', `https://127.0.0.1:${servers.wrong}/x`, `ca_file: ${certs.ca}`)}
${sinks('unknown_ca', `https://127.0.0.1:${servers.good}/x`, 'timeout: 5s')}
`,
    },
  });
  cleanups.push(async () => { await engine.stop(); });
  assert.equal((await post(engine, '/in', '{"tls":true}')).status, 202);
  await engine.waitFor(() => hits.good === 1, 5000, 'delivery over verified TLS');
  await engine.waitFor((e) => (e.stderr.match(/not trusted/g) || []).length >= 2, 5000, 'two refused certificates');
  assert.match(engine.stderr, /wrong_host[^\n]*not trusted/);
  assert.match(engine.stderr, /unknown_ca[^\n]*not trusted/);
  assert.equal(hits.wrong, 0, 'no request may reach a server whose name does not match');
  assert.equal(hits.good, 1, 'the unknown-CA sink must not have sent its request');
});

test('HTTPS_PROXY: requests tunnel through CONNECT, with TLS verified end to end; NO_PROXY bypasses', async () => {
  const { connect: netConnect } = await import('node:net');
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCerts(dir, { good: 'IP:127.0.0.1' });
  let hits = 0;
  const target = createTlsServer({ key: readFileSync(certs.file('good', 'key')), cert: readFileSync(certs.file('good', 'pem')) },
    (req, res) => { req.resume(); req.on('end', () => { hits += 1; res.writeHead(204); res.end(); }); });
  const targetPort = await listen(target);
  cleanups.push(() => new Promise((r) => target.close(r)));
  const tunnels = [];
  const proxy = createServer();
  proxy.on('connect', (req, client, head) => {
    tunnels.push(req.url);
    const [host, port] = req.url.split(':');
    const upstream = netConnect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const proxyPort = await listen(proxy);
  cleanups.push(() => new Promise((r) => { proxy.closeAllConnections?.(); proxy.close(r); }));

  const yaml = (name) => `name: ${name}
durability: memory
source: {type: http, path: /${name}}
sinks: [{name: out, type: http, url: "https://127.0.0.1:${targetPort}/x", ca_file: ${certs.ca}, retry: {max_attempts: 1}}]
`;
  const proxied = await startEngine({ pipelines: { p: yaml('p') }, env: { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: '' } });
  cleanups.push(() => proxied.stop());
  assert.equal((await post(proxied, '/p', '{}')).status, 202);
  await proxied.waitFor(() => hits === 1, 5000, 'delivery through the proxy');
  assert.deepEqual(tunnels, [`127.0.0.1:${targetPort}`]);

  const bypass = await startEngine({ pipelines: { b: yaml('b') }, env: { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: '127.0.0.1' } });
  cleanups.push(() => bypass.stop());
  assert.equal((await post(bypass, '/b', '{}')).status, 202);
  await bypass.waitFor(() => hits === 2, 5000, 'direct delivery');
  assert.equal(tunnels.length, 1, 'NO_PROXY must bypass the proxy');
});
