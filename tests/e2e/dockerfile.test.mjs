// No container engine runs here, so the Dockerfile is checked against what can be run: its
// packages against scripts/install-deps.sh, its runtime packages against the libraries the
// installed binary and plugins link, its paths, command line and health check against a
// tree installed with `cmake --install` (started as the image would start it), and its
// CMake configuration against the files .dockerignore lets into the build context.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SOURCE_DIR, tempDir } from './lib/engine.mjs';
import { installTree, runInstalled, startInstalled } from './lib/install.mjs';

// Instructions of a Dockerfile: { stage, name, args (raw text), json (exec form or null) },
// continuation lines joined, comments dropped.
function parseDockerfile(text) {
  const out = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;  // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const [, name, args] = /^(\S+)\s*(.*)$/.exec(whole);
    if (name.toUpperCase() === 'FROM') stage += 1;
    let json = null;
    const exec = /^(?:--\S+\s+)*(?:CMD\s+)?(\[.*\])$/.exec(args);
    if (exec) try { json = JSON.parse(exec[1]); } catch { json = null; }
    out.push({ stage, name: name.toUpperCase(), args, json });
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync(join(SOURCE_DIR, 'Dockerfile'), 'utf8'));
const stages = dockerfile.filter((i) => i.name === 'FROM');
const last = stages.length - 1;
const final = dockerfile.filter((i) => i.stage === last);
const one = (name) => {
  const found = final.filter((i) => i.name === name);
  assert.equal(found.length, 1, `the final stage has one ${name}`);
  return found[0];
};
const PREFIX = '/opt/switchyard';

function deps(...args) {
  const r = spawnSync('bash', [join(SOURCE_DIR, 'scripts', 'install-deps.sh'), ...args, '--print'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

let tree;
let work;
before(() => {
  tree = installTree();
  work = tempDir('switchyard-dockerfile-');
});
after(() => {
  tree?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('every stage is debian:bookworm-slim and installs its packages with scripts/install-deps.sh', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  for (const s of stages) assert.match(s.args, /^debian:bookworm-slim(\s+AS\s+\S+)?$/i);
  const runs = (stage) => dockerfile.filter((i) => i.stage === stage && i.name === 'RUN').map((i) => i.args).join('\n');
  assert.match(runs(0), /install-deps\.sh --build/, 'the build stage runs the same script as make');
  assert.match(runs(last), /install-deps\.sh --runtime/, 'the final stage installs the runtime packages only');
  // Anything installed by name must be in the script too, so that the image and `make` agree.
  const known = new Set([...deps(), ...deps('--build'), ...deps('--runtime')]);
  for (const run of dockerfile.filter((i) => i.name === 'RUN')) {
    for (const m of run.args.matchAll(/apt-get\s+install\s+([^&;|]+)/g)) {
      for (const p of m[1].split(/\s+/).filter((w) => w && !w.startsWith('-'))) {
        assert.ok(known.has(p), `the Dockerfile installs ${p}, which scripts/install-deps.sh does not list`);
      }
    }
  }
});

test('the runtime packages provide every library the installed binary and plugins link', () => {
  const runtime = new Set(deps('--runtime'));
  // Every Debian image has these (Priority: required).
  const base = new Set(['libc6', 'libgcc-s1', 'libstdc++6', 'zlib1g']);
  const pluginDir = join(tree.prefix, 'lib', 'switchyard', 'plugins');
  const files = [join(tree.prefix, 'bin', 'switchyard'), ...readdirSync(pluginDir).map((f) => join(pluginDir, f))];
  const links = [];  // { file, lib, path }
  for (const file of files) {
    const needed = [...spawnSync('objdump', ['-p', file], { encoding: 'utf8' }).stdout.matchAll(/^\s+NEEDED\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(needed.length > 0, `objdump -p ${file} lists its libraries`);
    const ldd = spawnSync('ldd', [file], { encoding: 'utf8' }).stdout;
    for (const lib of needed) {
      const quoted = lib.replace(/[.+]/g, '\\$&');
      const m = new RegExp(`^\\s*${quoted}\\s+=>\\s+(\\S+)`, 'm').exec(ldd) ?? new RegExp(`^\\s*(\\S*${quoted})\\s+\\(`, 'm').exec(ldd);
      assert.ok(m && m[1] !== 'not', `${file} needs ${lib}, which is not found on this machine`);
      links.push({ file: file.slice(tree.prefix.length + 1), lib, path: m[1] });
    }
  }
  // One dpkg -S for every path (merged /usr: the package may list either spelling).
  const paths = [...new Set(links.flatMap((l) => [l.path, l.path.replace(/^\/usr/, ''), `/usr${l.path}`]))];
  const owners = new Map();
  for (const line of spawnSync('dpkg', ['-S', ...paths], { encoding: 'utf8' }).stdout.split('\n')) {
    const m = /^([^:,\s]+)(?::\S+)?: (\S+)$/.exec(line);
    if (m) owners.set(m[2], m[1]);
  }
  for (const { file, lib, path } of links) {
    const owner = owners.get(path) ?? owners.get(path.replace(/^\/usr/, '')) ?? owners.get(`/usr${path}`);
    assert.ok(owner, `no Debian package owns ${path} (${lib})`);
    assert.ok(runtime.has(owner) || base.has(owner),
      `${file} links ${lib} from ${owner}: add ${owner} to runtime=(...) in scripts/install-deps.sh`);
  }
});

test('the final stage runs as a non-root user, keeps state.dir on a volume, exposes both listeners and stops on SIGTERM', () => {
  const user = one('USER').args.split(':')[0];
  assert.ok(!['root', '0', ''].includes(user), `USER ${user} is not root`);
  if (/^\d+$/.test(user)) {
    assert.match(final.filter((i) => i.name === 'RUN').map((i) => i.args).join('\n'), new RegExp(`useradd .*--uid ${user}\\b`),
      'the numeric user exists in the image');
  }
  const env = one('ENV').args;
  const state = /SWITCHYARD_STATE_DIR=(\S+)/.exec(env)?.[1];
  assert.ok(state, 'ENV sets SWITCHYARD_STATE_DIR');
  assert.ok(one('VOLUME').args.split(/\s+/).includes(state), `VOLUME holds ${state}`);
  assert.equal(one('STOPSIGNAL').args, 'SIGTERM');
  // The ports are those the installed configuration listens on by default. Both listeners
  // stay on loopback there (the shipped pipelines accept a development secret); the image
  // says explicitly that webhooks listen on every interface, since a published port
  // reaches nothing on the container's loopback, and the admin listener stays on loopback.
  const config = readFileSync(join(tree.prefix, 'etc', 'switchyard', 'switchyard.yaml'), 'utf8');
  const http = /^\s+listen: \$\{SWITCHYARD_HTTP_LISTEN:-127\.0\.0\.1:(\d+)\}$/m.exec(config);
  const admin = /^\s+listen: \$\{SWITCHYARD_ADMIN_LISTEN:-127\.0\.0\.1:(\d+)\}$/m.exec(config);
  assert.ok(http && admin, 'the installed configuration: webhooks and admin on loopback, both overridable');
  assert.match(env, new RegExp(`SWITCHYARD_HTTP_LISTEN=0\\.0\\.0\\.0:${http[1]}(\\s|$)`),
    'the image listens for webhooks on every interface, on the port it exposes');
  assert.ok(!/SWITCHYARD_ADMIN_LISTEN/.test(env), 'the admin listener stays on loopback in the image');
  assert.deepEqual(one('EXPOSE').args.split(/\s+/).sort(), [http[1], admin[1]].sort());
  // The source checkout's configuration (`make run`) and the built-in default: loopback.
  const checkout = readFileSync(join(SOURCE_DIR, 'config', 'switchyard.yaml'), 'utf8');
  assert.match(checkout, /^http:\n(?:\s+#.*\n)*\s+listen: "127\.0\.0\.1:8080"$/m, 'config/switchyard.yaml: webhooks on loopback');
});

test('the paths the image copies and runs exist in an installed tree, and its command line runs and is healthy', async () => {
  const inTree = (p) => p.startsWith(PREFIX) ? tree.prefix + p.slice(PREFIX.length) : p;
  for (const copy of final.filter((i) => i.name === 'COPY' && i.args.startsWith('--from='))) {
    const [src, dest] = copy.args.split(/\s+/).slice(1);
    assert.equal(src, dest, 'copied to the same place as installed');
    assert.ok(existsSync(inTree(src)), `${src} exists after cmake --install (${inTree(src)})`);
  }
  const entrypoint = one('ENTRYPOINT').json;
  const cmd = one('CMD').json;
  const healthcheck = one('HEALTHCHECK').json;
  assert.ok(entrypoint && cmd && healthcheck, 'ENTRYPOINT, CMD and HEALTHCHECK in exec form');
  for (const arg of [...entrypoint, ...cmd, ...healthcheck].filter((a) => a.startsWith('/'))) {
    assert.ok(existsSync(inTree(arg)), `${arg} exists after cmake --install`);
  }
  assert.deepEqual(healthcheck.slice(0, 2), [entrypoint[0], 'health'], 'the health check is switchyard health');

  // The container's command line on the installed tree, with the image's environment; only
  // the listeners move to loopback port 0 and the state into a temp dir.
  const env = { SWITCHYARD_STATE_DIR: join(work, 'state'), SWITCHYARD_HTTP_LISTEN: '127.0.0.1:0',
    SWITCHYARD_ADMIN_LISTEN: '127.0.0.1:0', SWITCHYARD_ADMIN_TOKEN: undefined, GITHUB_WEBHOOK_SECRET: undefined };
  mkdirSync(env.SWITCHYARD_STATE_DIR, { mode: 0o700 });
  const [command, ...args] = [...entrypoint, ...cmd].map(inTree);
  const engine = await startInstalled(tree.prefix, { command, args, cwd: env.SWITCHYARD_STATE_DIR, env });
  try {
    const [probe, ...probeArgs] = healthcheck.map(inTree);
    assert.equal(probe, command);
    // The port is 0 in the test: tell the probe where the admin listener went.
    const r = runInstalled(tree.prefix, [...probeArgs.slice(0), '--url', `${engine.adminUrl}/healthz`], { cwd: work, env });
    assert.equal(r.code, 0, `health check: ${r.stdout}${r.stderr}`);
    const page = await fetch(`${engine.url}/github/webhook`, { method: 'POST', body: '{}' });
    assert.equal(page.status, 401, 'a shipped pipeline answers on its route (unsigned: 401)');
  } finally {
    assert.equal(await engine.stop(), 0, `SIGTERM (the image's STOPSIGNAL) stops it cleanly:\n${engine.stderr}`);
  }
});

// .dockerignore as Docker reads it, for the patterns we use: paths relative to the context,
// `*` within a name, `**` across directories; `!` exceptions are not supported here.
function dockerignore() {
  const patterns = readFileSync(join(SOURCE_DIR, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  assert.ok(!patterns.some((p) => p.startsWith('!')), 'this test does not understand ! exceptions');
  const regexes = patterns.map((p) => new RegExp('^' + p.replace(/^\//, '').replace(/[.+^$()|[\]{}]/g, '\\$&')
    .replace(/\*\*\//g, '\u0001').replace(/\*\*/g, '\u0002').replace(/\*/g, '[^/]*')
    .replace(/\u0001/g, '(?:.*/)?').replace(/\u0002/g, '.*') + '(?:/.*)?$'));
  return (path) => regexes.some((r) => r.test(path));
}

test('.dockerignore keeps build trees, state and version control out, and CMake configures from what it lets in', () => {
  const ignored = dockerignore();
  for (const p of ['build/bin/switchyard', 'build-asan/x', '.git/HEAD', 'var/switchyard/journal.db', 'tests/e2e/node_modules/x/y.js']) {
    assert.ok(ignored(p), `${p} stays out of the build context`);
  }
  // The context: the files git knows (tracked and new), less what .dockerignore drops.
  const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: SOURCE_DIR, encoding: 'utf8' })
    .stdout.split('\n').filter(Boolean).filter((f) => existsSync(join(SOURCE_DIR, f)));
  assert.ok(files.includes('CMakeLists.txt'));
  const context = join(work, 'context');
  for (const f of files.filter((f) => !ignored(f))) {
    mkdirSync(dirname(join(context, f)), { recursive: true });
    cpSync(join(SOURCE_DIR, f), join(context, f));
  }
  // The build stage's CMake configuration, as written in the Dockerfile.
  const build = dockerfile.filter((i) => i.stage === 0 && i.name === 'RUN').map((i) => i.args).join(' && ');
  const configure = /cmake -S \. -B \S+ ([^&]*)/.exec(build);
  assert.ok(configure, 'the build stage configures with cmake -S . -B DIR ...');
  const flags = configure[1].trim().split(/\s+/);
  const r = spawnSync('cmake', ['-S', context, '-B', join(work, 'image-build'), ...flags], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `cmake configure of the build context failed:\n${r.stdout}${r.stderr}`);
  assert.match(build, /cmake --install \S+ --prefix \/opt\/switchyard --strip/, 'installs stripped into /opt/switchyard');
});
