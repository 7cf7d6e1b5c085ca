// A real full disk under the journal: state.dir on a small tmpfs, filled up by another file
// while a sink is down. The http source must answer 503 (never 202 for an event it could
// not journal), nothing acknowledged may be lost, and the engine must take events again
// once space returns. Needs root (mount); skipped elsewhere.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, tempDir } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function tryMount(dir, size) {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `mount failed: ${e.stderr?.toString().trim() || e.message}`;
  }
}

test('disk full: 503 instead of acknowledging, nothing acknowledged lost, accepting again once space returns', async (t) => {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  mkdirSync(state);
  const why = tryMount(state, '8m');
  if (why) return t.skip(why);
  cleanups.push(() => execFileSync('umount', ['-l', state]));

  let up = false;
  const receiver = await startReceiver(() => (up ? { status: 200 } : { status: 503 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({
    dir,
    pipelines: {
      relay: `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - {name: out, type: http, url: ${receiver.url}/hook, queue_size: 8, retry: {max_attempts: 1000, initial: 200ms, max: 1s, max_age: 1h}}
`,
    },
  });
  cleanups.push(() => engine.kill());

  // Leave ~400 KiB free, then post 2 KiB events until the journal cannot take more.
  const free = () => { const s = statfsSync(state); return s.bavail * s.bsize; };
  const filler = join(state, 'filler');
  writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 400 * 1024)));
  const pad = 'y'.repeat(2000);
  const accepted = [];
  const refused = [];
  for (let i = 0; i < 2000 && refused.length < 3; i += 1) {
    const res = await fetch(`${engine.url}/in`, {
      method: 'POST', body: JSON.stringify({ i, pad }),
      headers: { 'content-type': 'application/json', 'x-request-id': `full-${i}` },
    });
    await res.text();
    if (res.status === 202) accepted.push(`full-${i}`);
    else refused.push({ id: `full-${i}`, status: res.status, retryAfter: res.headers.get('retry-after') });
  }
  assert.ok(refused.length > 0, `the disk never filled up (${accepted.length} accepted)`);
  for (const r of refused) {
    assert.equal(r.status, 503, JSON.stringify(r));
    assert.ok(Number(r.retryAfter) > 0, `503 without Retry-After: ${JSON.stringify(r)}`);
  }
  assert.ok(accepted.length > 20, `only ${accepted.length} events fitted in ~400 KiB`);
  assert.equal(engine.exited, null, 'the engine died on a full disk');
  assert.match(engine.stderr, /journal commit .* failed|journal is full/, 'the full disk is logged');

  // Space returns, the sink recovers: every acknowledged event arrives; refused ones never do.
  rmSync(filler);
  up = true;
  await waitUntil(() => {
    const got = new Set(receiver.delivered());
    return accepted.every((id) => got.has(id));
  }, 30000, `all ${accepted.length} acknowledged events at the receiver`);
  const delivered = new Set(receiver.delivered());
  for (const r of refused) assert.ok(!delivered.has(r.id), `${r.id} was answered ${r.status} yet delivered`);
  const again = await waitUntil(async () => {
    const res = await fetch(`${engine.url}/in`, {
      method: 'POST', body: '{"after":true}', headers: { 'content-type': 'application/json', 'x-request-id': 'after-space' },
    });
    await res.text();
    return res.status === 202 && res;
  }, 10000, 'a 202 once space returned');
  assert.equal(again.status, 202);
  await waitUntil(() => receiver.delivered().includes('after-space'), 5000, 'the event accepted after space returned');
  assert.equal(await engine.stop(), 0);
});
