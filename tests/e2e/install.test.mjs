// `cmake --install` into a temp prefix lays out a tree that runs as it is: the installed
// binary, started with no -c from an unrelated directory, finds its configuration in
// etc/switchyard/, its plugins in lib/switchyard/plugins/ and the shipped pipelines in
// share/switchyard/pipelines/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from './lib/engine.mjs';
import { installTree, runInstalled, startInstalled, loopbackEnv } from './lib/install.mjs';

let tree;
let work;
before(() => {
  tree = installTree();
  work = tempDir('switchyard-install-cwd-');
});
after(() => {
  tree?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

// The shipped pipelines read the development secret when GITHUB_WEBHOOK_SECRET is unset;
// no admin token unless a test sets one.
const devEnv = (extra = {}) => ({ GITHUB_WEBHOOK_SECRET: undefined, SWITCHYARD_ADMIN_TOKEN: undefined, ...loopbackEnv(join(work, 'state')), ...extra });

test('cmake --install lays out bin/, the plugins, the pipelines and a configuration naming them', () => {
  const p = tree.prefix;
  assert.ok(statSync(join(p, 'bin', 'switchyard')).mode & 0o111, 'bin/switchyard is executable');
  const plugins = readdirSync(join(p, 'lib', 'switchyard', 'plugins'));
  for (const family of ['core', 'github', 'discord', 'slack', 'http', 'postgres', 'smtp']) {
    assert.ok(plugins.includes(`libswitchyard-${family}.so`), `lib/switchyard/plugins has ${family}: ${plugins}`);
  }
  assert.ok(!plugins.some((f) => /stamp|example|fixture|wrong/.test(f)), `no example or test plugins installed: ${plugins}`);
  for (const f of ['github-to-stdout.yaml', 'ci-failures.yaml', 'tests/ci-failures.yaml', 'tests/fixtures/push.json']) {
    assert.ok(existsSync(join(p, 'share', 'switchyard', 'pipelines', f)), `share/switchyard/pipelines/${f}`);
  }
  const config = readFileSync(join(p, 'etc', 'switchyard', 'switchyard.yaml'), 'utf8');
  assert.ok(config.includes(`${p}/share/switchyard/pipelines`), 'the configuration names the installed pipelines');
  assert.doesNotMatch(config, /\/usr\/local\//, 'no path of the default prefix is left');
  const unit = readFileSync(join(p, 'lib', 'systemd', 'system', 'switchyard.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${p}/bin/switchyard run -c ${p}/etc/switchyard/switchyard.yaml$`, 'm'));
});

// A distribution's package installs with the prefix /usr: the configuration then goes to
// /etc/switchyard (where the engine looks when its binary is /usr/bin/switchyard), and the
// systemd unit names it there.
test('cmake --install with the prefix /usr puts the configuration in /etc/switchyard', () => {
  const root = mkdtempSync(join(tmpdir(), 'switchyard-destdir-'));
  try {
    const r = spawnSync('cmake', ['--install', process.env.SWITCHYARD_BUILD_DIR, '--prefix', '/usr'], {
      encoding: 'utf8', timeout: 120000, env: { ...process.env, DESTDIR: root },
    });
    assert.equal(r.status, 0, `cmake --install:\n${r.stdout}${r.stderr}`);
    assert.ok(existsSync(join(root, 'usr', 'bin', 'switchyard')), 'usr/bin/switchyard');
    assert.ok(!existsSync(join(root, 'usr', 'etc')), 'nothing under usr/etc');
    const config = readFileSync(join(root, 'etc', 'switchyard', 'switchyard.yaml'), 'utf8');
    assert.ok(config.includes('/usr/share/switchyard/pipelines'), 'the configuration names the installed pipelines');
    assert.doesNotMatch(config, /\/usr\/local\//, 'no path of the default prefix is left');
    const unit = readFileSync(join(root, 'usr', 'lib', 'systemd', 'system', 'switchyard.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/bin\/switchyard run -c \/etc\/switchyard\/switchyard\.yaml$/m);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the installed engine starts from its own tree, answers /healthz and a shipped pipeline, and stops on SIGTERM', async () => {
  const engine = await startInstalled(tree.prefix, { cwd: work, env: devEnv() });
  try {
    assert.match(engine.stderr, new RegExp(`config ${tree.prefix}/etc/switchyard/switchyard\\.yaml`));
    const libraries = readdirSync(join(tree.prefix, 'lib', 'switchyard', 'plugins')).length;
    assert.match(engine.stderr, new RegExp(`switchyard starting: ${libraries} plugin libraries, 2 pipeline\\(s\\)`));

    const health = await fetch(`${engine.adminUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await (await fetch(`${engine.adminUrl}/readyz`)).json();
    assert.equal(ready.pipelines, 2);

    // The README's first step, with the installed binary and the installed fixture.
    const fixture = join(tree.prefix, 'share', 'switchyard', 'pipelines', 'tests', 'fixtures', 'push.json');
    const sent = runInstalled(tree.prefix, ['send', 'github', 'push', fixture, '--secret', 'switchyard-dev-secret',
      '--url', `${engine.url}/github/webhook`], { cwd: work, env: devEnv() });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /^HTTP 202/);
    await engine.waitFor((e) => e.events().some((ev) => ev.type === 'github.push'), 10000, 'the push on stdout');
    const push = engine.events().find((ev) => ev.type === 'github.push');
    assert.equal(push.pipeline, 'github-to-stdout');
    assert.equal(push.subject, 'main');
    assert.ok(existsSync(join(work, 'state', 'journal.db')), 'the journal is in SWITCHYARD_STATE_DIR');

    const probe = runInstalled(tree.prefix, ['health', '--url', `${engine.adminUrl}/healthz`], { cwd: work, env: devEnv() });
    assert.equal(probe.code, 0, probe.stderr);
    assert.match(probe.stdout, /HTTP 200/);
  } finally {
    assert.equal(await engine.stop(), 0, `exit status after SIGTERM; log:\n${engine.stderr}`);
  }
  assert.match(engine.stderr, /received SIGTERM, shutting down[\s\S]*stopped/);
});

test('validate and test of the installed tree pass on the shipped pipelines, with no -c', () => {
  for (const args of [['validate'], ['test']]) {
    const r = runInstalled(tree.prefix, args, { cwd: work, env: devEnv() });
    assert.equal(r.code, 0, `switchyard ${args[0]}:\n${r.stdout}${r.stderr}`);
  }
  const t = runInstalled(tree.prefix, ['test'], { cwd: work, env: devEnv() });
  assert.match(t.stdout + t.stderr, /[1-9]\d* passed, 0 failed/);
});

test('switchyard health sends admin.token and fails on a wrong one or a stopped engine', async () => {
  const token = 'admin-token-for-the-health-test';
  const engine = await startInstalled(tree.prefix, { cwd: work, env: devEnv({ SWITCHYARD_ADMIN_TOKEN: token }) });
  const url = `${engine.adminUrl}/readyz`;
  try {
    const ok = runInstalled(tree.prefix, ['health', '--ready', '--url', url], { cwd: work, env: devEnv({ SWITCHYARD_ADMIN_TOKEN: token }) });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /HTTP 200 .*"status":"ready"/);
    const wrong = runInstalled(tree.prefix, ['health', '--url', url], { cwd: work, env: devEnv({ SWITCHYARD_ADMIN_TOKEN: 'wrong' }) });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /unhealthy: HTTP 401/);
  } finally {
    await engine.stop();
  }
  const down = runInstalled(tree.prefix, ['health', '--url', url], { cwd: work, env: devEnv({ SWITCHYARD_ADMIN_TOKEN: token }) });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /unhealthy: GET .*: .*(refused|connect)/i);
});
