// The shared listener and github.webhook over real sockets: signatures, status codes,
// size limits, slow clients and many connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { startEngine, sign } from './lib/engine.mjs';

const SECRET = 'current-secret';
const OLD = 'previous-secret';
let engine;

before(async () => {
  engine = await startEngine({
    config: `http: {listen: "127.0.0.1:0", read_timeout: 1s, idle_timeout: 2s, max_connections: 1500}\n`,
    pipelines: {
      gh: `name: gh
durability: memory
source: {type: github.webhook, path: /gh, secret: [${OLD}, ${SECRET}]}
sinks: [{name: out, type: stdout}]
`,
    },
  });
});
after(async () => { await engine?.stop(); });

// One raw HTTP/1.1 exchange; resolves with the status line, headers and body text.
function raw(text, { waitClose = true, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = connect(engine.port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${data}`)); }, timeoutMs);
    socket.on('data', (d) => {
      data += d;
      if (!waitClose && /\r\n\r\n/.test(data)) {
        const m = /content-length: (\d+)/i.exec(data);
        if (m && data.length >= data.indexOf('\r\n\r\n') + 4 + Number(m[1])) { clearTimeout(timer); socket.end(); resolve(parse(data)); }
      }
    });
    socket.on('close', () => { clearTimeout(timer); resolve(parse(data)); });
    socket.on('error', () => {});
    socket.write(text);
  });
}
// raw() for a request that is not text (bytes that are not valid UTF-8).
function rawBytes(bytes) {
  return new Promise((resolve, reject) => {
    const socket = connect(engine.port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no answer')); }, 5000);
    socket.on('data', (d) => chunks.push(d));
    socket.on('close', () => { clearTimeout(timer); resolve(parse(Buffer.concat(chunks).toString('latin1'))); });
    socket.on('error', () => {});
    socket.write(bytes);
  });
}

function parse(data) {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
  return { status, text: data, body: data.slice(data.indexOf('\r\n\r\n') + 4) };
}

function webhook(body, headers) {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `POST /gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${lines}\r\n${body}`;
}

const PUSH = JSON.stringify({ ref: 'refs/heads/main', repository: { html_url: 'https://github.com/o/r' } });
let seq = 0;
const delivery = () => `sig-${++seq}`;

test('signature: missing, wrong, wrong secret, modified body are 401; both rotated secrets pass', async () => {
  const before = engine.events().length;
  let r = await raw(webhook(PUSH, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery() }));
  assert.equal(r.status, 401);
  assert.match(r.body, /missing X-Hub-Signature-256/);
  r = await raw(webhook(PUSH, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(), 'X-Hub-Signature-256': 'sha256=' + '0'.repeat(64) }));
  assert.equal(r.status, 401);
  r = await raw(webhook(PUSH, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(), 'X-Hub-Signature-256': sign('not-the-secret', PUSH) }));
  assert.equal(r.status, 401);
  const modified = PUSH.replace('main', 'mait');  // one byte differs from what was signed
  r = await raw(webhook(modified, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(), 'X-Hub-Signature-256': sign(SECRET, PUSH) }));
  assert.equal(r.status, 401);
  assert.match(r.text, /content-type: application\/json/i);
  assert.deepEqual(Object.keys(JSON.parse(r.body)), ['error']);
  r = await raw(webhook(PUSH, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(), 'X-Hub-Signature-256': sign(OLD, PUSH) }));
  assert.equal(r.status, 202, r.text);
  r = await raw(webhook(PUSH, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(), 'X-Hub-Signature-256': sign(SECRET, PUSH) }));
  assert.equal(r.status, 202, r.text);
  await engine.waitFor((e) => e.events().length === before + 2, 5000, 'two accepted events');
  assert.match(engine.stderr, /refused a request from 127\.0\.0\.1/);
});

test('header names in upper and lower case are the same header', async () => {
  for (const [ev, dl, sig] of [['X-GITHUB-EVENT', 'X-GITHUB-DELIVERY', 'X-HUB-SIGNATURE-256'],
    ['x-github-event', 'x-github-delivery', 'x-hub-signature-256']]) {
    const r = await raw(webhook(PUSH, { [ev]: 'push', [dl]: delivery(), [sig]: sign(SECRET, PUSH) }));
    assert.equal(r.status, 202, r.text);
  }
});

test('redelivery of the same delivery id is answered 200 and emitted once', async () => {
  const id = delivery();
  const headers = { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': id, 'X-Hub-Signature-256': sign(SECRET, PUSH) };
  assert.equal((await raw(webhook(PUSH, headers))).status, 202);
  const again = await raw(webhook(PUSH, headers));
  assert.equal(again.status, 200);
  assert.match(again.body, /duplicate/);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(engine.events().filter((e) => e.id === id).length, 1);
});

test('malformed JSON is 400; unknown path 404; wrong method 405', async () => {
  const bad = '{"ref": ';
  let r = await raw(webhook(bad, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(), 'X-Hub-Signature-256': sign(SECRET, bad) }));
  assert.equal(r.status, 400);
  assert.match(r.body, /not valid JSON/);
  r = await raw('GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 404);
  assert.match(r.body, /no route/);
  r = await raw('GET /gh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 405);
  assert.match(r.text, /allow: POST/i);
});

test('a body over 25 MiB is refused with 413 before it is read', async () => {
  const size = 25 * 1024 * 1024 + 1;
  const head = `POST /gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n` +
    `X-GitHub-Event: push\r\nX-GitHub-Delivery: big\r\nX-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n`;
  // Only the headers and 1 KiB are sent: the answer must come without the rest.
  const r = await raw(head + 'x'.repeat(1024), { timeoutMs: 3000 });
  assert.equal(r.status, 413);
  assert.match(r.body, /exceeds the limit/);
  // Counted where an operator looks: the listener's metrics.
  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  assert.match(metrics, /^switchyard_http_too_large_total\{listener="http"\} [1-9]/m);
  assert.match(metrics, /^switchyard_http_answers_total\{code="4xx",listener="http"\} [1-9]/m);
  assert.match(metrics, /^switchyard_http_connections\{listener="http"\} [0-9]/m);
  // And per route: the 413 and the events accepted earlier are the webhook's; a path nobody
  // serves gets no series of its own (404s stay in the listener's counts).
  assert.match(metrics, /^switchyard_http_route_answers_total\{code="4xx",listener="http",route="\/gh"\} [1-9]/m);
  assert.match(metrics, /^switchyard_http_route_answers_total\{code="2xx",listener="http",route="\/gh"\} [1-9]/m);
  assert.doesNotMatch(metrics, /route="\/nothing-here"/);
});

test('a Transfer-Encoding other than chunked is refused (no guessing where the body ends)', async () => {
  const r = await raw('POST /gh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc');
  assert.equal(r.status, 400);
  assert.match(r.body, /chunked/);
});

// Sends `head` and then `filler` repeated up to `total` bytes, a chunk at a time, until the
// server answers; resolves with the answer (the server stops reading and closes).
function stream(head, filler, total, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const socket = connect(engine.port, '127.0.0.1');
    let data = '';
    let sent = 0;
    let done = false;
    const finish = () => { if (!done) { done = true; clearTimeout(timer); socket.destroy(); resolve(parse(data)); } };
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer after ${sent} bytes: ${data}`)); }, timeoutMs);
    // One chunk per turn of the event loop, so the answer is read as soon as it comes (a
    // client that keeps writing after the server closed would get a reset, and could lose
    // the answer with it).
    const chunk = filler.repeat(Math.ceil(65536 / filler.length));
    const pump = () => {
      if (done || sent >= total) return;
      sent += chunk.length;
      socket.write(chunk, () => setTimeout(pump, 1));
    };
    socket.on('data', (d) => {
      data += d;
      const m = /content-length: (\d+)/i.exec(data);
      if (m && data.length >= data.indexOf('\r\n\r\n') + 4 + Number(m[1])) finish();
    });
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.write(head, pump);
  });
}

function rssKiB() {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${engine.child.pid}/status`, 'utf8'))[1]);
}

test('a chunk extension or a trailer that never ends is refused, and the connection holds no more than a bounded buffer', async () => {
  const before = rssKiB();
  const head = (lines) => `POST /gh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n` +
    `X-GitHub-Event: push\r\nX-GitHub-Delivery: ext\r\nX-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n${lines}`;
  // Up to 20 MB of chunk extension on one chunk-size line, never ended by CRLF.
  let r = await stream(head('5;ext='), 'a', 20 * 1024 * 1024);
  assert.equal(r.status, 400);
  assert.match(r.body, /chunk-size line or trailer/);
  // A last chunk followed by a trailer field that never ends.
  r = await stream(head('0\r\nX-Trailer: '), 'b', 20 * 1024 * 1024);
  assert.equal(r.status, 400);
  const grown = rssKiB() - before;
  assert.ok(grown < 32 * 1024, `the engine grew by ${grown} KiB for two refused requests`);
});

test('HTTP edge cases are answered as RFC 9110/9112 say', async () => {
  // HEAD: the status and headers, no body (Content-Length still says how long it would be).
  let r = await raw('HEAD /gh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 405);
  assert.match(r.text, /content-length: [1-9]/i);
  assert.equal(r.body, '');
  // The absolute form names the same route.
  const body = PUSH;
  r = await raw(`POST http://127.0.0.1:${engine.port}/gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nX-GitHub-Event: push\r\n` +
    `X-GitHub-Delivery: abs-1\r\nX-Hub-Signature-256: ${sign(SECRET, body)}\r\n\r\n${body}`);
  assert.equal(r.status, 202);
  // Ambiguous framing is answered 400 with the reason, not cut off.
  r = await raw('POST /gh HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}');
  assert.equal(r.status, 400);
  assert.match(r.body, /malformed request/);
  // A transfer coding before chunked would need decoding: 501.
  r = await raw('POST /gh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n');
  assert.equal(r.status, 501);
  assert.match(r.body, /only the chunked transfer coding/);
  // A signed body that is not valid UTF-8 is refused, not stored for consumers to choke on.
  const bad = Buffer.concat([Buffer.from('{"ref":"refs/heads/'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  r = await rawBytes(Buffer.concat([Buffer.from(`POST /gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${bad.length}\r\nConnection: close\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: utf8-1\r\n` +
    `X-Hub-Signature-256: ${sign(SECRET, bad)}\r\n\r\n`), bad]));
  assert.equal(r.status, 400);
  assert.match(r.body, /not valid JSON/);
});

test('oversized headers are refused with 431', async () => {
  const r = await raw(`GET /gh HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
  assert.equal(r.status, 431);
});

test('a slowloris client is cut off by read_timeout', async () => {
  const started = Date.now();
  const closed = await new Promise((resolve) => {
    const socket = connect(engine.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST /gh HTTP/1.1\r\nHost: x\r\n');
    // One header byte every 200 ms: never finishes within the 1 s read_timeout.
    const drip = setInterval(() => socket.write('X'), 200);
    socket.on('close', () => { clearInterval(drip); resolve(Date.now() - started); });
    setTimeout(() => { clearInterval(drip); socket.destroy(); resolve(-1); }, 8000);
  });
  assert.ok(closed > 0, 'the server never closed the slow connection');
  assert.ok(closed < 5000, `closed after ${closed} ms`);
});

test('20,000 requests pipelined in one write are all answered, in order, and the engine survives', async () => {
  // Requests that arrive together are parsed and answered without waiting on the network;
  // they must not nest in one call stack (a stack overflow would kill the engine).
  const n = 20000;
  const request = (i) => `GET /nope-${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const answers = await new Promise((resolve, reject) => {
    const socket = connect(engine.port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`only ${(data.match(/HTTP\/1\.1 404/g) ?? []).length} answers`)); }, 30000);
    socket.on('data', (d) => {
      data += d;
      if ((data.match(/HTTP\/1\.1 404/g) ?? []).length >= n) { clearTimeout(timer); socket.end(); resolve(data); }
    });
    socket.on('error', (e) => { clearTimeout(timer); reject(e); });
    let all = '';
    for (let i = 0; i < n; i++) all += request(i);
    socket.write(all);
  });
  const paths = [...answers.matchAll(/no route for \/nope-(\d+)/g)].map((m) => Number(m[1]));
  assert.equal(paths.length, n);
  assert.ok(paths.every((p, i) => p === i), 'answers came back out of order');
  const r = await raw(webhook(PUSH, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(),
    'X-Hub-Signature-256': sign(SECRET, PUSH) }));
  assert.equal(r.status, 202, 'the engine still answers');
});

test('Expect: 100-continue gets 100 Continue, then the body is read and answered', async () => {
  const id = delivery();
  const head = `POST /gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(PUSH)}\r\n` +
    `Expect: 100-continue\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: ${id}\r\nX-Hub-Signature-256: ${sign(SECRET, PUSH)}\r\nConnection: close\r\n\r\n`;
  const text = await new Promise((resolve, reject) => {
    const socket = connect(engine.port, '127.0.0.1');
    let data = '';
    let sent = false;
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${data}`)); }, 5000);
    socket.on('data', (d) => {
      data += d;
      if (!sent && data.startsWith('HTTP/1.1 100')) { sent = true; socket.write(PUSH); }
    });
    socket.on('close', () => { clearTimeout(timer); resolve(data); });
    socket.on('error', () => {});
    socket.write(head);  // the body only after 100 Continue, as curl does
  });
  assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 /);
});

test('1,000 concurrent connections do not exhaust the process', async () => {
  const sockets = [];
  await Promise.all(Array.from({ length: 1000 }, () => new Promise((resolve, reject) => {
    const s = connect(engine.port, '127.0.0.1', resolve);
    s.on('error', reject);
    sockets.push(s);
  })));
  // While all 1,000 are open, a signed webhook is still served.
  const r = await raw(webhook(PUSH, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery(), 'X-Hub-Signature-256': sign(SECRET, PUSH) }));
  assert.equal(r.status, 202, r.text);
  // And 1,000 requests over them all get answers.
  const answers = await Promise.all(sockets.map((s) => new Promise((resolve) => {
    let data = '';
    s.on('data', (d) => { data += d; if (data.includes('\r\n\r\n')) resolve(Number(data.slice(9, 12))); });
    s.on('close', () => resolve(Number(data.slice(9, 12)) || 0));
    s.write('GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n');
  })));
  assert.equal(answers.filter((s) => s === 404).length, 1000);
  for (const s of sockets) s.destroy();
  assert.equal(engine.exited, null);
});
