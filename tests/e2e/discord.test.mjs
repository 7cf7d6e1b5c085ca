// github.webhook → discord.webhook against a fake Discord that enforces Discord's message
// limits and rate limits: signed pushes become embeds, long commit messages are split into
// messages Discord accepts, the rate limit is waited out, a 429 is honoured, and the
// webhook's token appears nowhere but in the requests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign as edSign } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startFakeDiscord } from './lib/fake_discord.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const SECRET = 'discord-e2e-secret';
const PUSH = JSON.parse(readFileSync(join(SOURCE_DIR, 'pipelines/tests/fixtures/push.json'), 'utf8'));

// A Discord application as the tests play it: its Ed25519 key pair, the public key in the
// form the source takes, and requests to the engine signed as Discord signs them.
function discordApplication() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicHex: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'),
    post(engine, body, { key = privateKey, age = 0 } = {}) {
      const ts = String(Math.floor(Date.now() / 1000) - age);
      const signature = edSign(null, Buffer.from(ts + body), key).toString('hex');
      return fetch(`${engine.url}/discord`, { method: 'POST', body,
        headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': ts } });
    },
  };
}

function pipeline(url) {
  return `name: push-to-discord
durability: disk
source: {type: github.webhook, path: /gh, secret: ${SECRET}, events: [push]}
sinks:
  - name: channel
    type: discord.webhook
    url: ${url}
    username: Switchyard
    content: "\${{ payload.head_commit.message }}"
    embeds:
      title: "\${{ payload.repository.full_name }}: \${{ length(payload.commits) }} commit(s) to \${{ payload.ref }}"
      url: "\${{ payload.compare }}"
      color: "#2EA043"
      author: {name: "\${{ payload.sender.login }}"}
      fields: [{name: Pusher, value: "\${{ payload.pusher.name }}", inline: true}]
      footer: {text: "delivery \${{ event.id }}"}
    retry: {max_attempts: 10, initial: 100ms, max: 5s}
`;
}

async function push(engine, message, n) {
  const payload = structuredClone(PUSH);
  payload.head_commit.message = message;
  payload.commits = [payload.head_commit];
  const body = JSON.stringify(payload);
  const res = await fetch(`${engine.url}/gh`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `${n}-${randomUUID()}`,
      'x-hub-signature-256': sign(SECRET, body) },
  });
  assert.equal(res.status, 202, await res.text());
}

test('pushes reach the channel as embeds, within the rate limit, long messages split, nothing refused', async () => {
  const discord = await startFakeDiscord({ limit: 5, windowMs: 2000 });
  cleanups.push(discord.close);
  const engine = await startEngine({ pipelines: { 'push-to-discord': pipeline(discord.url) } });
  cleanups.push(() => engine.stop());

  // Twelve ordinary pushes and one whose message is longer than a Discord message.
  const long = Array.from({ length: 120 }, (_, i) => `line ${i}: ${'é'.repeat(30)}`).join('\n');
  for (let n = 0; n < 12; n++) await push(engine, `commit ${n} @everyone`, n);
  await push(engine, long, 12);

  const { state } = discord;
  await engine.waitFor(() => state.accepted.length >= 15, 30000, 'every message accepted');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(state.refused, [], 'Discord refused nothing');
  assert.equal(state.accepted.length, 15, 'twelve messages plus the long one in three');
  assert.equal(state.limited.length, 0, 'the sink waits out an empty bucket instead of collecting 429s');

  const messages = state.accepted.map((a) => a.message);
  // In order (one delivery at a time), each with its embed.
  messages.slice(0, 12).forEach((m, n) => {
    assert.equal(m.content, `commit ${n} @everyone`);
    assert.equal(m.username, 'Switchyard');
    assert.deepEqual(m.allowed_mentions, { parse: [] }, '@everyone in a commit message pings nobody');
    const [embed] = m.embeds;
    assert.equal(embed.title, `${PUSH.repository.full_name}: 1 commit(s) to ${PUSH.ref}`);
    assert.equal(embed.color, 0x2ea043);
    assert.equal(embed.author.name, PUSH.sender.login);
    assert.equal(embed.url, PUSH.compare);
  });
  const parts = messages.slice(12);
  assert.equal(parts.map((m) => m.content).join(''), long, 'the split message reads as the commit message');
  assert.ok(parts.every((m) => [...m.content].length <= 2000));
  assert.ok(parts[2].embeds && !parts[0].embeds, 'the embed follows the last part of the text');

  // Five requests per two seconds: fifteen messages need at least two refills.
  const times = state.accepted.map((a) => a.at);
  assert.ok(times[14] - times[0] >= 4000, `15 messages in ${times[14] - times[0]} ms breaks 5 per 2 s`);
  assert.doesNotMatch(engine.stderr, /fake-webhook-token/, 'the webhook token is never logged');
  const api = await (await fetch(`${engine.adminUrl}/api/pipelines`)).text();
  assert.doesNotMatch(api, /fake-webhook-token/, 'the admin API redacts the webhook URL');
});

test('a 429 with retry_after is honoured and the message arrives once', async () => {
  const discord = await startFakeDiscord({ rateLimitFirst: 1.5 });
  cleanups.push(discord.close);
  const engine = await startEngine({ pipelines: { 'push-to-discord': pipeline(discord.url) } });
  cleanups.push(() => engine.stop());
  await push(engine, 'after a rate limit', 0);
  const { state } = discord;
  await engine.waitFor(() => state.accepted.length === 1, 15000, 'the message after the 429');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(state.accepted.length, 1);
  assert.equal(state.limited.length, 1);
  const gap = state.accepted[0].at - state.limited[0];
  assert.ok(gap >= 1450, `retried ${gap} ms after a 429 that asked for 1.5 s`);
});

test('a wrong token dead-letters the event with Discord\'s reason, and the token stays out of it', async () => {
  const discord = await startFakeDiscord();
  cleanups.push(discord.close);
  const wrong = discord.url.replace('fake-webhook-token', 'revoked-token-value');
  const engine = await startEngine({ pipelines: { 'push-to-discord': pipeline(wrong) } });
  cleanups.push(() => engine.stop());
  await push(engine, 'to a revoked webhook', 0);
  let entries = [];
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline && entries.length === 0) {
    entries = await (await fetch(`${engine.adminUrl}/api/dlq`)).json();
    entries = Array.isArray(entries) ? entries : entries.entries ?? [];
    if (entries.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(entries.length, 1, 'one dead letter');
  assert.match(JSON.stringify(entries[0]), /Invalid Webhook Token/);
  assert.equal(discord.state.requests, 1, 'a 401 is not retried');
  assert.doesNotMatch(engine.stderr + JSON.stringify(entries), /revoked-token-value/);
});

test('a slash command is verified, deferred at once, and answered by a follow-up message; its token is never stored', async () => {
  const app = discordApplication();
  const logDir = mkdtempSync(join(tmpdir(), 'sy-discord-'));
  cleanups.push(() => rmSync(logDir, { recursive: true, force: true }));
  const logFile = join(logDir, 'commands.jsonl');
  const discord = await startFakeDiscord();
  cleanups.push(discord.close);
  const engine = await startEngine({
    pipelines: {
      bot: `name: bot
durability: disk
source: {type: discord.interactions, path: /discord, public_key: ${app.publicHex}, ephemeral: true}
sinks:
  - name: followup
    type: discord.reply
    api_base: ${discord.base}/api/v10
    content: "Stats for **\${{ payload.data.options[0].value }}**, asked by \${{ payload.member.user.username }}"
  - {name: log, type: file, path: ${logFile}}
`,
    },
  });
  cleanups.push(() => engine.stop());
  const send = (body, options) => app.post(engine, body, options);

  // Registering the endpoint: Discord PINGs with a good signature and expects 401 for a bad one.
  let res = await send(JSON.stringify({ id: '1', application_id: '1180000000000000000', type: 1, token: 'x', version: 1 }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { type: 1 });
  const stranger = generateKeyPairSync('ed25519').privateKey;
  assert.equal((await send(JSON.stringify({ id: '1', type: 1 }), { key: stranger })).status, 401);
  assert.equal((await send(JSON.stringify({ id: '1', type: 1 }), { age: 3600 })).status, 401);

  const token = 'aW50ZXJhY3Rpb246MTE4MDAw.interaction-token_1';
  discord.issueInteractionToken(token);
  const started = Date.now();
  res = await send(JSON.stringify({ id: '1180000000000000042', application_id: '1180000000000000000', type: 2, token,
    guild_id: '77', member: { user: { id: '5', username: 'mona' } },
    data: { id: '9', name: 'stats', type: 1, options: [{ name: 'user', type: 3, value: 'octocat' }] } }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { type: 5, data: { flags: 64 } }, 'deferred, ephemeral');
  assert.ok(Date.now() - started < 3000, 'answered within Discord\'s 3 seconds');

  await engine.waitFor(() => discord.state.accepted.length === 1, 10000, 'the follow-up message');
  const [followup] = discord.state.accepted;
  assert.ok(followup.followup);
  assert.equal(followup.token, token);
  assert.equal(followup.message.content, 'Stats for **octocat**, asked by mona');
  assert.deepEqual(discord.state.refused, []);
  // The token answers the interaction for 15 minutes: not in what sinks get, nor on disk.
  await engine.waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('1180000000000000042'), 10000, 'the file sink\'s line');
  assert.ok(!readFileSync(logFile, 'utf8').includes(token), 'no token in the file sink\'s event');
  for (const name of readdirSync(join(engine.dir, 'state'), { recursive: true })) {
    const file = join(engine.dir, 'state', name);
    if (statSync(file).isFile()) assert.ok(!readFileSync(file).includes(token), `no token in state/${name}`);
  }
});

test('discord.reply answers a command within its 3 s, and after a deferral as a follow-up', async () => {
  const app = discordApplication();
  const discord = await startFakeDiscord();
  cleanups.push(discord.close);
  // One answer per second per user: a second /ping within the second is delayed past
  // reply_within, so it is deferred and answered by a follow-up.
  const engine = await startEngine({
    pipelines: {
      bot: `name: bot
durability: memory
source: {type: discord.interactions, path: /discord, public_key: ${app.publicHex}, reply_within: 1500ms}
transforms:
  - {type: rate_limit, rate: 1, per: 2s, key: "\${{ payload.member.user.id }}", over_limit: delay}
sinks:
  - name: answer
    type: discord.reply
    if: \${{ payload.data.name != 'silent' }}
    api_base: ${discord.base}/api/v10
    content: "\${{ payload.data.options[0].value || 'Pong!' }}"
`,
    },
  });
  cleanups.push(() => engine.stop());
  const APP = '1180000000000000000';
  let n = 0;
  const command = async (name, value, token) => {
    const body = JSON.stringify({ id: `11900000000000000${++n}`, application_id: APP, type: 2, token,
      member: { user: { id: '5', username: 'mona' } },
      data: { id: '9', name, type: 1, options: value === undefined ? [] : [{ name: 'text', type: 3, value }] } });
    const started = Date.now();
    const res = await app.post(engine, body);
    return { status: res.status, body: await res.json(), ms: Date.now() - started };
  };

  // In time: the answer is the HTTP response itself; what does not fit goes on as a follow-up.
  const long = Array.from({ length: 60 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
  discord.issueInteractionToken('tok-1');
  let r = await command('echo', long, 'tok-1');
  assert.equal(r.status, 200);
  assert.equal(r.body.type, 4, 'answered with a message, not deferred');
  assert.ok([...r.body.data.content].length <= 2000);
  assert.deepEqual(r.body.data.allowed_mentions, { parse: [] });
  await engine.waitFor(() => discord.state.accepted.length === 1, 10000, 'the rest of the long answer');
  assert.equal(r.body.data.content + discord.state.accepted[0].message.content, long);
  assert.ok(discord.state.accepted[0].followup);

  // Delayed past reply_within by the rate limit: "thinking…", then the answer as a follow-up.
  discord.issueInteractionToken('tok-2');
  r = await command('ping', undefined, 'tok-2');
  assert.deepEqual(r.body, { type: 5 });
  assert.ok(r.ms >= 1400, `deferred after ${r.ms} ms, before reply_within`);
  await engine.waitFor(() => discord.state.accepted.length === 2, 10000, 'the follow-up answer');
  assert.equal(discord.state.accepted[1].token, 'tok-2');
  assert.equal(discord.state.accepted[1].message.content, 'Pong!');

  // No sink takes it (the answer's if: is false): the source's fallback at once, seen only by
  // its user, instead of "thinking…" that nothing would ever resolve.
  await new Promise((res) => setTimeout(res, 2100));  // the rate limit's bucket refills
  r = await command('silent', undefined, 'tok-3');
  assert.deepEqual(r.body, { type: 4, data: { content: 'Nothing to report for that.', flags: 64, allowed_mentions: { parse: [] } } });
  assert.ok(r.ms < 1400, `answered after ${r.ms} ms, before reply_within`);
  await engine.waitFor(() => /event 11900000000000000\d+: no sink's if: took it and nothing answered it; its source gave its fallback answer/.test(engine.stderr), 5000, 'the log line saying the fallback went out');
  assert.deepEqual(discord.state.refused, []);
});
