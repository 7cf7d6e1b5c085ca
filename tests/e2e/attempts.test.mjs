// retry.max_attempts holds across a crash (issue 16, item 13): a sink's failed attempts at an
// event are kept in the journal, so after kill -9 the restarted engine goes on counting from
// where it was, instead of granting the event max_attempts fresh tries.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, tempDir } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';
import { rmSync } from 'node:fs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('after kill -9, a failing delivery resumes its attempt count and is dead-lettered at max_attempts', async () => {
  const receiver = await startReceiver(() => ({ status: 503 }));
  cleanups.push(() => receiver.close());
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pipelines = {
    relay: `name: relay
source: {type: http, path: /in}
sinks:
  - name: out
    type: http
    url: ${receiver.url}/ingest
    retry: {max_attempts: 4, initial: 300ms, max: 300ms, max_age: 1h}
`,
  };
  let engine = await startEngine({ dir, pipelines });
  assert.equal((await fetch(`${engine.url}/in`, { method: 'POST', body: '{"n":1}' })).status, 202);
  await waitUntil(() => receiver.requests.length >= 2, 10_000, 'two failed attempts');
  await engine.kill('SIGKILL');
  const before = receiver.requests.length;
  engine = await startEngine({ dir });
  cleanups.push(() => engine.stop());
  const dlq = async () => (await (await fetch(`${engine.adminUrl}/api/dlq`)).json());
  const entries = await waitUntil(async () => { const l = await dlq(); return l.length === 1 && l; }, 10_000,
    'the event in the dead-letter queue');
  assert.equal(entries[0].attempts, 4);
  // Four attempts in all across both runs, or five when the kill came between an attempt and
  // the commit of its count (the one in flight); without the journal's count the restart
  // would grant four fresh attempts: at least 2 + 4 = 6.
  assert.ok(receiver.requests.length <= 5, `attempts before the kill: ${before}, in all: ${receiver.requests.length}`);
});
