// The `nats` sink against a real nats-server that speaks only TLS (a private CA) and lets in
// only the user holding an NKey (issue 23: TLS with verification, NKey seed, credentials as
// secrets). The sink with the CA file and the seed publishes; one without the CA refuses the
// server's certificate; one with a token the server does not know is refused; neither
// becomes ready, and no secret reaches the log or the admin API.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine } from './lib/engine.mjs';
import { makeCerts } from './lib/certs.mjs';
import { standaloneNatsServer } from './lib/nats.mjs';
import { waitUntil } from './lib/receiver.mjs';

// The example user pair of the NATS documentation (nkey authentication).
const SEED = 'SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY';
const PUBLIC = 'UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4';
const TOKEN = 'not-a-token-this-server-knows';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('TLS verified against a private CA and NKey authentication, against a real nats-server', async () => {
  let certs;
  const server = await standaloneNatsServer({
    config: (dir) => {
      certs = makeCerts(dir, { nats: 'IP:127.0.0.1,DNS:localhost' });
      return [`tls { cert_file: "${certs.file('nats', 'pem')}", key_file: "${certs.file('nats', 'key')}" }`,
        `authorization { users: [ { nkey: ${PUBLIC} } ] }`].join('\n');
    },
  });
  cleanups.push(() => server.close());
  await server.start();

  const sink = (stream, more) => `
sinks:
  - name: bus
    type: nats
    servers: ["tls://127.0.0.1:${server.port}"]
    subject: ${stream.toLowerCase()}.in
    stream: ${stream}
    create_stream: {subjects: ["${stream.toLowerCase()}.>"], replicas: 1}
${more}`;
  const engine = await startEngine({
    pipelines: {
      trusted: `name: trusted\nsource: {type: http, path: /trusted}${sink('GOOD', `    ca_file: ${certs.ca}\n    nkey_seed: ${SEED}\n`)}`,
      untrusted: `name: untrusted\nsource: {type: http, path: /untrusted}${sink('NOCA', `    tls: true\n    nkey_seed: ${SEED}\n`)}`,
      stranger: `name: stranger\nsource: {type: http, path: /stranger}${sink('NOKEY', `    ca_file: ${certs.ca}\n    token: ${TOKEN}\n`)}`,
    },
  });
  cleanups.push(() => engine.stop());
  const reasons = async () => (await (await fetch(`${engine.adminUrl}/readyz`)).json()).reasons;

  // The trusted sink connects (its problem clears); the other two never do.
  await waitUntil(async () => !(await reasons()).some((r) => r.startsWith('trusted/')), 20000, 'the trusted sink connected');
  const res = await fetch(`${engine.url}/trusted`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n": 1}' });
  assert.equal(res.status, 202);
  await waitUntil(async () => (await server.messages('GOOD')) === 1, 20000, 'the event stored in the GOOD stream');

  const now = await reasons();
  assert.ok(now.some((r) => r.startsWith('untrusted/bus: NATS')), JSON.stringify(now));
  assert.ok(now.some((r) => r.startsWith('stranger/bus: NATS')), JSON.stringify(now));
  assert.equal(await server.messages('NOCA'), null, 'the untrusted sink never reached the server');
  assert.equal(await server.messages('NOKEY'), null, 'the stranger was not let in');
  // Why, in the server's own words: a client that hung up on the certificate, and an
  // authorization violation.
  await waitUntil(() => /TLS handshake error|tls: (bad certificate|unknown certificate)/i.test(server.log), 20000,
    `the server to see the refused handshake:\n${server.log}`);
  await waitUntil(() => /Authorization Violation|authentication error/i.test(server.log), 20000,
    `the server to refuse the token:\n${server.log}`);

  // Secrets stay out of what an operator reads.
  const api = await (await fetch(`${engine.adminUrl}/api/pipelines`)).text();
  for (const secret of [SEED, TOKEN]) {
    assert.ok(!engine.stderr.includes(secret), 'a secret in the log');
    assert.ok(!api.includes(secret), 'a secret in /api/pipelines');
  }
});
