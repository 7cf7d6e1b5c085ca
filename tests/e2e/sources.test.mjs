// One pipeline fed by several sources (`sources:`): GitHub's webhook and the Actions poller
// of the same repository hand their workflow runs to the same transforms and sinks, each
// source counted on its own; a hot reload adds a third source without losing an event.
// Inputs: GitHub's published workflow_run example (@octokit/webhooks-examples).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, tempDir } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const SECRET = 'sources-e2e-secret';
const JSON_TYPE = { 'content-type': 'application/json' };

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('a webhook and a poller feed one pipeline; a reload adds a source; each source is counted', async () => {
  const base = examples.find((g) => g.name === 'workflow_run').examples.find((p) => p.workflow_run.conclusion === 'success');
  const repo = base.repository.full_name;
  const webhookRun = structuredClone(base);
  webhookRun.workflow_run.id = 7001;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  // Updated now: the poller leaves alone runs last updated longer ago than it remembers.
  const polledRun = { ...structuredClone(base.workflow_run), id: 7002, triggering_actor: base.sender, run_started_at: now, updated_at: now };
  const github = await startReceiver(({ url }) => (url.startsWith(`/repos/${repo}/actions/runs`)
    ? { status: 200, headers: { 'content-type': 'application/json', etag: '"v1"', 'x-ratelimit-remaining': '4999' },
      body: JSON.stringify({ total_count: 1, workflow_runs: [polledRun] }) }
    : { status: 404, body: '{"message":"Not Found"}' }));
  cleanups.push(() => github.close());

  const pipeline = (extra = '') => `name: runs
sources:
  - name: webhook
    type: github.webhook
    path: /github/runs
    secret: ${SECRET}
    events: [workflow_run]
  - name: poller
    type: github.actions
    repositories: [${repo}]
    base_url: ${github.url}
    interval: 1h
    jitter: 0s
${extra}transforms:
  - type: filter
    if: \${{ payload.workflow_run.id > 0 }}
sinks:
  - name: out
    type: file
    path: OUT
`;
  const dir = tempDir('switchyard-sources-');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'runs.jsonl');
  const engine = await startEngine({ dir, pipelines: { runs: pipeline().replace('OUT', out) } });
  cleanups.push(() => engine.stop());
  const file = join(dir, 'pipelines', 'runs.yaml');
  assert.ok(existsSync(file));
  const reload = async () => {
    const res = await fetch(`${engine.adminUrl}/api/reload`, { method: 'POST', headers: JSON_TYPE, body: '{}' });
    assert.equal(res.status, 200, await res.text());
  };

  const ids = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).data.workflow_run.id) : []);
  const body = JSON.stringify(webhookRun);
  let res = await fetch(`${engine.url}/github/runs`, {
    method: 'POST', body,
    headers: { ...JSON_TYPE, 'x-github-event': 'workflow_run', 'x-github-delivery': 'sources-1', 'x-hub-signature-256': sign(SECRET, body) },
  });
  assert.equal(res.status, 202, await res.text());
  await waitUntil(() => ids().includes(7001) && ids().includes(7002), 10000, `both runs in the sink: ${ids()}\n${engine.stderr}\n${JSON.stringify(github.requests.map((r) => [r.url, r.status]))}`);

  const api = (await (await fetch(`${engine.adminUrl}/api/pipelines`)).json()).find((p) => p.name === 'runs');
  assert.deepEqual(api.sources.map((s) => [s.name, s.type]), [['webhook', 'github.webhook'], ['poller', 'github.actions']]);
  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  assert.match(metrics, /^switchyard_events_received_total\{component="webhook",pipeline="runs"\} 1$/m);
  assert.match(metrics, /^switchyard_events_received_total\{component="poller",pipeline="runs"\} 1$/m);

  // A third source by hot reload: the new version serves both routes; the old one drained.
  writeFileSync(file, pipeline('  - {name: manual, type: http, path: /runs/manual}\n').replace('OUT', out));
  await reload();
  res = await fetch(`${engine.url}/runs/manual`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ workflow_run: { id: 7003 } }) });
  assert.equal(res.status, 202, await res.text());
  const again = JSON.stringify({ ...webhookRun, workflow_run: { ...webhookRun.workflow_run, id: 7004 } });
  res = await fetch(`${engine.url}/github/runs`, {
    method: 'POST', body: again,
    headers: { ...JSON_TYPE, 'x-github-event': 'workflow_run', 'x-github-delivery': 'sources-2', 'x-hub-signature-256': sign(SECRET, again) },
  });
  assert.equal(res.status, 202, await res.text());
  await waitUntil(() => [7003, 7004].every((id) => ids().includes(id)), 10000, `the runs after the reload: ${ids()}`);
  assert.equal(ids().filter((id) => id === 7001).length, 1, 'nothing delivered twice across the reload');

  // Two sources on one path are refused, naming both.
  writeFileSync(file, pipeline('  - {name: clash, type: http, path: /github/runs}\n').replace('OUT', out));
  res = await fetch(`${engine.adminUrl}/api/reload`, { method: 'POST', headers: JSON_TYPE, body: '{}' });
  const text = await res.text();
  assert.match(text, /sources\[2\]\.path: path \/github\/runs is already served by sources\[0\]\.path of this pipeline/);
});
