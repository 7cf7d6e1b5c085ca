// Connection exhaustion (issue 16, item 10): one client cannot take every connection, a
// full listener makes room by closing the connection idle the longest, and clients that
// hold as many connections as the open-file limit allows leave the admin listener
// reachable.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startEngine } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const PIPELINE = `name: p
durability: memory
source: {type: http, path: /in}
sinks: [{type: blackhole}]
`;

// An open, idle connection; `closed` resolves when the server ends it, `text` has what it sent.
function idle(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const conn = { socket, text: '', closed: null };
    conn.closed = new Promise((r) => socket.on('close', r));
    socket.on('data', (d) => { conn.text += d; });
    socket.on('error', () => {});
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

async function openIdle(port, n) {
  const conns = [];
  for (let i = 0; i < n; ++i) conns.push(await idle(port));
  cleanups.push(() => conns.forEach((c) => c.socket.destroy()));
  return conns;
}

// One request on an existing connection; resolves with the status line's code.
function request(conn) {
  return new Promise((resolve) => {
    const before = conn.text.length;
    conn.socket.on('data', function onData() {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(conn.text.slice(before));
      if (m) { conn.socket.off('data', onData); resolve(Number(m[1])); }
    });
    conn.socket.write('POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}');
  });
}

test('one client address cannot hold more than max_connections_per_ip; the next is answered 503', async () => {
  const engine = await startEngine({
    config: 'http: {listen: "127.0.0.1:0", max_connections_per_ip: 20, exempt_loopback: false}\n',
    pipelines: { p: PIPELINE },
  });
  cleanups.push(() => engine.stop());
  const conns = await openIdle(engine.port, 20);
  const extra = await idle(engine.port);
  await extra.closed;
  assert.match(extra.text, /^HTTP\/1\.1 503/);
  assert.match(extra.text, /too many connections from your address/);
  assert.match(extra.text, /Retry-After: 5/i);
  assert.equal(await request(conns[0]), 202, 'the connections it holds still work');
  assert.equal((await fetch(`${engine.adminUrl}/healthz`)).status, 200);
});

test('at max_connections a new connection closes the one idle the longest', async () => {
  const engine = await startEngine({
    config: 'http: {listen: "127.0.0.1:0", max_connections: 10}\n',
    pipelines: { p: PIPELINE },
  });
  cleanups.push(() => engine.stop());
  const conns = await openIdle(engine.port, 10);
  assert.equal(await request(conns[5]), 202);  // the others stay idle; 5 is the newest idle now
  const late = await idle(engine.port);
  assert.equal(await request(late), 202, 'the new connection was served');
  await conns[0].closed;  // the oldest idle one made room
  assert.equal(conns[0].text, '', 'an idle connection is closed without an answer');
  assert.equal(await request(conns[9]), 202, 'the others are untouched');
});

test('clients holding connections up to the open-file limit leave /healthz reachable', async () => {
  const engine = await startEngine({
    config: 'http: {listen: "127.0.0.1:0"}\n',
    pipelines: { p: PIPELINE },
    openFiles: 300,
  });
  cleanups.push(() => engine.stop());
  assert.match(engine.stderr, /http\.max_connections 10000 lowered to 225: the open-file limit is 300/);
  // More connections than descriptors: the listener keeps to 225 by closing the oldest idle.
  const conns = await openIdle(engine.port, 280);
  const health = await fetch(`${engine.adminUrl}/healthz`, { signal: AbortSignal.timeout(3000) });
  assert.equal(health.status, 200);
  assert.equal(await request(conns.at(-1)), 202);
  assert.doesNotMatch(engine.stderr, /out of file descriptors/);
});
