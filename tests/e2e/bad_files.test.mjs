// One rule for a bad pipeline file: at start as on reload, a file that fails validation is
// reported (file:line:col) and listed as failed under the name it gives, and the valid files
// start; `run --strict` starts nothing; exit 1 only when no file is valid. /readyz stays 200
// for a broken file (what runs still serves) and is 503 only when what should serve cannot.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, runSwitchyard, tempDir, writeEngineDir } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const RELAY = `name: relay
source: {type: http, path: /in}
sinks: [{name: out, type: blackhole}]
`;
// Two errors: an unknown option of the source and one of the sink.
const BROKEN = `name: broken-one
source: {type: http, path: /broken, colour: blue}
sinks: [{name: out, type: blackhole, colour: red}]
`;

const json = async (engine, path) => {
  const res = await fetch(`${engine.adminUrl}${path}`);
  return { status: res.status, body: await res.json() };
};

async function post(engine, path) {
  const res = await fetch(`${engine.url}${path}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  await res.text();
  return res.status;
}

test('an invalid file at start is reported and listed as failed; the valid ones start; /readyz stays 200', async () => {
  const engine = await startEngine({ pipelines: { relay: RELAY, broken: BROKEN } });
  cleanups.push(() => engine.stop());
  assert.match(engine.stderr, /pipeline broken-one \(\S+broken\.yaml\) not started: its file is invalid/);
  assert.match(engine.stderr, /broken\.yaml:2:\d+: source\.colour: /, 'file:line:col of each error');
  assert.match(engine.stderr, /broken\.yaml:3:\d+: sinks\[0\]\.colour: /);
  assert.match(engine.stderr, /1 of 2 pipeline\(s\) started \(1 invalid file\(s\)/);

  assert.equal(await post(engine, '/in'), 202, 'the valid pipeline serves');
  const { body: pipelines } = await json(engine, '/api/pipelines');
  assert.deepEqual(pipelines.map((p) => [p.name, p.state]).sort(), [['broken-one', 'failed'], ['relay', 'running']]);
  const failed = pipelines.find((p) => p.state === 'failed');
  assert.match(failed.file, /broken\.yaml$/);
  assert.equal(failed.errors.length, 2, JSON.stringify(failed));
  assert.match(failed.errors[0], /broken\.yaml:2:\d+: source\.colour/);
  assert.match(failed.errors[1], /broken\.yaml:3:\d+: sinks\[0\]\.colour/);

  const ready = await json(engine, '/readyz');
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.deepEqual(ready.body.reasons, []);
  assert.equal(ready.body.failed_files.length, 1);
  assert.match(ready.body.failed_files[0], /^broken-one \(/);
});

test('run --strict starts nothing with an invalid file; without it, exit 1 only when no file is valid', async () => {
  const dir = tempDir();
  cleanups.push(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
  const config = writeEngineDir(dir, { pipelines: { relay: RELAY, broken: BROKEN } });
  const strict = await runSwitchyard(['run', '--strict', '-c', config]);
  assert.equal(strict.code, 1, strict.stderr);
  assert.match(strict.stderr, /broken\.yaml:2:\d+: source\.colour/);
  assert.match(strict.stderr, /2 configuration error\(s\); nothing started \(--strict\)/);
  assert.doesNotMatch(strict.stderr, /listening on/);

  const only = tempDir();
  cleanups.push(() => import('node:fs').then((fs) => fs.rmSync(only, { recursive: true, force: true })));
  const r = await runSwitchyard(['run', '-c', writeEngineDir(only, { pipelines: { broken: BROKEN } })]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /nothing started: no pipeline file is valid/);

  // No file at all is not "nothing can start": pipelines added later start by hot reload.
  // (It opens no HTTP port, so it is watched from outside: still running after its start.)
  const none = tempDir();
  cleanups.push(() => import('node:fs').then((fs) => fs.rmSync(none, { recursive: true, force: true })));
  const idle = await runSwitchyard(['run', '-c', writeEngineDir(none, { pipelines: {} })], { timeoutMs: 3000 });
  assert.ok(idle.timedOut, `it kept running:\n${idle.stderr}`);
  assert.match(idle.stderr, /no pipelines in /);
  assert.match(idle.stderr, /0 of 0 pipeline\(s\) started/);
});

test('a file broken by a reload is listed under the name it gives; /readyz stays 200', async () => {
  const engine = await startEngine({ pipelines: { relay: RELAY } });
  cleanups.push(() => engine.stop());
  writeFileSync(join(engine.dir, 'pipelines', 'later.yaml'), BROKEN.replace('broken-one', 'later-one'));
  writeFileSync(join(engine.dir, 'pipelines', 'relay.yaml'), RELAY.replace('blackhole}', 'blackhole, nope: 1}'));
  const res = await fetch(`${engine.adminUrl}/api/reload`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 422, await res.text());
  const { body: pipelines } = await json(engine, '/api/pipelines');
  const failed = pipelines.filter((p) => p.state === 'failed').map((p) => p.name).sort();
  assert.deepEqual(failed, ['later-one', 'relay'], JSON.stringify(pipelines));
  assert.ok(pipelines.some((p) => p.name === 'relay' && p.state === 'running'), 'the previous version still runs');
  assert.equal(await post(engine, '/in'), 202);
  const ready = await json(engine, '/readyz');
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.equal(ready.body.failed_files.length, 2);
});
