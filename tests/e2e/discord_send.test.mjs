// `switchyard send discord FILE --secret test`: an interaction signed with the published
// test key pair (docs/plugins/discord.md) is answered by a pipeline whose source names the
// test public key, and refused (401) by one configured with any other key.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SOURCE_DIR, runSwitchyard, startEngine, tempDir } from './lib/engine.mjs';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

// The test public key as docs/plugins/discord.md publishes it.
const TEST_PUBLIC_KEY = /public key \| `([0-9a-f]{64})`/.exec(readFileSync(join(SOURCE_DIR, 'docs', 'plugins', 'discord.md'), 'utf8'))[1];

const pipeline = (key) => `name: try-commands
durability: memory
source: {type: discord.interactions, public_key: ${key}, reply_within: 2s}
sinks:
  - type: discord.reply
    content: "pong: \${{ payload.data.name }}"
`;

async function sendCommand(engine) {
  const file = join(engine.dir, 'command.json');
  writeFileSync(file, JSON.stringify({ id: '1', application_id: '2', type: 2, token: 'local-test', version: 1,
    data: { id: '3', name: 'ping', type: 1 } }));
  return runSwitchyard(['send', 'discord', file, '--secret', 'test', '-c', engine.configFile,
    '--url', `${engine.url}/discord/interactions`]);
}

test('the test key signs a command that a source configured with the test public key answers', async () => {
  const engine = await startEngine({ pipelines: { try: pipeline(TEST_PUBLIC_KEY) } });
  cleanups.push(() => engine.stop());
  assert.match(engine.stderr, /public_key is switchyard's published test key/, 'the source warns at start');
  const r = await sendCommand(engine);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, 'HTTP 200 {"type":4,"data":{"content":"pong: ping","allowed_mentions":{"parse":[]}}}\n');
});

test('any other public key refuses what the test key signs', async () => {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const own = Buffer.from(jwk.x, 'base64url').toString('hex');
  const engine = await startEngine({ pipelines: { try: pipeline(own) } });
  cleanups.push(() => engine.stop());
  assert.doesNotMatch(engine.stderr, /published test key/);
  const r = await sendCommand(engine);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^HTTP 401 /);
});

test('send names the URL it could not reach', async () => {
  const engine = await startEngine({ pipelines: { try: pipeline(TEST_PUBLIC_KEY) } });
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ping.json');
  writeFileSync(file, '{"type": 1}');
  const url = `${engine.url}/discord/interactions`;
  await engine.stop();
  const r = await runSwitchyard(['send', 'discord', file, '--secret', 'test', '--url', url]);
  assert.equal(r.code, 1);
  assert.ok(r.stderr.startsWith(`error: POST ${url}: `), r.stderr);
});
