// The CI dashboard (use case ci-pipeline-dashboard-flows.md) as shipped configuration,
// end to end: pipelines/ci-dashboard/{builds,builds-poller,alerts}.yaml as they are (the
// poller's jitter set to 0 so its first poll comes at once), the variables of the shipped
// config/switchyard.yaml's env.allow, a real PostgreSQL server, a real SMTP server
// (aiosmtpd, STARTTLS with a CA made here, AUTH), and local fakes for Slack and GitHub's
// Actions API. Inputs: GitHub's published workflow_run examples (@octokit/webhooks-examples),
// and runs derived from them with recent times.
// - every example and derived run → one row per run in `builds`, with the use case's mapping;
// - the poller's runs land in the same table; a run both saw is one row;
// - a failed run on the default branch, delivered twice, is one Slack message and one
//   e-mail; a successful run alerts nobody;
// - pipelines/ci-dashboard/metrics-summary.sql gives the dashboard's figures over it;
// - the live feed (live.yaml) in Debian's Chromium with pipelines/omnilens/dashboard.html, as
//   docs/getting-started.md shows it: a page on the allowed origin shows each run's state as
//   it comes, a page opened later gets it by replay, another origin is refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { startEngine, tempDir, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { connect } from './lib/live_client.mjs';
import { makeCerts } from './lib/certs.mjs';
import { startSmtpServer, header } from './lib/smtp.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const shipped = (path) => readFileSync(join(SOURCE_DIR, 'pipelines/ci-dashboard', path), 'utf8');
const SECRET = 'ci-dashboard-e2e-secret';
const AUTH = { user: 'ci-user', password: 'app-password-1234' };

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const iso = (msAgo) => new Date(Date.now() - msAgo).toISOString().replace(/\.\d{3}Z$/, 'Z');

// A run of GitHub's completed example, `minutesAgo` started, lasting `seconds` (null: still running).
function derivedRun(base, id, conclusion, { seconds, minutesAgo = 30, branch } = {}) {
  const p = structuredClone(base);
  const wr = p.workflow_run;
  wr.id = id;
  wr.run_number = id % 1000;
  wr.html_url = `https://github.com/${p.repository.full_name}/actions/runs/${id}`;
  wr.head_branch = branch ?? p.repository.default_branch;
  wr.status = conclusion ? 'completed' : 'in_progress';
  p.action = conclusion ? 'completed' : 'in_progress';
  wr.conclusion = conclusion;
  wr.run_started_at = iso(minutesAgo * 60000);
  wr.updated_at = iso(minutesAgo * 60000 - (seconds ?? 5) * 1000);
  return p;
}

test('workflow runs from the webhook and the poller → builds, alerts once per build and channel, the metrics summary', async () => {
  const dir = tempDir('switchyard-ci-dashboard-');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCerts(dir, { mail: 'IP:127.0.0.1,DNS:localhost' });
  const pg = await startPostgres();
  cleanups.push(() => pg.close());
  const smtp = await startSmtpServer(dir, { tls: 'starttls', cert: certs.file('mail', 'pem'), key: certs.file('mail', 'key'), auth: AUTH });
  cleanups.push(() => smtp.stop());
  const slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
  cleanups.push(() => slack.close());

  // GitHub's completed example, as the base of the runs made here.
  const runs = examples.find((g) => g.name === 'workflow_run').examples;
  const base = runs.find((p) => p.workflow_run.conclusion === 'success');
  const repo = base.repository.full_name;
  const viaWebhook = [
    derivedRun(base, 5001, 'success', { seconds: 120, minutesAgo: 50 }),
    derivedRun(base, 5002, 'success', { seconds: 240, minutesAgo: 40 }),
    derivedRun(base, 5003, 'failure', { seconds: 300 }),
    derivedRun(base, 5004, null, { minutesAgo: 10 }),
  ];
  // The Actions API's runs: one the webhook also delivered (5003), one only polled.
  const apiRun = (p) => ({ ...p.workflow_run, triggering_actor: p.sender });
  const polledOnly = derivedRun(base, 5005, 'success', { seconds: 60, minutesAgo: 20 });
  polledOnly.sender = { ...base.sender, login: 'poller-only-user' };
  const github = await startReceiver(({ url }) => (url.startsWith(`/repos/${repo}/actions/runs`)
    ? { status: 200, headers: { 'content-type': 'application/json', etag: '"v1"', 'x-ratelimit-remaining': '4999' },
      body: JSON.stringify({ total_count: 2, workflow_runs: [apiRun(polledOnly), apiRun(viaWebhook[2])] }) }
    : url === `/repos/${repo}` // the poller reads the repository once: its default branch
      ? { status: 200, headers: { 'content-type': 'application/json' },
        body: JSON.stringify(base.repository) }
      : { status: 404, body: '{"message":"Not Found"}' }));
  cleanups.push(() => github.close());

  const poller = shipped('builds-poller.yaml');
  assert.match(poller, /^ {2}interval: 60s\n {2}jitter: 10s$/m, 'the use case\'s 60 s interval and 10 s jitter');
  const engine = await startEngine({
    pipelines: {
      builds: shipped('builds.yaml'),
      poller: poller.replace('jitter: 10s', 'jitter: 0s'),
      alerts: shipped('alerts.yaml'),
    },
    // What the shipped config/switchyard.yaml allows these pipelines to read.
    config: readFileSync(join(SOURCE_DIR, 'config/switchyard.yaml'), 'utf8').match(/^env:\n(?:[ #].*\n)*/m)[0],
    env: {
      DATABASE_URL: pg.url, GITHUB_WEBHOOK_SECRET: SECRET,
      GITHUB_REPOSITORY: repo, GITHUB_TOKEN: 'ghp_e2e_token', GITHUB_API_URL: github.url,
      SLACK_WEBHOOK_URL: `${slack.url}/services/T1/B1/x`,
      SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), SMTP_USERNAME: AUTH.user, SMTP_PASSWORD: AUTH.password,
      SMTP_CA_FILE: certs.ca, ALERT_FROM: 'CI <ci@example.com>', ALERT_TO: 'ops@example.com, lead@example.com',
    },
  });
  cleanups.push(() => engine.stop());

  let delivery = 0;
  const post = async (path, payload) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${engine.url}${path}`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run',
        'x-github-delivery': `e2e-${++delivery}`, 'x-hub-signature-256': sign(SECRET, body) },
    });
    assert.equal(res.status, 202, await res.text());
  };
  for (const p of [...runs, ...viaWebhook]) await post('/github/builds', p);
  // The repository's second webhook, for alerts: the failure twice (GitHub redelivers under
  // a new delivery id), and a success.
  await post('/github/alerts', viaWebhook[2]);
  await post('/github/alerts', viaWebhook[2]);
  await post('/github/alerts', viaWebhook[0]);

  const expected = new Set([...runs.map((p) => p.workflow_run.id), 5001, 5002, 5003, 5004, 5005]);
  await waitUntil(async () => Number(await pg.scalar('SELECT count(*) FROM builds')) === expected.size
    && Number(await pg.scalar('SELECT count(*) FROM builds WHERE external_id = 5005')) === 1, 20000, 'every run stored');
  const rows = await pg.rows('SELECT * FROM builds');
  assert.deepEqual(new Set(rows.map((r) => Number(r.external_id))), expected, 'one row per run, whoever saw it');
  const row = (id) => rows.find((r) => Number(r.external_id) === id);
  // The use case's mapping (section 3).
  for (const p of viaWebhook) {
    const r = row(p.workflow_run.id);
    const wr = p.workflow_run;
    assert.equal(r.status, { success: 'success', failure: 'failed', null: 'running' }[wr.conclusion]);
    assert.equal(r.branch, wr.head_branch);
    assert.equal(r.commit_sha, wr.head_sha);
    assert.equal(r.triggered_by, p.sender.login);
    assert.equal(r.url, wr.html_url);
    assert.equal(Date.parse(r.started_at), Date.parse(wr.run_started_at));
    assert.equal(r.finished_at === null, wr.conclusion === null);
    assert.equal(r.provider_id, 1);
    assert.equal(r.raw_payload.workflow_run.id, wr.id);
  }
  assert.equal(row(5003).duration_seconds, 300);
  assert.equal(row(5005).triggered_by, 'poller-only-user', 'the poller maps the run\'s triggering actor to triggered_by');
  assert.equal(row(5005).duration_seconds, 60);
  assert.equal(row(5005).repository, repo);
  assert.ok(github.requests.every((r) => r.headers.authorization === 'Bearer ghp_e2e_token'));

  // Alerts: once per build and channel.
  await smtp.waitFor((s) => s.messages().length === 1, 15000, 'the e-mail', engine);
  await engine.waitFor(() => slack.requests.length === 1, 15000, 'the Slack message');
  await waitUntil(async () => {
    const body = await (await fetch(`${engine.adminUrl}/api/pipelines`)).json();
    return (Array.isArray(body) ? body : body.pipelines).find((p) => p.name === 'ci-dashboard-alerts').dropped === 2;
  }, 10000, 'the redelivery and the success dropped');
  assert.equal(smtp.messages().length, 1, 'one e-mail');
  assert.equal(slack.requests.length, 1, 'one Slack message');
  const [mail] = smtp.messages();
  assert.deepEqual(mail.rcpt_tos, ['ops@example.com', 'lead@example.com']);
  assert.equal(header(mail, 'X-GitHub-Run-Id'), '5003');
  assert.match(header(mail, 'Subject'), new RegExp(`^\\[${repo}\\] .* failed on ${base.repository.default_branch}: `));
  assert.match(slack.requests[0].body.text, new RegExp(`^Build failed: <https://github.com/${repo}/actions/runs/5003\\|`));

  // The dashboard's metrics summary, as shipped: the last 7 days (GitHub's examples are
  // older), per status.
  const sql = shipped('metrics-summary.sql').replace(/^--.*\n/gm, '').replace(/;\s*$/, '');
  const summary = await pg.rows(sql);
  assert.deepEqual(summary.map((s) => [s.status, s.builds, Number(s.avg_duration_seconds ?? NaN), Number(s.percent)]), [
    ['failed', 1, 300, 20],
    ['running', 1, NaN, 20],
    ['success', 3, 140, 60],
  ]);
  const recent = await pg.rows(shipped('recent-builds.sql').replace(/^--.*\n/gm, '').replace(/;\s*$/, ''));
  assert.equal(recent.length, expected.size);
  assert.deepEqual(recent.slice(0, 5).map((r) => Number(r.external_id)), [5004, 5005, 5003, 5002, 5001], 'newest first');
});

test('the live feed: a run\'s states on the repository\'s page as they come, replayed to a page opened later', async () => {
  const CHROMIUM = process.env.SWITCHYARD_CHROMIUM || '/usr/bin/chromium';
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-deps.sh installs Debian's chromium`);
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  cleanups.push(() => browser.close());
  // The page, served from its own origin as getting-started.md does with python3 -m http.server.
  const server = createServer((req, res) => {
    if (!req.url.startsWith('/dashboard.html')) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(readFileSync(join(SOURCE_DIR, 'pipelines/omnilens/dashboard.html')));
  });
  const port = await new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const origin = `http://127.0.0.1:${port}`;

  const engine = await startEngine({
    pipelines: { live: shipped('live.yaml') },
    config: readFileSync(join(SOURCE_DIR, 'config/switchyard.yaml'), 'utf8').match(/^env:\n(?:[ #].*\n)*/m)[0],
    env: { GITHUB_WEBHOOK_SECRET: SECRET, CI_DASHBOARD_ORIGIN: origin },
  });
  cleanups.push(() => engine.stop());
  await engine.waitFor((e) => /pipeline ci-dashboard-live started/.test(e.stderr), 10000, 'the pipeline');

  const base = examples.find((g) => g.name === 'workflow_run').examples.find((p) => p.workflow_run.conclusion === 'success');
  const repo = base.repository.full_name;
  const url = `${origin}/dashboard.html?room=${encodeURIComponent(repo)}&ws=${encodeURIComponent(`${engine.url.replace('http', 'ws')}/ci/live`)}`;
  const open = async () => {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('#status[data-state="live"]', { timeout: 10000 });
    return page;
  };
  const rows = (page) => page.locator('#events li[data-seq]').allTextContents();
  const page = await open();

  let delivery = 0;
  const post = async (payload) => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${engine.url}/github/live`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run',
        'x-github-delivery': `live-${++delivery}`, 'x-hub-signature-256': sign(SECRET, body) },
    });
    assert.equal(res.status, 202, await res.text());
  };
  await post(derivedRun(base, 6001, null));
  await page.waitForFunction(() => document.querySelectorAll('#events li[data-seq]').length === 1, null, { timeout: 10000 });
  await post(derivedRun(base, 6001, 'failure', { seconds: 90 }));
  await page.waitForFunction(() => document.querySelectorAll('#events li[data-seq]').length === 2, null, { timeout: 10000 });
  const shown = await rows(page);
  assert.match(shown[0], new RegExp(`${base.workflow_run.name} #1 on ${base.repository.default_branch}`));
  assert.match(shown[0], /failure/, 'the newest state first');
  assert.match(shown[1], /in_progress/);
  assert.equal(await page.locator('#events a').first().getAttribute('href'), `https://github.com/${repo}/actions/runs/6001`);

  // A page opened now gets both states by replay.
  const later = await open();
  await later.waitForFunction(() => document.querySelectorAll('#events li[data-seq]').length === 2, null, { timeout: 10000 });
  assert.deepEqual(await rows(later), shown);

  // Another origin is refused at the upgrade.
  await assert.rejects(connect(`${engine.url.replace('http', 'ws')}/ci/live`, { origin: 'https://evil.example.com' }),
    (e) => e.status === 403);
});
