// `make run` installs only what building and running need: not the servers, browser,
// fuzzing toolchain and Node that only the tests use (`make test` installs those), and it
// configures without the tests, whose packages it did not install. Read from the Makefile's
// own commands (`make -n`, which runs nothing) and scripts/install-deps.sh --print.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SOURCE_DIR } from './lib/engine.mjs';

// The commands `make TARGET` would run, one a line.
function commands(target) {
  const r = spawnSync('make', ['-n', '--no-print-directory', target], { cwd: SOURCE_DIR, encoding: 'utf8' });
  assert.equal(r.status, 0, `make -n ${target}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

// The packages the install-deps.sh line among `lines` would install.
function packages(lines) {
  const install = lines.filter((l) => /scripts\/install-deps\.sh/.test(l));
  assert.equal(install.length, 1, `one install-deps.sh call:\n${lines.join('\n')}`);
  const args = install[0].replace(/^.*scripts\/install-deps\.sh/, '').trim().split(/\s+/).filter(Boolean);
  const r = spawnSync('bash', [join(SOURCE_DIR, 'scripts', 'install-deps.sh'), ...args, '--print'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

const testOnly = ['chromium', 'prometheus', 'postgresql', 'clang', 'libclang-rt-14-dev', 'nats-server',
  'python3-aiosmtpd', 'libgtest-dev', 'libgmock-dev', 'libbenchmark-dev', 'nodejs', 'npm'];

test('make run installs what building and running need, and none of the test-only packages', () => {
  const run = commands('run');
  const installed = packages(run);
  for (const p of ['build-essential', 'cmake', 'ninja-build', 'libboost1.81-dev', 'libssl-dev', 'libpq-dev']) {
    assert.ok(installed.includes(p), `make run installs ${p}`);
  }
  for (const p of testOnly) assert.ok(!installed.includes(p), `make run does not install ${p} (tests only)`);
  const configure = run.find((l) => /cmake -S/.test(l));
  assert.match(configure, /-DSWITCHYARD_TESTS=OFF/, 'configured without the tests (GTest is not installed)');
  assert.match(configure, /-DSWITCHYARD_BENCH=OFF/, 'configured without the benchmarks');
  assert.match(run.at(-1), /bin\/switchyard run -c config\/switchyard\.yaml$/, 'then runs the engine');
});

test('make test installs the test servers and browser too, and configures with the tests', () => {
  const lines = commands('test');
  const installed = packages(lines);
  for (const p of ['chromium', 'prometheus', 'postgresql', 'nats-server', 'libgtest-dev']) {
    assert.ok(installed.includes(p), `make test installs ${p}`);
  }
  assert.match(lines.find((l) => /cmake -S/.test(l)), /-DSWITCHYARD_TESTS=ON/);
});
