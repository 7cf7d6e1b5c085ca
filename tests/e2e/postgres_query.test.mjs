// postgres.query end to end: Discord slash commands answered from stored data, as OpsCord's
// /stats does (pipelines/opscord/stats.yaml): discord.interactions → postgres.query
// → discord.reply, with a real PostgreSQL server and the fake Discord. An empty result
// dropped (on_empty: drop), a query past its timeout, parameters bound.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, SOURCE_DIR } from './lib/engine.mjs';
import { startFakeDiscord } from './lib/fake_discord.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { sleep } from './lib/receiver.mjs';

const APP = '1180000000000000000';
let pg;
let discord;
let engine;
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const publicHex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');

// A pipeline of the test: `transform` is the postgres.query step, the answer lists rows.
const answering = (name, transform) => `name: ${name}
durability: memory
source: {type: discord.interactions, path: /${name}, public_key: ${publicHex}, reply_within: 2s}
transforms:
  - type: postgres.query
    dsn: \${DATABASE_URL}
${transform}
sinks:
  - type: discord.reply
    api_base: API_BASE
    content: "\${{ meta.rows == null && 'unavailable' || format('{0} row(s)', length(meta.rows)) }}"
`;

before(async () => {
  pg = await startPostgres();
  await pg.exec(`CREATE TABLE contributors (login text PRIMARY KEY, xp bigint NOT NULL DEFAULT 0,
      commits int NOT NULL DEFAULT 0, prs_merged int NOT NULL DEFAULT 0, reviews int NOT NULL DEFAULT 0,
      badges text[] NOT NULL DEFAULT '{}');
    INSERT INTO contributors VALUES ('mona', 340, 42, 7, 15, '{First PR,Code Warrior,Team Player}'),
                                    ('hubot', 12, 6, 0, 0, '{}')`);
  discord = await startFakeDiscord();
  const stats = readFileSync(join(SOURCE_DIR, 'pipelines/opscord/stats.yaml'), 'utf8')
    .replace('type: discord.reply', `type: discord.reply\n    api_base: ${discord.base}/api/v10`);
  const pipelines = {
    stats,
    lookup: answering('lookup', `    query: SELECT login FROM contributors WHERE login = $1
    params: ["\${{ payload.data.options[0].value }}"]
    on_empty: drop`),
    slow: answering('slow', `    query: SELECT pg_sleep($1::float8)
    params: ["\${{ payload.data.options[0].value }}"]
    timeout: 500ms
    on_error: keep`),
  };
  for (const [k, v] of Object.entries(pipelines)) pipelines[k] = v.replace('API_BASE', `${discord.base}/api/v10`);
  engine = await startEngine({
    pipelines, env: { DATABASE_URL: pg.url, DISCORD_PUBLIC_KEY: publicHex },
    config: 'env: {allow: [DATABASE_URL, DISCORD_PUBLIC_KEY]}\n',  // what the pipeline files read
  });
  await engine.waitFor((e) => Object.keys(pipelines).every((p) => e.stderr.includes(`pipeline ${p === 'stats' ? 'opscord-stats' : p} started`)),
    10000, 'every pipeline started');
});
after(async () => {
  await engine?.stop();
  await discord?.close();
  await pg?.close();
});

let n = 0;
// Sends a slash command as Discord does (signed); the HTTP answer and how long it took.
async function command(path, name, value) {
  const token = `interaction-token-${++n}`;
  discord.issueInteractionToken(token);
  const body = JSON.stringify({ id: `11900000000000000${n}`, application_id: APP, type: 2, token, guild_id: '77',
    member: { user: { id: '5', username: 'octocat' } },
    data: { id: '9', name, type: 1, options: [{ name: 'user', type: 3, value }] } });
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = edSign(null, Buffer.from(ts + body), privateKey).toString('hex');
  const started = Date.now();
  const res = await fetch(`${engine.url}${path}`, { method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-signature-ed25519': signature, 'x-signature-timestamp': ts } });
  return { status: res.status, body: await res.json(), ms: Date.now() - started, token };
}

test('/stats user: is answered within 3 s from the stored rows', async () => {
  let r = await command('/discord/interactions', 'stats', 'Mona');
  assert.equal(r.status, 200);
  assert.equal(r.body.type, 4, `answered, not deferred: ${JSON.stringify(r.body)}`);
  assert.ok(r.ms < 3000, `${r.ms} ms`);
  assert.equal(r.body.data.content,
    '**mona**: 340 XP · 42 commits · 7 PRs merged · 15 reviews · badges: First PR, Code Warrior, Team Player');
  r = await command('/discord/interactions', 'stats', 'hubot');
  assert.equal(r.body.data.content, '**hubot**: 12 XP · 6 commits · 0 PRs merged · 0 reviews · badges: none yet');
  r = await command('/discord/interactions', 'stats', "x'); DROP TABLE contributors; --");
  assert.equal(r.body.data.content, "No activity recorded for **x'); DROP TABLE contributors; --** yet.");
  assert.equal(Number(await pg.scalar('SELECT count(*) FROM contributors')), 2, 'a parameter, never SQL');
  assert.deepEqual(discord.state.refused, []);
});

test('on_empty: drop ends the event: no answer from the pipeline, the source\'s fallback at once', async () => {
  const found = await command('/lookup', 'lookup', 'mona');
  assert.equal(found.body.type, 4);
  assert.equal(found.body.data.content, '1 row(s)');
  const before = discord.state.accepted.length;
  const missing = await command('/lookup', 'lookup', 'nobody');
  // The pipeline is through with it, unanswered: discord.interactions' fallback_reply, seen
  // only by the user, instead of a "thinking…" nothing would resolve.
  assert.deepEqual(missing.body, { type: 4, data: { content: 'Nothing to report for that.', flags: 64, allowed_mentions: { parse: [] } } });
  assert.ok(missing.ms < 1900, `answered after ${missing.ms} ms, before reply_within`);
  await sleep(500);
  assert.equal(discord.state.accepted.length, before, 'and no follow-up: the event was dropped');
  assert.match(await (await fetch(`${engine.adminUrl}/api/pipelines`)).text(), /"dropped":1/);
});

test('a query past its timeout: the command is answered in time without rows', async () => {
  const quick = await command('/slow', 'slow', '0');
  assert.equal(quick.body.data.content, '1 row(s)');
  const slow = await command('/slow', 'slow', '5');
  assert.equal(slow.body.type, 4, 'answered, not deferred');
  assert.equal(slow.body.data.content, 'unavailable');
  assert.ok(slow.ms >= 450 && slow.ms < 2000, `answered after ${slow.ms} ms for a 500 ms timeout`);
  assert.match(engine.stderr, /no rows within 500ms .*kept without rows \(on_error: keep\)/);
  const again = await command('/slow', 'slow', '0');
  assert.equal(again.body.data.content, '1 row(s)', 'the session serves the next command');
});
