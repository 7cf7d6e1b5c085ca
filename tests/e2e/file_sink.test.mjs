// The `file` sink follows its path when logrotate moves the file away (`create` mode) or
// removes it, SIGHUP or not: the events sent after the move land in a new file at the
// path, the ones before stay in the moved file, and none is lost or written twice.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, tempDir } from './lib/engine.mjs';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const lines = (path) => existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).n) : [];

async function engineWithFileSink() {
  const out = tempDir('sy-file-sink-');
  cleanups.push(() => rmSync(out, { recursive: true, force: true }));
  const path = join(out, 'events.jsonl');
  const engine = await startEngine({
    pipelines: { rotate: `name: rotate\nsource: {type: http, path: /in}\nsinks: [{name: out, type: file, path: ${path}, format: data}]\n` },
  });
  cleanups.push(() => engine.stop());
  let n = 0;
  const send = async () => {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ n: n++ }) });
    assert.equal(res.status, 202, await res.text());
  };
  return { engine, path, send, sent: () => n };
}

async function until(condition, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Sends events until one lands in a new file at `path`, then ten more; checks that every
// event is in exactly one of the two files and that the new file has all the later ones.
async function sendThroughRotation({ path, send, sent, engine }, moved) {
  await until(async () => {
    await send();
    return lines(path).length > 0;
  }, 'an event in a new file at the path');
  for (let i = 0; i < 10; ++i) await send();
  await until(() => lines(moved).length + lines(path).length === sent(), `all ${sent()} events written`);
  const before = lines(moved);
  const now = lines(path);
  assert.deepEqual([...before, ...now], [...Array(sent()).keys()], 'every event once, in order, none lost');
  assert.ok(now.length >= 10, `the events after the reopen are in the new file (${now.length})`);
  assert.match(engine.stderr, /events\.jsonl was moved or removed: writing to a new file at that path/);
  return { before, now };
}

test('a file moved away (logrotate create) is written again at its path; no event is lost', async () => {
  const sink = await engineWithFileSink();
  for (let i = 0; i < 20; ++i) await sink.send();
  await until(() => lines(sink.path).length === 20, 'the first 20 events in the file');
  const moved = `${sink.path}.1`;
  renameSync(sink.path, moved);
  const { before } = await sendThroughRotation(sink, moved);
  assert.ok(before.length >= 20, 'the moved file keeps what was written before the move');
});

test('a removed file is created again, also after a SIGHUP that changes no pipeline', async () => {
  const sink = await engineWithFileSink();
  for (let i = 0; i < 5; ++i) await sink.send();
  await until(() => lines(sink.path).length === 5, 'the first 5 events in the file');
  // logrotate's postrotate: move the file, then SIGHUP (a reload that changes nothing).
  const moved = `${sink.path}.1`;
  renameSync(sink.path, moved);
  sink.engine.child.kill('SIGHUP');
  await sink.engine.waitFor((e) => /reload/i.test(e.stderr), 10000, 'the reload');
  await sendThroughRotation(sink, moved);
  rmSync(moved);
  rmSync(sink.path);
  const base = sink.sent();
  await until(async () => {
    await sink.send();
    return lines(sink.path).length > 0;
  }, 'an event in a file created again after removal');
  assert.ok(lines(sink.path).every((n) => n >= base));
  assert.equal(sink.engine.exited, null, 'the engine keeps running');
});
