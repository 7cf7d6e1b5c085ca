// contrib/systemd/switchyard.service as `cmake --install` writes it: the hardening the issue
// asks for, a unit systemd-analyze accepts (when this machine has it), and the engine's
// configuration and state directory as the unit hands them over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './lib/engine.mjs';
import { installTree, runInstalled, startInstalled } from './lib/install.mjs';

let tree;
let unitFile;
let unit;
before(() => {
  tree = installTree();
  unitFile = join(tree.prefix, 'lib', 'systemd', 'system', 'switchyard.service');
  unit = readFileSync(unitFile, 'utf8');
});
after(() => tree?.remove());

// Values of `key` in the unit, in order (systemd allows a key several times).
const values = (key) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

test('the unit runs the installed binary with the installed configuration, hardened, reloading on SIGHUP', () => {
  assert.deepEqual(values('ExecStart'), [`${tree.prefix}/bin/switchyard run -c ${tree.prefix}/etc/switchyard/switchyard.yaml`]);
  assert.deepEqual(values('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  for (const [key, value] of [['DynamicUser', 'yes'], ['StateDirectory', 'switchyard'], ['ProtectSystem', 'strict'],
    ['NoNewPrivileges', 'yes'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['CapabilityBoundingSet', ''],
    ['KillSignal', 'SIGTERM']]) {
    assert.deepEqual(values(key), [value], `${key}=${value}`);
  }
  // The journal goes where systemd made the state directory (the installed configuration
  // reads SWITCHYARD_STATE_DIR), and stopping waits longer than the engine drains.
  assert.ok(values('Environment').includes('SWITCHYARD_STATE_DIR=%S/switchyard'));
  const config = readFileSync(join(tree.prefix, 'etc', 'switchyard', 'switchyard.yaml'), 'utf8');
  assert.match(config, /^\s+dir: \$\{SWITCHYARD_STATE_DIR:-[^}]+\}$/m);
  const drain = Number(/shutdown_timeout: (\d+)s/.exec(config)[1]);
  assert.ok(Number(/^(\d+)s$/.exec(values('TimeoutStopSec')[0])[1]) > drain, 'TimeoutStopSec exceeds runtime.shutdown_timeout');
});

test('systemd-analyze verify accepts the installed unit', { skip: !hasSystemdAnalyze && 'systemd-analyze is not installed here' }, () => {
  const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout + r.stderr).trim(), '', 'no warnings (unknown keys, a missing binary)');
});

test('systemd-analyze security rates the unit OK (exposure at most 2.0)', { skip: !hasSystemdAnalyze && 'systemd-analyze is not installed here' }, (t) => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitFile], { encoding: 'utf8' });
  const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(r.stdout);
  assert.ok(m, `systemd-analyze security printed an exposure level:\n${r.stdout}${r.stderr}`);
  t.diagnostic(`exposure ${m[1]} ${m[2]}`);
  assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}; what is left:\n${r.stdout.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
});

// No systemd runs here, so the part of the confinement that decides whether the engine can
// work is rebuilt by hand: a private mount namespace whose root is read-only but for the
// state directory (ProtectSystem=strict + StateDirectory=), an unprivileged user from the
// DynamicUser range with no capabilities and no_new_privs, umask 077. Needs root.
const canConfine = process.getuid?.() === 0 && spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;

test('the engine works confined as the unit confines it', { skip: !canConfine && 'needs root and unshare -m' }, async () => {
  const uid = 61234;
  const work = tempDir('switchyard-confined-');
  chmodSync(work, 0o755);
  chmodSync(tree.prefix, 0o755);
  const state = join(work, 'state');
  mkdirSync(state, { mode: 0o700 });
  chownSync(state, uid, uid);
  const env = { SWITCHYARD_HTTP_LISTEN: '127.0.0.1:0', SWITCHYARD_ADMIN_LISTEN: '127.0.0.1:0', SWITCHYARD_STATE_DIR: state,
    SWITCHYARD_ADMIN_TOKEN: undefined, GITHUB_WEBHOOK_SECRET: undefined };
  const [exec, ...execArgs] = values('ExecStart')[0].split(' ');
  const script = 'mount -o remount,bind,ro / && mount --bind "$1" "$1" && mount -o remount,bind,rw "$1" && shift && ' +
    `exec setpriv --reuid=${uid} --regid=${uid} --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all ` +
    'sh -c \'umask 077 && exec "$@"\' engine "$@"';
  const engine = await startInstalled(tree.prefix, {
    command: 'unshare', args: ['-m', '--propagation', 'private', 'sh', '-c', script, 'confine', state, exec, ...execArgs],
    cwd: work, env });
  try {
    const fixture = join(tree.prefix, 'share', 'switchyard', 'pipelines', 'tests', 'fixtures', 'push.json');
    const sent = runInstalled(tree.prefix, ['send', 'github', 'push', fixture, '--secret', 'switchyard-dev-secret',
      '--url', `${engine.url}/github/webhook`], { cwd: work, env });
    assert.match(sent.stdout, /^HTTP 202/, sent.stdout + sent.stderr);
    await engine.waitFor((e) => e.events().some((ev) => ev.type === 'github.push'), 10000, 'the push on stdout');
    const journal = statSync(join(state, 'journal.db'));
    assert.equal(journal.uid, uid, 'the journal belongs to the service user');
    assert.equal(journal.mode & 0o077, 0, 'UMask=0077: nobody else reads the journal');
  } finally {
    assert.equal(await engine.stop(), 0, `SIGTERM stops it cleanly:\n${engine.stderr}`);
    rmSync(work, { recursive: true, force: true });
  }
});
