// Pipeline files as untrusted input (issue 16, items 2 and 9). A file over
// pipelines.max_file_size is refused before it is parsed; one whose YAML aliases repeat a
// large value past 16 x that size is refused at the value; neither takes down the running
// engine on a hot reload, and at start the engine says why and exits 1 instead of crashing.
// ${VAR} and ${file:} in pipeline files read only what env.allow lists.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, runSwitchyard, tempDir, writeEngineDir } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const RELAY = `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
sinks: [{type: stdout}]
`;

// A file of about 61 KB whose 20 aliases of a 60 KB value come to 1.2 MB.
function aliasBomb() {
  const items = Array(20).fill('*big').join(', ');
  return `name: bomb\nsource: {type: generate}\nsinks: [{type: stdout}]\ndescription: &big "${'x'.repeat(60_000)}"\nlabels: [${items}]\n`;
}

// Valid YAML, and a valid pipeline, but 100 KB long.
const oversized = () => `name: oversized\nsource: {type: generate}\nsinks: [{type: stdout}]\ndescription: "${'y'.repeat(100_000)}"\n`;

function engineDir(pipelines) {
  const dir = tempDir();
  cleanups.push(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
  const config = writeEngineDir(dir, { pipelines });
  writeFileSync(config, readFileSync(config, 'utf8').replace('watch: false}', 'watch: false, max_file_size: 64KiB}'));
  return { dir, config };
}

async function post(engine, id) {
  const res = await fetch(`${engine.url}/in`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-request-id': id } });
  await res.text();
  return res.status;
}

test('files past pipelines.max_file_size or its expansion limit are refused on reload, and the engine goes on', async () => {
  const { dir, config } = engineDir({ relay: RELAY });
  const engine = await startEngine({ dir });
  cleanups.push(() => engine.stop());
  assert.equal(await post(engine, 'before'), 202);

  writeFileSync(join(dir, 'pipelines', 'bomb.yaml'), aliasBomb());
  writeFileSync(join(dir, 'pipelines', 'oversized.yaml'), oversized());
  const res = await fetch(`${engine.adminUrl}/api/reload`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  const body = await res.json();
  assert.equal(res.status, 422, JSON.stringify(body));
  assert.match(body.error, /bomb\.yaml:4:\d+: labels: the file's values come to more than 1 MiB once aliases are expanded/);
  assert.match(body.error, /oversized\.yaml:1:1: the file is larger than 64 KiB \(pipelines\.max_file_size\)/);

  // Still running, still serving, both files reported.
  assert.equal(engine.exited, null);
  assert.equal(await post(engine, 'after'), 202);
  const pipelines = await (await fetch(`${engine.adminUrl}/api/pipelines`)).json();
  assert.deepEqual(pipelines.filter((p) => p.state === 'failed').map((p) => p.file.split('/').pop()).sort(),
    ['bomb.yaml', 'oversized.yaml']);
  assert.ok(pipelines.some((p) => p.name === 'relay' && p.state === 'running'));
  await engine.stop();

  // At start with --strict: every reason, exit 1, no crash.
  const r = await runSwitchyard(['run', '--strict', '-c', config]);
  assert.equal(r.signal, null, `killed by ${r.signal}:\n${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /bomb\.yaml:4:\d+: labels: the file's values come to more than 1 MiB/);
  assert.match(r.stderr, /oversized\.yaml:1:1: the file is larger than 64 KiB/);
  assert.match(r.stderr, /configuration error\(s\); nothing started/);
});

test('${VAR} and ${file:} in pipeline files read only what env.allow lists', async () => {
  const dir = tempDir();
  cleanups.push(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
  // auth: token, since validate also runs the source's own checks (a secret needs an auth).
  const pipeline = `source:\n  type: http\n  path: /in\n  secret: \${HOOK_SECRET}\n  auth: token\nsinks:\n  - type: file\n    path: /tmp/\${SWITCHYARD_ADMIN_TOKEN}\n`;
  const env = { HOOK_SECRET: 'hook-secret', SWITCHYARD_ADMIN_TOKEN: 'the-admin-token' };
  const config = writeEngineDir(dir, { pipelines: { p: pipeline } });
  let r = await runSwitchyard(['validate', '-c', config], { env });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /p\.yaml:4:\d+: source\.secret: \$\{HOOK_SECRET\} is not listed in env\.allow/);
  assert.match(r.stderr, /p\.yaml:8:\d+: sinks\[0\]\.path: \$\{SWITCHYARD_ADMIN_TOKEN\} is not listed in env\.allow/);
  assert.doesNotMatch(r.stderr, /the-admin-token|hook-secret/);

  writeFileSync(config, readFileSync(config, 'utf8') + 'env: {allow: [HOOK_SECRET, SWITCHYARD_ADMIN_TOKEN]}\n');
  r = await runSwitchyard(['validate', '-c', config], { env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
