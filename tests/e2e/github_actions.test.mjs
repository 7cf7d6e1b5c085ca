// github.actions against a fake GitHub REST API started by the test: fixed responses,
// ETag/304, an exhausted rate limit with its reset time, and a failing repository.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startEngine } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function isoSecondsAgo(seconds) {
  return new Date(Date.now() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function run(id, status, conclusion = null, branch = 'main') {
  return {
    id, name: 'CI', head_branch: branch, head_sha: 'a'.repeat(40), run_number: id, run_attempt: 1,
    event: 'push', status, conclusion, workflow_id: 161335,
    html_url: `https://github.com/octo/app/actions/runs/${id}`,
    // Recent: runs older than the source's remember window (7 days) are not emitted.
    created_at: isoSecondsAgo(300), updated_at: isoSecondsAgo(60),
    actor: { login: 'mona' }, triggering_actor: { login: 'mona' },
    repository: { id: 1, name: 'app', full_name: 'octo/app', html_url: 'https://github.com/octo/app' },
  };
}

test('polls with ETag, emits each run state once, backs off on rate limits and errors', async () => {
  const requests = { app: [], limited: [], flaky: [] };  // for runs
  const lookups = { app: 0, limited: 0, flaky: 0 };       // of the repository itself
  let appRuns = [run(11, 'queued'), run(10, 'completed', 'failure', 'release/1.0')];
  let etag = '"v1"';
  let limitedReset = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const repo = url.pathname.split('/')[3];
    const entry = { at: Date.now(), auth: req.headers.authorization, inm: req.headers['if-none-match'], path: url.pathname };
    if (url.pathname === `/repos/octo/${repo}` && repo in lookups) {
      // GET /repos/{owner}/{repo}: the default branch the runs API leaves out.
      lookups[repo] += 1;
      assert.equal(entry.auth, 'Bearer ghp_test_token_value');
      res.writeHead(200, { 'Content-Type': 'application/json', ETag: `"repo-${repo}"` });
      return res.end(JSON.stringify({ id: 1, name: repo, full_name: `octo/${repo}`, default_branch: 'main' }));
    }
    requests[repo]?.push(entry);
    if (url.pathname === '/repos/octo/app/actions/runs') {
      if (req.headers['if-none-match'] === etag) { res.writeHead(304, { ETag: etag }); return res.end(); }
      res.writeHead(200, { 'Content-Type': 'application/json', ETag: etag, 'X-RateLimit-Remaining': '4999' });
      return res.end(JSON.stringify({ total_count: appRuns.length, workflow_runs: appRuns }));
    }
    if (url.pathname === '/repos/octo/limited/actions/runs') {
      if (requests.limited.length === 1) {
        limitedReset = Math.ceil(Date.now() / 1000) + 3;
        res.writeHead(403, { 'Content-Type': 'application/json', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(limitedReset) });
        return res.end('{"message":"API rate limit exceeded"}');
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ total_count: 0, workflow_runs: [] }));
    }
    if (url.pathname === '/repos/octo/flaky/actions/runs') {
      res.writeHead(502); return res.end('bad gateway');
    }
    res.writeHead(404); res.end('{"message":"Not Found"}');
  });
  const port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
  cleanups.push(() => new Promise((r) => server.close(r)));

  const engine = await startEngine({
    // No HTTP source here: no listener line to wait for, so give the engine a dummy route.
    pipelines: {
      poll: `name: poll
durability: memory
source:
  type: github.actions
  repositories: [octo/app, octo/limited, octo/flaky]
  token: ghp_test_token_value
  base_url: http://127.0.0.1:${port}
  interval: 1s
  jitter: 0s
sinks: [{name: out, type: stdout}]
`,
      listener: `name: listener
durability: memory
source: {type: http, path: /ready}
sinks: [{name: none, type: blackhole}]
`,
    },
  });
  cleanups.push(() => engine.stop());

  const runEvents = () => engine.events().filter((e) => e.type.startsWith('github.workflow_run.'));
  await engine.waitFor(() => runEvents().length >= 2, 10000, 'the first two run events');
  let events = runEvents();
  assert.deepEqual(events.map((e) => e.type).sort(), ['github.workflow_run.completed', 'github.workflow_run.requested']);
  const completed = events.find((e) => e.type === 'github.workflow_run.completed');
  assert.equal(completed.subject, 'release/1.0');
  assert.equal(completed.source, 'https://github.com/octo/app');
  assert.equal(completed.data.action, 'completed');
  assert.equal(completed.data.workflow_run.id, 10);
  assert.equal(completed.data.workflow_run.conclusion, 'failure');
  assert.equal(completed.data.repository.full_name, 'octo/app');
  assert.equal(completed.data.repository.default_branch, 'main', 'filled in from GET /repos/octo/app');

  // Unchanged list: conditional requests, 304s, no new events.
  await engine.waitFor(() => requests.app.length >= 3, 10000, 'more polls of octo/app');
  assert.equal(requests.app[1].inm, '"v1"', 'the second poll must be conditional');
  assert.equal(runEvents().length, 2);
  assert.ok(requests.app.every((r) => r.auth === 'Bearer ghp_test_token_value'));

  // Run 11 starts, then completes: one event per state change, never a repeat.
  appRuns = [run(11, 'in_progress'), run(10, 'completed', 'failure', 'release/1.0')];
  etag = '"v2"';
  await engine.waitFor(() => runEvents().length >= 3, 10000, 'the in_progress event');
  appRuns = [run(11, 'completed', 'success'), run(10, 'completed', 'failure', 'release/1.0')];
  etag = '"v3"';
  await engine.waitFor(() => runEvents().length >= 4, 10000, 'the second completed event');
  await new Promise((r) => setTimeout(r, 1500));
  events = runEvents();
  const keys = events.map((e) => `${e.data.workflow_run.id}/${e.data.action}`);
  assert.deepEqual(keys.sort(), ['10/completed', '11/completed', '11/in_progress', '11/requested']);
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'event ids are unique');

  // Rate limit: nothing between the 403 and its reset time.
  await engine.waitFor(() => requests.limited.length >= 2, 15000, 'a poll after the rate-limit reset');
  assert.ok(requests.limited[1].at >= limitedReset * 1000 - 50,
    `polled ${limitedReset * 1000 - requests.limited[1].at} ms before the reset`);

  // 5xx: the gaps between attempts double (interval 1 s: 2, 4, 8 s). The rate-limit wait
  // above holds every repository of the token, so the first gap may be stretched by it.
  await engine.waitFor(() => requests.flaky.length >= 4, 30000, 'four attempts at the failing repository');
  const gaps = requests.flaky.slice(1).map((r, i) => r.at - requests.flaky[i].at);
  assert.ok(gaps[2] >= 7500 && gaps[2] > gaps[1] * 1.5, `back-off did not grow: ${gaps.join(', ')} ms`);
  assert.doesNotMatch(engine.stderr, /ghp_test_token_value/, 'the token never appears in logs');
  // The repository is read once (then once a day), not with every poll.
  assert.deepEqual(lookups, { app: 1, limited: 1, flaky: 1 });
});
