// Two sources, one set of transforms and sinks, one alert per build and channel
// (docs/plugins/core.md, "Several sources"): the GitHub webhook and the github.actions
// poller each forward what they take to an internal `http` source (durable on both sides:
// a hop answers 202 once the next pipeline has journaled the event), where one dedup in
// front of two channels lets each failed run through once, whichever path brought it first.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startReceiver } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const SECRET = 'funnel-webhook-secret';
const TOKEN = 'funnel-internal-token';

// The pipelines of the docs' example, with the test's addresses.
const alerts = (slackUrl, pagerUrl) => `name: ci-alerts
source:
  type: http
  path: /internal/ci-runs
  auth: token
  secret: \${INTERNAL_TOKEN}
  id_header: Idempotency-Key          # the forwarded event keeps its id
  event_type: github.workflow_run
transforms:
  - type: filter
    if: \${{ payload.action == 'completed' && payload.workflow_run.conclusion == 'failure' }}
  - type: dedup
    key: \${{ payload.repository.full_name }}/\${{ payload.workflow_run.id }}
    window: 7d
sinks:
  - name: slack
    type: slack.webhook
    url: ${slackUrl}
    text: "Build failed: \${{ payload.workflow_run.name }} #\${{ payload.workflow_run.run_number }} on \${{ payload.repository.full_name }}"
  - name: pager
    type: http
    url: ${pagerUrl}
    body: {run: "\${{ payload.workflow_run.id }}", repository: "\${{ payload.repository.full_name }}"}
`;

const forward = (engineUrl) => `  - name: forward
    type: http
    url: ${engineUrl}/internal/ci-runs
    format: data                        # the payload as GitHub sent it; Idempotency-Key: the event id
    headers: {Authorization: "Bearer \${INTERNAL_TOKEN}"}
    retry: {max_attempts: 20, initial: 500ms, max: 30s}
`;

const webhook = (engineUrl) => `name: runs-webhook
source:
  type: github.webhook
  path: /github/ci
  secret: \${GITHUB_WEBHOOK_SECRET}
  events: [workflow_run]
  actions: [completed]
sinks:
${forward(engineUrl)}`;

const poller = (engineUrl, apiUrl) => `name: runs-poller
source:
  type: github.actions
  repositories: [octo-org/switchyard]
  base_url: ${apiUrl}
  interval: 1s
  jitter: 0s
sinks:
${forward(engineUrl)}`;

test('a failed run seen by the webhook and by the poller alerts each channel once', async () => {
  const fixture = JSON.parse(readFileSync(join(SOURCE_DIR, 'pipelines/tests/fixtures/workflow_run.completed.json'), 'utf8'));
  const recent = (seconds) => new Date(Date.now() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const asPolled = (run) => ({ ...run, created_at: recent(300), updated_at: recent(60) });
  let runs = [];  // what the fake GitHub API lists; empty until the webhook has been through
  const api = createServer((req, res) => {
    if (new URL(req.url, 'http://x').pathname !== '/repos/octo-org/switchyard/actions/runs') {
      res.writeHead(404); return res.end('{"message":"Not Found"}');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ total_count: runs.length, workflow_runs: runs }));
  });
  const apiPort = await new Promise((r) => api.listen(0, '127.0.0.1', () => r(api.address().port)));
  cleanups.push(() => new Promise((r) => { api.closeAllConnections(); api.close(r); }));
  const slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
  const pager = await startReceiver(() => ({ status: 204 }));
  cleanups.push(() => slack.close(), () => pager.close());

  const engine = await startEngine({
    pipelines: { 'ci-alerts': alerts(`${slack.url}/services/T1/B1/x`, `${pager.url}/page`) },
    config: 'env: {allow: [INTERNAL_TOKEN, GITHUB_WEBHOOK_SECRET]}\n',
    env: { INTERNAL_TOKEN: TOKEN, GITHUB_WEBHOOK_SECRET: SECRET },
    watch: true,
  });
  cleanups.push(() => engine.stop());
  // The forwarders need the engine's own address, known once it listens: added while it runs.
  writeFileSync(join(engine.dir, 'pipelines', 'runs-webhook.yaml'), webhook(engine.url));
  writeFileSync(join(engine.dir, 'pipelines', 'runs-poller.yaml'), poller(engine.url, `http://127.0.0.1:${apiPort}`));
  for (const name of ['runs-webhook', 'runs-poller']) {
    await engine.waitFor((e) => new RegExp(`pipeline ${name} started`).test(e.stderr), 15000, `pipeline ${name}`);
  }
  const stats = async () => {
    const body = await (await fetch(`${engine.adminUrl}/api/pipelines`)).json();
    const list = Array.isArray(body) ? body : body.pipelines;
    return list.find((p) => p.name === 'ci-alerts');
  };

  const deliver = async (payload) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${engine.url}/github/ci`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run', 'x-github-delivery': randomUUID(),
        'x-hub-signature-256': sign(SECRET, body) },
    });
    assert.equal(res.status, 202, await res.text());
  };

  // The webhook first; then the poller lists the same run.
  await deliver(fixture);
  await engine.waitFor(() => slack.requests.length === 1 && pager.requests.length === 1, 10000, 'the first alerts');
  runs = [asPolled(fixture.workflow_run)];
  let s;
  for (const deadline = Date.now() + 10000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    s = await stats();
    if (s.received === 2 && s.dropped === 1) break;
  }
  assert.equal(s.received, 2, 'the poller forwarded the run too');
  assert.equal(s.dropped, 1, 'and the dedup let it through only once');
  assert.equal(slack.requests.length, 1);
  assert.equal(pager.requests.length, 1);
  assert.match(slack.requests[0].body.text, /^Build failed: CI #\d+ on octo-org\/switchyard$/);
  assert.deepEqual(pager.requests[0].body, { run: fixture.workflow_run.id, repository: 'octo-org/switchyard' });

  // Another failed run, seen by the poller first: one more alert per channel; GitHub's
  // webhook for it, later, adds none.
  const second = { ...fixture.workflow_run, id: fixture.workflow_run.id + 1, run_number: fixture.workflow_run.run_number + 1 };
  runs = [asPolled(second), asPolled(fixture.workflow_run)];
  await engine.waitFor(() => slack.requests.length === 2 && pager.requests.length === 2, 10000, 'the second alerts');
  await deliver({ ...fixture, workflow_run: second });
  for (const deadline = Date.now() + 10000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    s = await stats();
    if (s.received === 4 && s.dropped === 2) break;
  }
  assert.equal(s.received, 4);
  assert.equal(s.dropped, 2);
  assert.equal(slack.requests.length, 2);
  assert.equal(pager.requests.length, 2);
  assert.equal(pager.requests[1].body.run, second.id);
});
