// The pipelines shipped in pipelines/ (what `make run` starts), unchanged, in one engine;
// payloads posted with `switchyard send github` as the README tells users to.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, runSwitchyard, SOURCE_DIR } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const shipped = join(SOURCE_DIR, 'pipelines');
const fixtures = join(shipped, 'tests', 'fixtures');

async function send(engine, event, fixture, path) {
  const r = await runSwitchyard(['send', 'github', event, join(fixtures, fixture),
    '--secret', 'switchyard-dev-secret', '--url', `${engine.url}${path}`]);
  assert.equal(r.code, 0, `switchyard send exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

test('the shipped pipelines take signed GitHub webhooks sent with switchyard send', async () => {
  const pipelines = {};
  for (const file of readdirSync(shipped).filter((f) => f.endsWith('.yaml'))) {
    pipelines[file.replace(/\.yaml$/, '')] = readFileSync(join(shipped, file), 'utf8');
  }
  assert.ok(pipelines['github-to-stdout'] && pipelines['ci-failures'], 'both examples are shipped');
  // The pipelines' own default secret, as a user without GITHUB_WEBHOOK_SECRET has it.
  const env = { GITHUB_WEBHOOK_SECRET: '' };
  const engine = await startEngine({ pipelines, env, config: 'env: {allow: [GITHUB_WEBHOOK_SECRET]}\n' });
  cleanups.push(() => engine.stop());

  // make run's default: every GitHub event on /github/webhook to stdout.
  assert.match(await send(engine, 'push', 'push.json', '/github/webhook'), /^HTTP 202/);
  await engine.waitFor(() => engine.events().some((e) => e.type === 'github.push'), 10000, 'the push event');
  const push = engine.events().find((e) => e.type === 'github.push');
  assert.equal(push.pipeline, 'github-to-stdout');
  assert.match(push.source, /^https:\/\/github\.com\//);
  assert.equal(push.meta['x-github-event'], 'push');

  // ci-failures: a failed workflow run becomes one alert; a redelivery of the same run and
  // other events alert nobody.
  const failed = JSON.parse(readFileSync(join(fixtures, 'workflow_run.completed.json'), 'utf8'));
  assert.match(await send(engine, 'workflow_run', 'workflow_run.completed.json', '/github/ci'), /^HTTP 202/);
  assert.match(await send(engine, 'workflow_run', 'workflow_run.completed.json', '/github/ci'), /^HTTP 202/);
  assert.match(await send(engine, 'push', 'push.json', '/github/ci'), /^HTTP 200/, 'events: [workflow_run] ignores a push');
  await engine.waitFor(() => engine.events().some((e) => e.type === 'ci.build.failure'), 10000, 'the alert');
  await new Promise((r) => setTimeout(r, 300));
  const alerts = engine.events().filter((e) => e.pipeline === 'ci-failures');
  assert.equal(alerts.length, 1, `one alert, got ${alerts.length}`);
  assert.equal(alerts[0].subject, failed.workflow_run.head_branch);
  assert.equal(alerts[0].data.external_id, failed.workflow_run.id);
  assert.match(alerts[0].data.text, /^Build failed: /);

  // A wrong secret is refused on both paths and emits nothing.
  for (const path of ['/github/webhook', '/github/ci']) {
    const r = await runSwitchyard(['send', 'github', 'push', join(fixtures, 'push.json'),
      '--secret', 'not-the-secret', '--url', `${engine.url}${path}`]);
    assert.match(r.stdout + r.stderr, /HTTP 401/);
  }
  assert.equal(engine.events().length, 2);
});
