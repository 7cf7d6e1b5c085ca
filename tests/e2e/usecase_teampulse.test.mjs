// TeamPulse (use case teampulse-push-to-metrics.md) as shipped configuration, end to end:
// pipelines/teampulse/teampulse.yaml with commits.sql and counters.sql in a real PostgreSQL,
// the organisation's dashboard room read over WebSocket with a JWT as a dashboard would,
// GitHub's published push examples as input (@octokit/webhooks-examples).
// - a push → its commits upserted by sha → the per-author counters (views) → one
//   COMMITS_UPDATED event in the room `org:<org>`; a redelivery counts nothing twice;
// - a token for another organisation cannot read the room; a foreign origin cannot connect;
// - PostgreSQL stopped: the room is told at once, the database sink retries and stores the
//   push when the server is back;
// - the table gone for longer than the retries (a migration renamed it): the push is a
//   dead letter, and `switchyard dlq replay` stores it once the table is back.
// The test shortens the sink's retry schedule (the shipped one lasts about 5 minutes).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, dlq, dlqList, SOURCE_DIR } from './lib/engine.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { waitUntil } from './lib/receiver.mjs';
import { connect, jwt } from './lib/live_client.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const shipped = (path) => readFileSync(join(SOURCE_DIR, 'pipelines/teampulse', path), 'utf8');
const SECRET = 'teampulse-e2e-secret';
const JWT_SECRET = 'teampulse-e2e-jwt-secret-of-32-bytes-or-more';
const ORIGIN = 'https://teampulse.example.com';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

// GitHub's push example with commits (refs/heads/master, one commit), made into a push of
// `commits` by the given authors in `org`.
const base = examples.find((g) => g.name === 'push').examples.find((p) => p.commits.length > 0);
function push(org, authors, tag) {
  const p = structuredClone(base);
  p.organization = { login: org };
  p.repository.full_name = `${org}/Hello-World`;
  p.commits = authors.map((author, i) => ({
    ...structuredClone(base.commits[0]),
    id: `${tag}${String(i).padStart(40 - tag.length, '0')}`,
    message: `${tag} commit ${i}`,
    timestamp: '2025-11-19T10:00:00Z',
    author: { name: author, email: `${author}@example.com`, username: author },
  }));
  p.after = p.commits.at(-1).id;
  p.head_commit = p.commits.at(-1);
  return p;
}

test('push → commits → per-author counters → the organisation\'s room; retries and dead letters', async () => {
  const pg = await startPostgres();
  cleanups.push(() => pg.close());
  await pg.exec(shipped('commits.sql'));
  await pg.exec(shipped('counters.sql'));

  const pipeline = shipped('teampulse.yaml');
  assert.match(pipeline, /retry: \{max_attempts: 12, initial: 500ms, max: 1m\}/);
  const engine = await startEngine({
    pipelines: { teampulse: pipeline.replace('retry: {max_attempts: 12, initial: 500ms, max: 1m}',
      'retry: {max_attempts: 10, initial: 100ms, max: 1s}') },
    config: readFileSync(join(SOURCE_DIR, 'config/switchyard.yaml'), 'utf8').match(/^env:\n(?:[ #].*\n)*/m)[0],
    env: { DATABASE_URL: pg.url, GITHUB_WEBHOOK_SECRET: SECRET, TEAMPULSE_JWT_SECRET: JWT_SECRET, TEAMPULSE_ORIGIN: ORIGIN },
  });
  cleanups.push(() => engine.stop());

  let delivery = 0;
  const post = async (payload, id = `tp-${++delivery}`) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${engine.url}/github/teampulse`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': id,
        'x-hub-signature-256': sign(SECRET, body) },
    });
    assert.equal(res.status, 202, await res.text());
  };
  const liveUrl = `${engine.url.replace('http', 'ws')}/teampulse/live`;
  const token = async (rooms) => jwt({ sub: 'alice', rooms, exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET);
  const dashboard = await connect(liveUrl, { protocols: ['switchyard.v1', `bearer.${await token(['org:octo-org'])}`], origin: ORIGIN });
  cleanups.push(() => dashboard.close());
  dashboard.subscribe('org:octo-org');
  await dashboard.waitOp('subscribed', 'org:octo-org');

  // Room access: another organisation's token, a page on another origin.
  const other = await connect(liveUrl, { protocols: ['switchyard.v1', `bearer.${await token(['org:other'])}`], origin: ORIGIN });
  cleanups.push(() => other.close());
  other.subscribe('org:octo-org');
  assert.equal((await other.waitOp('error', 'org:octo-org')).room, 'org:octo-org');
  await assert.rejects(connect(liveUrl, { protocols: ['switchyard.v1', `bearer.${await token(['org:octo-org'])}`], origin: 'https://evil.example.com' }),
    (e) => e.status === 403);

  // A push of three commits, then GitHub's redelivery of it (a new delivery id).
  const first = push('octo-org', ['alice', 'alice', 'bob'], 'a');
  await post(first);
  await post(first);
  const [update] = await dashboard.waitEvents('org:octo-org', 1);
  assert.deepEqual(update.event.data, {
    type: 'COMMITS_UPDATED', event: 'commits:update', orgId: 'octo-org', repoId: 'octo-org/Hello-World',
    payload: { commitCount: 3, authors: ['alice', 'alice', 'bob'], ref: base.ref, head: first.after },
  });
  const counts = () => pg.rows('SELECT author, commits FROM author_commits_daily ORDER BY author');
  await waitUntil(async () => (await counts()).length === 2, 10000, 'the counters');
  await dashboard.waitEvents('org:octo-org', 2);  // the redelivery is another push event
  await waitUntil(async () => Number(await pg.scalar('SELECT count(*) FROM pushes')) === 2, 10000, 'both deliveries stored');
  assert.deepEqual(await counts(), [{ author: 'alice', commits: 2 }, { author: 'bob', commits: 1 }], 'a commit counts once, however often it is delivered');
  const [snapshot] = await pg.rows('SELECT org, repository, day, metric_value, payload FROM recent_commits');
  assert.deepEqual(snapshot, { org: 'octo-org', repository: 'octo-org/Hello-World', day: '2025-11-19', metric_value: 3,
    payload: { byAuthor: { alice: 2, bob: 1 } } });

  // An empty push (a tag) is filtered out: nothing stored, nothing shown.
  const tag = examples.find((g) => g.name === 'push').examples.find((p) => p.commits.length === 0);
  await post({ ...structuredClone(tag), organization: { login: 'octo-org' } });

  // PostgreSQL restarts: the room is told at once; the push is stored once it is back.
  await pg.stop();
  const during = push('octo-org', ['carol'], 'b');
  await post(during);
  const events = await dashboard.waitEvents('org:octo-org', 3);
  assert.equal(events[2].event.data.payload.authors[0], 'carol', 'the room does not wait for the database');
  assert.equal(events.length, 3, 'the tag push was not shown');
  await engine.waitFor(() => /pushes.*(retry|retrying|attempt)/i.test(engine.stderr), 10000, 'a failed attempt to be retried');
  await pg.start();
  await waitUntil(async () => Number(await pg.scalar("SELECT count(*) FROM commits WHERE author = 'carol'")) === 1, 15000, 'the retried push stored');

  // The table gone past the retries (a migration renamed it): a dead letter, replayed once
  // it is back.
  await pg.exec('ALTER TABLE pushes RENAME TO pushes_migrating');
  const lost = push('octo-org', ['dave', 'erin'], 'c');
  await post(lost);
  let entries = [];
  await waitUntil(async () => (entries = await dlqList(engine.configFile)).length === 1, 30000, 'the dead letter');
  assert.equal(entries[0].pipeline, 'teampulse');
  assert.equal(entries[0].sink, 'pushes');
  assert.match(JSON.stringify(entries[0]), /pushes/);
  await pg.exec('ALTER TABLE pushes_migrating RENAME TO pushes');
  await dlq(engine.configFile, 'replay', '--all');
  await waitUntil(async () => (await counts()).length === 5, 15000, 'the replayed push stored');
  assert.deepEqual(await counts(), ['alice', 'bob', 'carol', 'dave', 'erin'].map((author) => ({ author, commits: author === 'alice' ? 2 : 1 })));
  assert.deepEqual(await dlqList(engine.configFile), []);
  assert.equal((await dashboard.waitEvents('org:octo-org', 4)).length, 4, 'the replay went to the database only');
});
