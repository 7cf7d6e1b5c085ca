// The journal's files failing under a running engine (issue 16, items 7 and 8).
// - journal.db (with -wal and -shm) deleted: the engine used to answer 202 and stay ready
//   while writing to files no name pointed to, and at restart every backed-up event was
//   gone. Now the next event is refused (503), /readyz answers 503, the log says so at error
//   level, and what the journal held is saved beside it: put back, it delivers every event.
// - the journal's files made unwritable (chattr +i: the test runs as root, which ignores
//   permission bits, and a busy tmpfs cannot be remounted read-only): /readyz answers 503
//   while commits fail, and SIGTERM ends the engine within shutdown_timeout instead of the
//   writer retrying failed commits for ever.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, tempDir, writeEngineDir } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const relay = (url) => `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - {name: out, type: http, url: ${url}/hook, retry: {max_attempts: 1000, initial: 100ms, max: 300ms, max_age: 1h}}
`;

async function post(engine, id) {
  const res = await fetch(`${engine.url}/in`, { method: 'POST', body: JSON.stringify({ id }), headers: { 'content-type': 'application/json', 'x-request-id': id } });
  return { status: res.status, body: await res.text() };
}

async function readyz(engine) {
  const res = await fetch(`${engine.adminUrl}/readyz`);
  return { status: res.status, body: await res.json() };
}

function engineDir(receiverUrl, shutdownTimeout = '5s') {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = writeEngineDir(dir, { pipelines: { relay: relay(receiverUrl) } });
  writeFileSync(config, readFileSync(config, 'utf8').replace('shutdown_timeout: 5s', `shutdown_timeout: ${shutdownTimeout}`));
  return dir;
}

test('journal.db deleted while the engine runs: 503, not ready, logged, and nothing acknowledged lost', async () => {
  let up = false;
  const receiver = await startReceiver(() => ({ status: up ? 200 : 503 }));
  cleanups.push(() => receiver.close());
  const dir = engineDir(receiver.url);
  const state = join(dir, 'state');
  let engine = await startEngine({ dir });
  cleanups.push(() => engine.kill());

  // The sink is down: 20 acknowledged events wait in the journal.
  const acked = [];
  for (let i = 0; i < 20; i++) {
    const r = await post(engine, `kept-${i}`);
    assert.equal(r.status, 202, r.body);
    acked.push(`kept-${i}`);
  }
  for (const f of ['journal.db', 'journal.db-wal', 'journal.db-shm']) rmSync(join(state, f), { force: true });

  const refused = await post(engine, 'after-delete');
  assert.equal(refused.status, 503, `the first event after the deletion: ${refused.body}`);
  const ready = await readyz(engine);
  assert.equal(ready.status, 503);
  assert.match(ready.body.reasons.join('\n'), /journal: journal\.db was deleted while the engine ran/);
  await engine.waitFor((e) => /error \[engine\] journal: journal\.db was deleted .*refuse new events \(HTTP 503\)/.test(e.stderr), 5000, 'the error line');
  const saved = readdirSync(state).filter((f) => f.startsWith('journal.db.saved-'));
  assert.equal(saved.length, 1, readdirSync(state).join(', '));
  assert.match(engine.stderr, new RegExp(`saved as .*${saved[0]}`));
  assert.equal(await engine.stop(), 0);

  // What the operator is told to do: put the copy back and start again.
  for (const f of readdirSync(state)) if (/^journal\.db(-wal|-shm)?$/.test(f)) rmSync(join(state, f));
  renameSync(join(state, saved[0]), join(state, 'journal.db'));
  up = true;
  engine = await startEngine({ dir });
  await waitUntil(() => acked.every((id) => receiver.requests.some((r) => r.body?.id === id && r.status === 200)),
    15000, 'every acknowledged event delivered after the restart');
  assert.equal((await readyz(engine)).status, 200);
  await engine.stop();
});

function chattr(flag, files) {
  execFileSync('chattr', [flag, ...files], { stdio: 'pipe' });
}

test('a journal that cannot commit: not ready, and SIGTERM ends within shutdown_timeout', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root (chattr +i)');
  let up = false;
  const receiver = await startReceiver(() => ({ status: up ? 200 : 503 }));
  cleanups.push(() => receiver.close());
  const dir = engineDir(receiver.url, '2s');
  const state = join(dir, 'state');
  const engine = await startEngine({ dir });
  cleanups.push(() => engine.kill());
  for (let i = 0; i < 5; i++) assert.equal((await post(engine, `stuck-${i}`)).status, 202);
  assert.equal((await readyz(engine)).status, 200);

  const files = ['journal.db', 'journal.db-wal'].map((f) => join(state, f));
  try {
    chattr('+i', files);
  } catch (e) {
    return t.skip(`chattr +i failed on this file system: ${e.stderr?.toString().trim() || e.message}`);
  }
  cleanups.push(() => { try { chattr('-i', files); } catch { /* already */ } });

  // The sink comes back: its completions cannot be committed, nor can new events.
  up = true;
  await waitUntil(() => receiver.requests.filter((r) => r.status === 200).length >= 5, 10000, 'the deliveries');
  const refused = await post(engine, 'while-read-only');
  assert.equal(refused.status, 503, refused.body);
  await waitUntil(async () => (await readyz(engine)).status === 503, 5000, '/readyz to answer 503');
  assert.match((await readyz(engine)).body.reasons.join('\n'), /journal: commits fail: /);

  const started = Date.now();
  const code = await Promise.race([engine.stop(), new Promise((r) => setTimeout(() => r('hung'), 12000))]);
  const took = Date.now() - started;
  assert.notEqual(code, 'hung', `SIGTERM did not end the engine within 12 s:\n${engine.stderr.slice(-2000)}`);
  assert.ok(took < 6000, `shutdown took ${took} ms with shutdown_timeout 2s`);
  assert.match(engine.stderr, /journal: giving up \d+ change\(s\) that could not be committed within shutdown_timeout/);

  // Nothing acknowledged was lost: writable again, the next start delivers the five again.
  chattr('-i', files);
  const before = receiver.requests.length;
  const again = await startEngine({ dir });
  cleanups.push(() => again.stop());
  await waitUntil(() => [0, 1, 2, 3, 4].every((i) => receiver.requests.slice(before).some((r) => r.body?.id === `stuck-${i}` && r.status === 200)),
    15000, 'the five events delivered again after the restart');
  assert.equal((await readyz(again)).status, 200);
});
