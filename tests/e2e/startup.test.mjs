// While the engine starts its pipelines (seconds, with hundreds of them), a configured path
// answers 503 with Retry-After, never 404: a sender retries a 503, while a 404 reads as a
// wrong URL (GitHub shows it as a failed delivery and does not retry). An unconfigured path
// still answers 404.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('configured paths answer 503 + Retry-After until their pipeline is up, then serve', async () => {
  const count = 300;
  const pipelines = {};
  for (let i = 0; i < count; ++i) {
    const n = String(i).padStart(3, '0');
    pipelines[`p${n}`] = `name: p${n}\nsource: {type: http, path: /p${n}}\nsinks: [{name: out, type: blackhole}]\n`;
  }
  const engine = await startEngine({ pipelines, timeoutMs: 60_000, started: false });
  cleanups.push(() => engine.stop());
  // The listener opens before the first pipeline starts; the last one comes up last.
  const last = `/p${String(count - 1).padStart(3, '0')}`;
  const seen = new Map();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${engine.url}${last}`, { method: 'POST', body: '{}' });
    await res.arrayBuffer();
    seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
    if (res.status === 503) assert.equal(res.headers.get('retry-after'), '1');
    if (res.status === 202) break;
    assert.equal(res.status, 503, `${last} answered ${res.status} while starting`);
    assert.ok(Date.now() < deadline, 'the last pipeline never came up');
  }
  const unknown = await fetch(`${engine.url}/not-configured`, { method: 'POST', body: '{}' });
  assert.equal(unknown.status, 404);
  console.log(`answers to ${last} while ${count} pipelines started:`, Object.fromEntries(seen));
  // Once started, nothing stays expected: a path whose pipeline failed is a plain 404 (see
  // admin.test.mjs), and a removed pipeline's path too (reload.test.mjs).
  assert.equal((await fetch(`${engine.url}/p000`, { method: 'POST', body: '{}' })).status, 202);
});
