// OpsCord (use case opscord-github-discord-flow.md) as shipped configuration, end to end:
// pipelines/opscord/github.yaml and commands.yaml with opscord.sql in a real PostgreSQL,
// local stand-ins for Discord (tests/e2e/lib/fake_discord.mjs: two channels' webhooks, and
// the interactions a signed slash command brings), GitHub's published examples as input.
// - pull request opened, reviewed, merged; an issue opened and closed; a push → one embed
//   each in the default channel (colour per event type, author, footer with the XP,
//   timestamp, link), a repository with its own row in discord_configs → its own channel;
// - XP per section 9 of the use case, once per delivery, badges from the thresholds;
// - /ping, /stats user:, /summary pr: answered within Discord's 3 s from what was stored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startFakeDiscord } from './lib/fake_discord.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { waitUntil } from './lib/receiver.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const shipped = (path) => readFileSync(join(SOURCE_DIR, 'pipelines/opscord', path), 'utf8');
const SECRET = 'opscord-e2e-secret';
const APP = '1180000000000000000';
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const publicHex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const example = (name, action) => structuredClone(examples.find((g) => g.name === name).examples.find((p) => p.action === action));

test('GitHub events → activities, XP and Discord embeds routed per repository; /ping, /stats, /summary from the database', async () => {
  const pg = await startPostgres();
  cleanups.push(() => pg.close());
  await pg.exec(shipped('opscord.sql'));
  const channel = await startFakeDiscord({ limit: 50 });
  cleanups.push(() => channel.close());
  const routed = await startFakeDiscord({ id: '1190000000000000000', token: 'routed-token', limit: 50 });
  cleanups.push(() => routed.close());
  await pg.exec(`INSERT INTO discord_configs VALUES ('octo-org/routed', '${routed.url}')`);

  const engine = await startEngine({
    pipelines: {
      github: shipped('github.yaml'),
      commands: shipped('commands.yaml').replace('type: discord.reply', `type: discord.reply\n    api_base: ${channel.base}/api/v10`),
    },
    config: readFileSync(join(SOURCE_DIR, 'config/switchyard.yaml'), 'utf8').match(/^env:\n(?:[ #].*\n)*/m)[0],
    env: { DATABASE_URL: pg.url, GITHUB_WEBHOOK_SECRET: SECRET, DISCORD_WEBHOOK_URL: channel.url, DISCORD_PUBLIC_KEY: publicHex },
  });
  cleanups.push(() => engine.stop());
  await engine.waitFor((e) => /pipeline opscord-github started/.test(e.stderr) && /pipeline opscord-commands started/.test(e.stderr), 10000, 'both pipelines');

  let delivery = 0;
  const post = async (event, payload, id = `oc-${++delivery}`) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${engine.url}/github/opscord`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': id,
        'x-hub-signature-256': sign(SECRET, body) },
    });
    assert.ok(res.status === 202 || res.status === 200, `${event}: ${res.status} ${await res.text()}`);
  };

  // The scenario of section 5: a PR opened, reviewed, merged; an issue; a push.
  const opened = example('pull_request', 'opened');
  const author = opened.pull_request.user.login;
  const merged = example('pull_request', 'closed');
  Object.assign(merged.pull_request, { merged: true, merged_by: { login: 'lead-dev' }, merged_at: '2019-05-15T16:00:00Z' });
  const review = example('pull_request_review', 'submitted');
  const issue = example('issues', 'opened');
  const closed = structuredClone(issue);
  closed.action = 'closed';
  closed.sender = { ...closed.sender, login: 'triager' };
  const push = structuredClone(examples.find((g) => g.name === 'push').examples.find((p) => p.commits.length > 0));
  const run = structuredClone(examples.find((g) => g.name === 'workflow_run').examples.find((p) => p.workflow_run.conclusion === 'success'));
  await post('pull_request', opened, 'pr-opened');
  await post('pull_request', opened, 'pr-opened');  // the same delivery again: answered, not counted
  await post('pull_request_review', review);
  await post('pull_request', merged);
  await post('issues', issue);
  await post('issues', closed);
  await post('push', push);
  await post('workflow_run', run);
  // A repository with its own channel.
  const elsewhere = example('pull_request', 'opened');
  elsewhere.repository.full_name = 'octo-org/routed';
  elsewhere.number = elsewhere.pull_request.number = 5;
  await post('pull_request', elsewhere);

  await engine.waitFor(() => channel.state.accepted.length === 7, 15000, 'seven messages in the default channel');
  await engine.waitFor(() => routed.state.accepted.length === 1, 15000, 'one in the routed channel');
  assert.deepEqual(channel.state.refused, [], 'Discord accepted every message');
  const embeds = channel.state.accepted.map((a) => a.message.embeds[0]);
  const find = (prefix) => embeds.find((e) => e.title.startsWith(prefix));
  const pr = find('New pull request #2');
  assert.equal(pr.title, `New pull request #2: ${opened.pull_request.title}`);
  assert.equal(pr.color, 0x2EA043);
  assert.equal(pr.url, opened.pull_request.html_url);
  assert.deepEqual(pr.author, { name: opened.sender.login, url: opened.sender.html_url, icon_url: opened.sender.avatar_url });
  assert.equal(pr.footer.text, `OpsCord · ${opened.repository.full_name} · +10 XP for ${author}`);
  assert.ok(Math.abs(Date.parse(pr.timestamp) - Date.now()) < 60000, `a timestamp: ${pr.timestamp}`);
  assert.equal(find('Pull request #2 merged').color, 0x8957E5);
  assert.match(find('Pull request #2 merged').footer.text, /\+20 XP for /);
  assert.equal(find('Review on #2').color, 0xD29922);
  assert.equal(find('1 new commit(s) to ').color, 0x0077FF);
  assert.equal(find('1 new commit(s) to ').description, push.head_commit.message);
  assert.match(find('Issue #1 closed').footer.text, /\+5 XP for triager$/);
  assert.equal(embeds.filter((e) => e.title.startsWith('New pull request #2')).length, 1, 'the repeated delivery is not posted again');
  assert.ok(embeds.every((e) => e.footer.text.startsWith('OpsCord · ') && e.author.name));
  assert.equal(channel.state.accepted.every((a) => a.message.username === 'OpsCord'), true);
  assert.equal(routed.state.accepted[0].message.embeds[0].title, `New pull request #5: ${opened.pull_request.title}`);

  // XP (section 9), once per delivery; badges from the thresholds.
  await waitUntil(async () => Number(await pg.scalar('SELECT count(*) FROM activities')) === 8, 15000, 'eight activities');
  const stats = await pg.rows('SELECT login, xp, commits, prs_opened, prs_merged, reviews, issues_opened, issues_closed, badges FROM contributors ORDER BY login');
  const me = stats.find((s) => s.login === author.toLowerCase());
  // Opened 10 (+10 in octo-org/routed) + review 15 + merged 20 + issue 8 + one commit 2.
  assert.deepEqual(me, { login: author.toLowerCase(), xp: 65, commits: 1, prs_opened: 2, prs_merged: 1, reviews: 1,
    issues_opened: 1, issues_closed: 0, badges: ['First PR'] });
  assert.deepEqual(stats.find((s) => s.login === 'lead-dev').xp, 5, '+5 for merging');
  assert.deepEqual(stats.find((s) => s.login === 'triager').xp, 5, '+5 for closing the issue');

  // Slash commands, signed as Discord signs them.
  let n = 0;
  const command = async (name, options = []) => {
    const token = `interaction-token-${++n}`;
    channel.issueInteractionToken(token);
    const body = JSON.stringify({ id: `11900000000000000${n}`, application_id: APP, type: 2, token, guild_id: '77',
      member: { user: { id: '5', username: 'octocat' } }, data: { id: '9', name, type: 1, options } });
    const ts = String(Math.floor(Date.now() / 1000));
    const started = Date.now();
    const res = await fetch(`${engine.url}/discord/interactions`, { method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-signature-ed25519': edSign(null, Buffer.from(ts + body), privateKey).toString('hex'),
        'x-signature-timestamp': ts } });
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.equal(answer.type, 4, `answered within 3 s, not deferred: ${JSON.stringify(answer)}`);
    assert.ok(Date.now() - started < 3000);
    return answer.data.content;
  };
  assert.equal(await command('ping'), 'Pong! 8 activities stored.');
  assert.equal(await command('stats', [{ name: 'user', type: 3, value: author }]),
    `**${author.toLowerCase()}**: 65 XP · 1 commits · 2 PRs opened · 1 PRs merged · 1 reviews · 1 issues · badges: First PR`);
  assert.equal(await command('stats', [{ name: 'user', type: 3, value: 'nobody' }]), 'No activity recorded for **nobody** yet.');
  assert.equal(await command('summary', [{ name: 'pr', type: 4, value: 2 }]),
    `**${opened.repository.full_name}#2** ${opened.pull_request.title} by ${author} · 1 review(s) (${review.review.user.login}) · merged by lead-dev`);
  assert.equal(await command('summary', [{ name: 'pr', type: 4, value: 99 }]), 'No pull request #99 in the stored activity.');
  assert.deepEqual(channel.state.refused, []);
});
