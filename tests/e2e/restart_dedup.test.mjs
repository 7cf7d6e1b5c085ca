// What components remember survives a restart (the journal's state table): GitHub's
// redelivery of a webhook is still recognised, github.actions does not re-emit the run
// states it emitted before, and the dedup transform still knows its keys.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { startEngine, sign, tempDir } from './lib/engine.mjs';
import { sleep } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function postWebhook(engine, secret, id, body) {
  const res = await fetch(`${engine.url}/gh`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': sign(secret, body) },
  });
  return { status: res.status, body: await res.text() };
}

test('a webhook redelivered after a restart is answered 200 and not emitted again', async () => {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const secret = 'restart-secret';
  const pipelines = {
    gh: `name: gh
source: {type: github.webhook, path: /gh, secret: ${secret}}
sinks: [{name: out, type: stdout}]
`,
  };
  const body = JSON.stringify({ ref: 'refs/heads/main', repository: { html_url: 'https://github.com/o/r' } });
  const first = await startEngine({ dir, pipelines });
  cleanups.push(() => first.kill());
  assert.equal((await postWebhook(first, secret, 'delivery-1', body)).status, 202);
  await first.waitFor((e) => e.events().some((ev) => ev.id === 'delivery-1'), 5000, 'the first delivery');
  assert.equal(await first.stop(), 0);

  const second = await startEngine({ dir });
  cleanups.push(() => second.kill());
  const again = await postWebhook(second, secret, 'delivery-1', body);
  assert.equal(again.status, 200, again.body);
  assert.match(again.body, /duplicate/);
  assert.equal((await postWebhook(second, secret, 'delivery-2', body)).status, 202);
  await second.waitFor((e) => e.events().some((ev) => ev.id === 'delivery-2'), 5000, 'the new delivery');
  assert.equal(second.events().filter((ev) => ev.id === 'delivery-1').length, 0, 'the redelivery was emitted again');
  assert.equal(await second.stop(), 0);
});

test('github.actions does not re-emit run states it emitted before a restart', async () => {
  const run = (id, status, conclusion = null) => ({
    id, name: 'CI', head_branch: 'main', head_sha: 'b'.repeat(40), run_number: id, run_attempt: 1,
    event: 'push', status, conclusion, html_url: `https://github.com/octo/app/actions/runs/${id}`,
    repository: { id: 1, name: 'app', full_name: 'octo/app', html_url: 'https://github.com/octo/app' },
  });
  let runs = [run(21, 'in_progress'), run(20, 'completed', 'success')];
  let polls = 0;
  const server = createServer((req, res) => {
    polls++;
    res.writeHead(200, { 'Content-Type': 'application/json', 'X-RateLimit-Remaining': '4999' });
    res.end(JSON.stringify({ total_count: runs.length, workflow_runs: runs }));
  });
  const port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pipelines = {
    poll: `name: poll
source:
  type: github.actions
  repositories: [octo/app]
  token: ghp_restart_token
  base_url: http://127.0.0.1:${port}
  interval: 1s
  jitter: 0s
sinks: [{name: out, type: stdout}]
`,
    // An HTTP route, so startEngine has a listening line to wait for.
    listener: `name: listener
source: {type: http, path: /ready}
sinks: [{name: none, type: blackhole}]
`,
  };
  const runEvents = (e) => e.events().filter((ev) => ev.type.startsWith('github.workflow_run.'));
  const first = await startEngine({ dir, pipelines });
  cleanups.push(() => first.kill());
  await first.waitFor((e) => runEvents(e).length >= 2, 10000, 'the first run events');
  assert.equal(await first.stop(), 0);

  const second = await startEngine({ dir });
  cleanups.push(() => second.kill());
  const before = polls;
  // Unconditional polls (the ETag is not kept across restarts) of the same runs: nothing new.
  await second.waitFor(() => polls >= before + 2, 10000, 'two polls after the restart');
  await sleep(300);
  assert.deepEqual(runEvents(second), [], 'states emitted before the restart were emitted again');
  // A real change after the restart is still emitted, once.
  runs = [run(21, 'completed', 'failure'), run(20, 'completed', 'success')];
  await second.waitFor((e) => runEvents(e).length >= 1, 10000, 'the new state');
  await sleep(1500);
  assert.deepEqual(runEvents(second).map((ev) => `${ev.data.workflow_run.id}/${ev.data.action}`), ['21/completed']);
  assert.equal(await second.stop(), 0);
});

test('the dedup transform remembers its keys across a restart', async () => {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pipelines = {
    d: `name: d
source: {type: http, path: /in}
transforms:
  - {type: dedup, key: "\${{ payload.build }}", window: 1h}
sinks: [{name: out, type: stdout}]
`,
  };
  const post = async (engine, build) => {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', body: JSON.stringify({ build }), headers: { 'content-type': 'application/json' } });
    return res.status;
  };
  const builds = (e) => e.events().map((ev) => ev.data.build);
  const first = await startEngine({ dir, pipelines });
  cleanups.push(() => first.kill());
  assert.equal(await post(first, 1), 202);
  assert.equal(await post(first, 1), 202);
  await first.waitFor((e) => builds(e).length >= 1, 5000, 'build 1');
  await sleep(200);
  assert.deepEqual(builds(first), [1]);
  assert.equal(await first.stop(), 0);

  const second = await startEngine({ dir });
  cleanups.push(() => second.kill());
  assert.equal(await post(second, 1), 202);
  assert.equal(await post(second, 2), 202);
  await second.waitFor((e) => builds(e).length >= 1, 5000, 'build 2');
  await sleep(200);
  assert.deepEqual(builds(second), [2], 'build 1 passed the dedup again after the restart');
  assert.equal(await second.stop(), 0);
});
