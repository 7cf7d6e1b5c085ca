// The postgres sink end to end: the real binary, a real PostgreSQL server (tests/e2e/lib/
// postgres.mjs) and GitHub's published webhook examples, rows read back with psql.
// - workflow runs → the CI dashboard's `builds` table (pipelines/ci-dashboard/builds.yaml),
//   every conclusion, a commit message holding SQL stored as text;
// - the same push delivered three times → one ledger row, counters once
//   (pipelines/teampulse/commit-counters.yaml), also with the source's dedup off;
// - a batch holding a row that does not fit → that event in the DLQ naming the column,
//   the rest stored;
// - PostgreSQL stopped for 5 s while events stream in → every acknowledged event stored once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { waitUntil, sleep } from './lib/receiver.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const SECRET = 'postgres-e2e-secret';
const shipped = (path) => readFileSync(join(SOURCE_DIR, 'pipelines', path), 'utf8');

let pg;
const cleanups = [];
before(async () => { pg = await startPostgres(); });
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await pg?.close();
});

async function engineWith(pipelines) {
  const engine = await startEngine({
    pipelines, env: { DATABASE_URL: pg.url, GITHUB_WEBHOOK_SECRET: SECRET },
    config: 'env: {allow: [DATABASE_URL, GITHUB_WEBHOOK_SECRET]}\n',  // what the pipeline files read
  });
  cleanups.push(() => engine.stop());
  return engine;
}

async function postGithub(engine, path, event, payload, delivery) {
  const body = JSON.stringify(payload);
  const res = await fetch(`${engine.url}${path}`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery,
      'x-hub-signature-256': sign(SECRET, body) },
  });
  return res.status;
}

async function deadLetters(engine) {
  const body = await (await fetch(`${engine.adminUrl}/api/dlq`)).json();
  return Array.isArray(body) ? body : body.entries ?? [];
}

test('workflow runs become build rows with the dashboard\'s mapping, for every conclusion', async () => {
  const engine = await engineWith({ 'ci-builds': shipped('ci-dashboard/builds.yaml') });
  await engine.waitFor((e) => /writing to "builds"/.test(e.stderr), 10000, 'the sink to create builds');

  // GitHub's own examples, as published.
  const runs = examples.find((g) => g.name === 'workflow_run').examples;
  let n = 0;
  for (const payload of runs) assert.equal(await postGithub(engine, '/github/builds', 'workflow_run', payload, `example-${n++}`), 202);
  // The completed example once per conclusion GitHub has (and one still running), each its
  // own run; one commit message carries SQL.
  const base = runs.find((p) => p.workflow_run.conclusion === 'success');
  const conclusions = ['success', 'failure', 'cancelled', 'skipped', 'timed_out', 'action_required', 'neutral',
    'stale', 'startup_failure', null];
  const sent = conclusions.map((conclusion, i) => {
    const p = structuredClone(base);
    p.workflow_run.id = 9000 + i;
    p.workflow_run.status = conclusion ? 'completed' : 'in_progress';
    p.action = conclusion ? 'completed' : 'in_progress';
    p.workflow_run.conclusion = conclusion;
    p.workflow_run.run_started_at = '2024-05-01T12:00:00Z';
    p.workflow_run.updated_at = `2024-05-01T12:${String(i + 1).padStart(2, '0')}:30Z`;
    p.workflow_run.html_url = `https://github.com/octo-org/app/actions/runs/${9000 + i}`;
    p.workflow_run.head_commit.message = i === 1 ? "'); DROP TABLE builds; --" : `commit ${i}`;
    return p;
  });
  for (const p of sent) assert.equal(await postGithub(engine, '/github/builds', 'workflow_run', p, `run-${p.workflow_run.id}`), 202);

  const ids = [...new Set(runs.map((p) => p.workflow_run.id)), ...sent.map((p) => p.workflow_run.id)];
  await waitUntil(async () => Number(await pg.scalar('SELECT count(*) FROM builds')) === ids.length, 15000, 'every run stored');
  const rows = await pg.rows('SELECT * FROM builds ORDER BY external_id');
  assert.deepEqual(rows.map((r) => r.external_id).sort(), ids.sort());
  const byId = new Map(rows.map((r) => [r.external_id, r]));

  // The examples: the last state posted for each run wins (an upsert per run id).
  const last = new Map(runs.map((p) => [p.workflow_run.id, p]));
  for (const [id, p] of last) {
    const row = byId.get(id);
    const wr = p.workflow_run;
    assert.equal(row.status, wr.status !== 'completed' ? 'running' : wr.conclusion === 'failure' ? 'failed' : wr.conclusion);
    assert.equal(row.branch, wr.head_branch);
    assert.equal(row.commit_sha, wr.head_sha);
    assert.equal(row.triggered_by, p.sender.login);
    assert.equal(row.url, wr.html_url);
    assert.equal(Date.parse(row.started_at), Date.parse(wr.run_started_at));
    assert.equal(row.repository, p.repository.full_name);
    assert.deepEqual(row.raw_payload, p, 'the payload is kept as jsonb, unchanged');
    assert.equal(row.provider_id, 1);
  }
  sent.forEach((p, i) => {
    const row = byId.get(p.workflow_run.id);
    const c = conclusions[i];
    assert.equal(row.status, c === null ? 'running' : c === 'failure' ? 'failed' : c, `conclusion ${c}`);
    assert.equal(row.conclusion, c);
    assert.equal(row.finished_at === null, c === null, 'finished only when completed');
    assert.equal(row.duration_seconds, c === null ? null : (i + 1) * 60 + 30, 'computed by the database');
    assert.equal(row.delivery_id, `run-${p.workflow_run.id}`);
    assert.equal(row.commit_message, p.workflow_run.head_commit.message);
  });
  assert.equal(byId.get(9001).commit_message, "'); DROP TABLE builds; --", 'SQL in an event is stored as text');
  assert.deepEqual(await deadLetters(engine), []);
});

test('the same push delivered three times is one ledger row and counts once', async () => {
  // The shipped ledger pipeline, plus the increment upsert of docs/plugins/postgres.md, which
  // is as safe as the source's redelivery check (the ledger does not need it).
  const counters = shipped('teampulse/commit-counters.yaml').replace('name: commit-counters', 'name: counters') +
`  - name: stats
    type: postgres
    dsn: \${DATABASE_URL}
    table: author_stats
    columns: {author: "\${{ payload.pusher.name }}", commits: "\${{ length(payload.commits) }}"}
    on_conflict: {columns: [author], update: {commits: "author_stats.commits + excluded.commits"}}
    create_table: {author: text PRIMARY KEY, commits: integer NOT NULL}
`;
  const nodedup = shipped('teampulse/commit-counters.yaml').replace('name: commit-counters', 'name: nodedup')
    .replace('path: /github/pushes', 'path: /github/pushes-again\n  dedup_window: 0');
  const engine = await engineWith({ counters, nodedup });
  await engine.waitFor((e) => (e.stderr.match(/writing to "push_ledger"/g) ?? []).length === 2 &&
    /writing to "author_stats"/.test(e.stderr), 10000, 'the sinks to set up');
  await pg.exec(`CREATE VIEW author_commits AS SELECT author, sum(commits) AS commits FROM push_ledger GROUP BY author`);

  const push = structuredClone(examples.find((g) => g.name === 'push').examples.find((p) => p.commits.length > 0));
  push.commits = [push.head_commit, push.head_commit, push.head_commit];
  const author = push.head_commit.author.username || push.pusher.name;
  for (let i = 0; i < 3; i++) {
    assert.ok([200, 202].includes(await postGithub(engine, '/github/pushes', 'push', push, 'delivery-abc-123')));
  }
  await waitUntil(async () => Number(await pg.scalar('SELECT count(*) FROM author_stats')) === 1, 10000, 'the counter');
  await sleep(300);  // anything counted twice would have landed by now
  assert.deepEqual(await pg.rows('SELECT event_id, commits FROM push_ledger'), [{ event_id: 'delivery-abc-123', commits: 3 }]);
  assert.deepEqual(await pg.rows('SELECT * FROM author_commits'), [{ author, commits: 3 }]);
  assert.deepEqual(await pg.rows('SELECT * FROM author_stats'), [{ author: push.pusher.name, commits: 3 }]);
  assert.equal(Number(await pg.scalar(`SELECT extract(epoch FROM pushed_at) FROM push_ledger`)), push.repository.pushed_at,
    'GitHub\'s Unix seconds become a timestamptz');

  // With the source's redelivery check off, all three reach the sink: the ledger still counts once.
  for (let i = 0; i < 3; i++) assert.equal(await postGithub(engine, '/github/pushes-again', 'push', push, 'delivery-xyz-789'), 202);
  await waitUntil(async () => Number(await pg.scalar('SELECT count(*) FROM push_ledger')) === 2, 10000, 'the second ledger row');
  await sleep(300);
  assert.deepEqual(await pg.rows('SELECT * FROM author_commits'), [{ author, commits: 6 }]);
  assert.deepEqual(await deadLetters(engine), []);
});

test('a batch holding rows that do not fit: those events are dead-lettered naming the column, the rest stored', async () => {
  const engine = await engineWith({ batchy: `name: batchy
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - name: store
    type: postgres
    dsn: \${DATABASE_URL}
    table: readings
    concurrency: 100
    batch: {max_rows: 100, max_delay: 500ms}
    columns: {sensor: "\${{ payload.sensor }}", value: "\${{ payload.value }}", unit: "\${{ payload.unit }}"}
    create_table: {sensor: text, value: integer, unit: text NOT NULL}
` });
  await engine.waitFor((e) => /writing to "readings"/.test(e.stderr), 10000, 'the sink to set up');
  const bodies = Array.from({ length: 10 }, (_, i) => ({ sensor: `s${i}`, value: i, unit: 'C' }));
  bodies[3].value = 'abc';      // text into an integer column: refused before the batch
  bodies[6].unit = null;        // NOT NULL: refused by the server, found by the row-by-row retry
  await Promise.all(bodies.map(async (b, i) => {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', body: JSON.stringify(b),
      headers: { 'content-type': 'application/json', 'x-request-id': `reading-${i}` } });
    assert.equal(res.status, 202);
  }));
  await waitUntil(async () => (await deadLetters(engine)).length === 2 &&
    Number(await pg.scalar('SELECT count(*) FROM readings')) === 8, 10000, 'two dead letters and eight rows');
  const dead = (await deadLetters(engine)).sort((a, b) => a.event_id.localeCompare(b.event_id));
  assert.deepEqual(dead.map((d) => d.event_id), ['reading-3', 'reading-6']);
  assert.match(JSON.stringify(dead[0]), /column value \(integer\): expected an integer \(32 bits\), got \\"abc\\"/);
  assert.match(JSON.stringify(dead[1]), /23502 not_null_violation.*column unit/);
  assert.deepEqual((await pg.rows('SELECT sensor FROM readings ORDER BY sensor')).map((r) => r.sensor),
    ['s0', 's1', 's2', 's4', 's5', 's7', 's8', 's9']);
});

test('PostgreSQL stopped for 5 s while events stream in: every acknowledged event is stored, none twice', { timeout: 120000 }, async () => {
  const engine = await engineWith({ stream: `name: stream
source: {type: http, path: /in}
sinks:
  - name: store
    type: postgres
    dsn: \${DATABASE_URL}
    table: stream_events
    concurrency: 1000
    batch: {max_rows: 200, max_delay: 20ms}
    retry: {max_attempts: 1000, initial: 100ms, max: 1s}
    columns: {seq: "\${{ payload.seq }}", event_id: "\${{ event.id }}"}
    create_table: {seq: integer NOT NULL, event_id: text NOT NULL}
` });
  await engine.waitFor((e) => /writing to "stream_events"/.test(e.stderr), 10000, 'the sink to set up');
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const post = (seq) => new Promise((resolve) => {
    const body = JSON.stringify({ seq });
    const req = request(`${engine.url}/in`, { method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
  const acked = new Set();
  let seq = 0;
  let streaming = true;
  const stream = (async () => {
    while (streaming) {
      const batch = Array.from({ length: 20 }, () => seq++);
      const statuses = await Promise.all(batch.map(post));
      batch.forEach((s, i) => { if (statuses[i] === 202) acked.add(s); });
      await sleep(10);
    }
  })();
  await waitUntil(async () => Number(await pg.scalar('SELECT count(*) FROM stream_events')) > 500, 15000, 'rows flowing');
  await pg.stop();
  const down = Date.now();
  await sleep(5000);
  await pg.start();
  await sleep(1000);
  streaming = false;
  await stream;
  agent.destroy();
  assert.ok(Date.now() - down >= 5000);
  assert.ok(acked.size > 1000, `only ${acked.size} events acknowledged`);
  await waitUntil(async () => Number(await pg.scalar('SELECT count(DISTINCT seq) FROM stream_events')) >= acked.size,
    30000, `all ${acked.size} acknowledged events stored`);
  const stored = await pg.rows('SELECT seq, count(*)::int AS n FROM stream_events GROUP BY seq');
  const seen = new Set(stored.map((r) => r.seq));
  const missing = [...acked].filter((s) => !seen.has(s));
  assert.deepEqual(missing, [], 'every acknowledged event is stored');
  assert.deepEqual(stored.filter((r) => r.n > 1), [], 'none twice');
  assert.match(engine.stderr, /connected to 127\.0\.0\.1:\d+\/postgres again after/);
  assert.deepEqual(await deadLetters(engine), []);
});
