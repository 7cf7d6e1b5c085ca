// TeamPulse's "for each commit in the push: upsert the commit": the shipped
// pipelines/teampulse/commits.yaml splits each push into one event per commit and upserts
// them by sha (no trigger, no per-push table). Real PostgreSQL, GitHub's published push
// example.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { waitUntil } from './lib/receiver.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const SECRET = 'teampulse-e2e-secret';

let pg;
const cleanups = [];
before(async () => { pg = await startPostgres(); });
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await pg?.close();
});

test('each commit of a push is one row, upserted by sha: redeliveries and a second branch add none', async () => {
  const engine = await startEngine({
    pipelines: { commits: readFileSync(join(SOURCE_DIR, 'pipelines/teampulse/commits.yaml'), 'utf8') },
    env: { DATABASE_URL: pg.url, GITHUB_WEBHOOK_SECRET: SECRET },
    config: 'env: {allow: [DATABASE_URL, GITHUB_WEBHOOK_SECRET]}\n',
  });
  cleanups.push(() => engine.stop());
  await engine.waitFor((e) => /writing to "commits"/.test(e.stderr), 10000, 'the sink to set up');

  const push = structuredClone(examples.find((g) => g.name === 'push').examples.find((p) => p.commits.length > 0));
  const base = push.commits[0];
  push.commits = [0, 1, 2].map((i) => ({
    ...base, id: `${i}`.repeat(40), message: `commit ${i}`, timestamp: `2025-11-19T10:00:0${i}Z`,
    added: ['src/a.c', 'src/b.c'].slice(0, i + 1), modified: i === 2 ? ['README.md'] : [], removed: [],
  }));
  const post = async (payload, delivery) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${engine.url}/github/commits`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery,
        'x-hub-signature-256': sign(SECRET, body) },
    });
    return res.status;
  };
  const commits = () => pg.rows('SELECT sha, repository, ref, author, message, files FROM commits ORDER BY sha');

  // GitHub's redelivery (same delivery id) and the sender retrying under a new id.
  for (const delivery of ['abc-123', 'abc-123', 'abc-456']) assert.ok([200, 202].includes(await post(push, delivery)));
  // Each push is split into its three commits; the one under a new delivery id makes three
  // more events, upserted onto the same rows.
  await waitUntil(async () => {
    const body = await (await fetch(`${engine.adminUrl}/api/pipelines`)).json();
    const p = (Array.isArray(body) ? body : body.pipelines).find((x) => x.name === 'teampulse-commits');
    return p.sinks[0].delivered === 6;
  }, 10000, 'six commit events delivered');
  const rows = await commits();
  assert.deepEqual(rows.map((r) => [r.sha[0], r.message, r.files]), [['0', 'commit 0', 1], ['1', 'commit 1', 2], ['2', 'commit 2', 3]]);
  assert.ok(rows.every((r) => r.repository === push.repository.full_name && r.ref === push.ref && r.author === base.author.username));

  // The last commit again, pushed to another branch with a new one: one more row, and the
  // shared commit's row follows its latest push.
  const other = structuredClone(push);
  other.ref = 'refs/heads/feature';
  other.commits = [push.commits[2], { ...base, id: 'f'.repeat(40), message: 'commit f', added: [], modified: [], removed: [] }];
  assert.equal(await post(other, 'def-789'), 202);
  await waitUntil(async () => (await commits()).length === 4, 10000, 'the new commit');
  const after = await commits();
  assert.deepEqual(after.map((r) => [r.sha[0], r.ref]), [
    ['0', push.ref], ['1', push.ref], ['2', 'refs/heads/feature'], ['f', 'refs/heads/feature']]);

  // A push without commits (a deleted branch) is filtered out before the table.
  assert.equal(await post({ ...push, commits: [], deleted: true }, 'ghi-000'), 202);
  await waitUntil(async () => {
    const body = await (await fetch(`${engine.adminUrl}/api/pipelines`)).json();
    return (Array.isArray(body) ? body : body.pipelines).find((p) => p.name === 'teampulse-commits').dropped === 1;
  }, 10000, 'the empty push dropped');
  assert.equal((await commits()).length, 4);
});
