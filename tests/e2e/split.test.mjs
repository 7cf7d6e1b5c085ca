// The core `split` transform end to end: GitHub's push example through github.webhook →
// split (one event per commit) → http sink at a local receiver. Each commit is an event of
// its own, in order, with ids derived from the delivery id (a redelivery gives the same
// ids); the webhook's 202 means every one of them is in the journal (kill -9 loses none).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import { startEngine, sign, tempDir } from './lib/engine.mjs';
import { startReceiver, waitUntil, sleep } from './lib/receiver.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const SECRET = 'split-e2e-secret';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function pipeline(url, retry = '{max_attempts: 10, initial: 100ms, max: 1s}') {
  return `name: commits
source:
  type: github.webhook
  path: /github/commits
  secret: ${SECRET}
  events: [push]
  dedup_window: 0                     # redeliveries reach the pipeline (as after the window)
transforms:
  - type: split
    items: \${{ payload.commits }}
    with: {repo: '\${{ payload.repository.full_name }}', ref: '\${{ payload.ref }}'}
  - type: map
    set: {sha: '\${{ payload.item.id }}', message: '\${{ payload.item.message }}'}
    drop: [item]
sinks:
  - name: out
    type: http
    url: ${url}/hook
    retry: ${retry}
`;
}

function threeCommits() {
  const push = structuredClone(examples.find((g) => g.name === 'push').examples.find((p) => p.commits.length > 0));
  push.commits = [0, 1, 2].map((i) => ({ ...push.commits[0], id: `${i}`.repeat(40), message: `commit ${i}` }));
  return push;
}

async function post(engine, payload, delivery) {
  const body = JSON.stringify(payload);
  const res = await fetch(`${engine.url}/github/commits`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery,
      'x-hub-signature-256': sign(SECRET, body) },
  });
  return res.status;
}

test('a push with 3 commits is 3 events at the sink, in order; a redelivery makes the same ids', async () => {
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({ pipelines: { commits: pipeline(receiver.url) } });
  cleanups.push(() => engine.stop());
  const push = threeCommits();

  assert.equal(await post(engine, push, 'abc-123'), 202);
  await waitUntil(() => receiver.delivered().length === 3, 10000, 'three events at the receiver');
  assert.deepEqual(receiver.delivered(), ['abc-123-0', 'abc-123-1', 'abc-123-2']);
  const bodies = receiver.requests.map((r) => r.body);
  assert.deepEqual(bodies.map((b) => b.data), [0, 1, 2].map((i) => ({
    index: i, count: 3, repo: push.repository.full_name, ref: push.ref, sha: `${i}`.repeat(40), message: `commit ${i}`,
  })));
  assert.ok(bodies.every((b) => b.type === 'github.push'), 'each keeps its parent\'s type');

  // GitHub redelivers the same delivery (past the source's dedup_window, here 0): the same
  // three ids, so a sink or a database keyed by event id sees duplicates, not new events.
  assert.equal(await post(engine, push, 'abc-123'), 202);
  await waitUntil(() => receiver.delivered().length === 6, 10000, 'the redelivery at the receiver');
  assert.deepEqual(receiver.delivered().slice(3), ['abc-123-0', 'abc-123-1', 'abc-123-2']);

  // A push without commits (a deleted branch) makes no event.
  assert.equal(await post(engine, { ...push, commits: [], deleted: true }, 'def-456'), 202);
  await waitUntil(async () => {
    const body = await (await fetch(`${engine.adminUrl}/api/pipelines`)).json();
    return (Array.isArray(body) ? body : body.pipelines).find((p) => p.name === 'commits').dropped === 1;
  }, 10000, 'the empty push dropped');
  assert.equal(receiver.requests.length, 6);
  assert.equal(await engine.stop(), 0);
});

test('the 202 means every commit\'s event is journaled: kill -9 before delivery loses none', async () => {
  let up = false;
  const receiver = await startReceiver(() => (up ? { status: 200 } : { status: 503, headers: { 'Retry-After': '1' } }));
  cleanups.push(() => receiver.close());
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startEngine({
    dir, pipelines: { commits: pipeline(receiver.url, '{max_attempts: 100, initial: 200ms, max: 1s, max_age: 1h}') },
  });
  cleanups.push(async () => { await first.kill(); });
  assert.equal(await post(first, threeCommits(), 'crash-1'), 202);
  await waitUntil(() => receiver.requests.length >= 1, 5000, 'a first (failing) attempt');
  await first.kill('SIGKILL');

  up = true;
  const second = await startEngine({ dir });
  cleanups.push(async () => { await second.kill(); });
  await waitUntil(() => receiver.delivered().length >= 3, 15000, 'the three events after the restart');
  await sleep(300);  // a duplicate would show by now
  assert.deepEqual(receiver.delivered(), ['crash-1-0', 'crash-1-1', 'crash-1-2']);
  assert.equal(await second.stop(), 0);
});
