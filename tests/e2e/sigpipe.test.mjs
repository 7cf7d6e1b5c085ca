// A reader that goes away is the writer's error, not the engine's end: with stdout a pipe
// nobody reads any more (`switchyard run | head -1`), the stdout sink fails its deliveries
// (retried) and the engine keeps serving, instead of dying of SIGPIPE with what it held.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine } from './lib/engine.mjs';
import { waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('a closed stdout pipe fails the stdout sink and leaves the engine running', async () => {
  const engine = await startEngine({
    pipelines: { out: 'name: out\ndurability: memory\nsource: {type: http, path: /in}\nsinks: [{type: stdout}]\n' },
  });
  cleanups.push(() => engine.stop());
  engine.child.stdout.destroy();  // the reader is gone
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }) });
    assert.equal(res.status, 202);
  }
  await waitUntil(() => /stdout|EPIPE|Broken pipe/i.test(engine.stderr) && /fail|retry/i.test(engine.stderr), 10000,
    () => `the stdout sink to report the broken pipe:\n${engine.stderr}`);
  assert.equal(engine.exited, null, `the engine exited:\n${engine.stderr}`);
  assert.equal((await fetch(`${engine.adminUrl}/healthz`)).status, 200);
});
