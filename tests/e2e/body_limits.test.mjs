// http.max_body is a ceiling for every route (issue 16, item 4): a source's own limit
// (github.webhook: 25 MiB by default) lowers it, never raises it. With http.max_body 1 MiB,
// a 1 MiB + 1 byte body to github.webhook used to be read whole and answered 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startEngine, sign } from './lib/engine.mjs';

const SECRET = 'body-limit-secret';
const MiB = 1024 * 1024;
let engine;

before(async () => {
  engine = await startEngine({
    config: 'http: {listen: "127.0.0.1:0", max_body: 1MiB}\n',
    pipelines: {
      gh: `name: gh
durability: memory
source: {type: github.webhook, path: /gh, secret: ${SECRET}}
sinks: [{name: out, type: stdout}]
`,
      small: `name: small
durability: memory
source: {type: http, path: /small, max_body: 1KiB}
sinks: [{name: out, type: stdout}]
`,
    },
  });
});
after(async () => { await engine?.stop(); });

// Sends a whole request on one connection and resolves with the status of the answer (the
// server may answer before it has read everything, then close).
function exchange(path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const socket = connect(engine.port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${data.slice(0, 200)}`)); }, 10000);
    socket.on('data', (d) => { data += d; });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', () => {});  // EPIPE once the server stops reading
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
      `Connection: close\r\n${lines}\r\n`);
    socket.write(body);
  });
}

// A JSON body of exactly `size` bytes.
function bodyOf(size) {
  const head = '{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/o/r"},"pad":"';
  return Buffer.from(head + 'x'.repeat(size - head.length - 2) + '"}');
}

const github = (body, id) => ({ 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': id, 'X-Hub-Signature-256': sign(SECRET, body) });

test('http.max_body below github.webhook\'s own 25 MiB default: 1 MiB + 1 byte is 413', async () => {
  const over = bodyOf(MiB + 1);
  const r = await exchange('/gh', over, github(over, 'over'));
  assert.equal(r.status, 413, r.body);
  assert.match(r.body, /exceeds the limit/);
  // Exactly at the limit: accepted.
  const at = bodyOf(MiB);
  assert.equal((await exchange('/gh', at, github(at, 'at'))).status, 202);
});

test('a source\'s own smaller max_body still applies', async () => {
  assert.equal((await exchange('/small', Buffer.from(`{"a":"${'y'.repeat(1100)}"}`))).status, 413);
  assert.equal((await exchange('/small', Buffer.from('{"a":1}'))).status, 202);
});
