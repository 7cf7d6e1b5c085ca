// Durable delivery end to end (contract section 7): the http source → journal → http sink
// against a local receiver that fails on cue. Retries and Retry-After, the dead-letter queue
// and `switchyard dlq` (list, show, replay, drop) with the engine running and stopped,
// nothing acknowledged lost across a crash, the journal's size cap (503 + Retry-After),
// and a damaged journal.db refused at start.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, runSwitchyard, writeEngineDir, tempDir, dlq, dlqList } from './lib/engine.mjs';
import { startReceiver, waitUntil, sleep } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

// Registers cleanup of a receiver, an engine (stopped by PID) or a directory.
const track = {
  receiver(r) { cleanups.push(() => r.close()); return r; },
  engine(e) { cleanups.push(async () => { await e.kill(); await e.stop(); }); return e; },  // stop() then only removes its own temp dir
  dir(d) { cleanups.push(() => rmSync(d, { recursive: true, force: true })); return d; },
};

// source http /in → sink `out` (http) to the receiver. Durability is the default (disk).
function relay(url, { retry = '{max_attempts: 10, initial: 100ms, max: 1s}', sink = '' } = {}) {
  return `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - name: out
    type: http
    url: ${url}/hook
    retry: ${retry}
    ${sink}
`;
}

async function post(engine, id, data) {
  const res = await fetch(`${engine.url}/in`, {
    method: 'POST',
    body: JSON.stringify(data),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

// failed_at within [from, to] (Unix ms), whether printed as ms, seconds or an ISO string.
function assertTimestamp(value, from, to) {
  let ms = typeof value === 'string' && !/^\d+$/.test(value) ? Date.parse(value) : Number(value);
  if (ms < 1e11) ms *= 1000;
  assert.ok(Number.isFinite(ms) && ms >= from - 2000 && ms <= to + 2000,
    `failed_at ${JSON.stringify(value)} is not the time of the failure (${new Date(from).toISOString()})`);
}

test('sink outage: 503s, then 429 with Retry-After: 2, then 200: every event arrives once, in order, none dead-lettered', async () => {
  let n = 0;
  const receiver = track.receiver(await startReceiver(() => {
    n += 1;
    if (n <= 3) return { status: 503, body: 'down' };
    if (n === 4) return { status: 429, headers: { 'Retry-After': '2' }, body: 'slow down' };
    return { status: 200, body: '{}' };
  }));
  const engine = track.engine(await startEngine({ pipelines: { relay: relay(receiver.url) } }));

  const ids = Array.from({ length: 20 }, (_, i) => `outage-${i}`);
  for (const [i, id] of ids.entries()) {
    const r = await post(engine, id, { n: i });
    assert.equal(r.status, 202, `event ${id}: ${r.body}`);
  }
  await waitUntil(() => receiver.delivered().length >= ids.length, 20000, 'all 20 events at the receiver');
  await sleep(500);  // anything delivered twice would show up by now
  assert.deepEqual(receiver.delivered(), ids, 'each event delivered exactly once, in order (concurrency 1)');
  for (const r of receiver.requests.filter((q) => q.status === 200)) {
    assert.deepEqual(r.body.data, { n: ids.indexOf(r.body.id) }, 'payload intact');
  }
  // The 4 failures were all spent on the first event; the request after the 429 waited for Retry-After.
  assert.deepEqual(receiver.requests.slice(0, 5).map((r) => [r.body.id, r.status]),
    [['outage-0', 503], ['outage-0', 503], ['outage-0', 503], ['outage-0', 429], ['outage-0', 200]]);
  const gap = receiver.requests[4].at - receiver.requests[3].at;
  assert.ok(gap >= 2000, `the retry after 429 + Retry-After: 2 came after only ${gap.toFixed(0)} ms`);
  assert.deepEqual(await dlqList(engine.configFile), [], 'nothing in the dead-letter queue');
  assert.equal(await engine.stop(), 0);
});

test('a 400 dead-letters at once; dlq list/show describe it; replay delivers it exactly once; drop removes another', async () => {
  const startedAt = Date.now();
  const reject = new Set(['perm-1', 'perm-2']);
  const receiver = track.receiver(await startReceiver(({ body }) => (reject.has(body.id)
    ? { status: 400, headers: { 'content-type': 'application/json' }, body: '{"message":"field x is invalid"}' }
    : { status: 200, body: '{}' })));
  const engine = track.engine(await startEngine({ pipelines: { relay: relay(receiver.url) } }));
  const config = engine.configFile;

  assert.equal((await post(engine, 'perm-1', { order: 1, note: 'first bad one' })).status, 202);
  assert.equal((await post(engine, 'perm-2', { order: 2 })).status, 202);
  assert.equal((await post(engine, 'fine-1', { order: 3 })).status, 202);
  let entries = await waitUntil(async () => {
    const list = await dlqList(config);
    return list.length >= 2 && list;
  }, 10000, 'two entries in the dead-letter queue');
  await sleep(700);
  assert.equal(receiver.requestsFor('perm-1').length, 1, 'a 400 must not be retried');
  assert.equal(receiver.requestsFor('perm-2').length, 1, 'a 400 must not be retried');
  assert.deepEqual(receiver.delivered(), ['fine-1'], 'the good event is not held up by the bad ones');

  entries = await dlqList(config);
  assert.equal(entries.length, 2, JSON.stringify(entries));
  const first = entries.find((e) => e.event_id === 'perm-1');
  const second = entries.find((e) => e.event_id === 'perm-2');
  assert.ok(first && second, JSON.stringify(entries));
  assert.equal(first.pipeline, 'relay');
  assert.equal(first.sink, 'out');
  assert.equal(first.type, 'http.request');
  assert.equal(first.attempts, 1);
  assert.match(first.error, /400/, 'the error names the HTTP status');
  assertTimestamp(first.failed_at, startedAt, Date.now());
  assert.notEqual(first.id, second.id);

  // Filters narrow the list.
  assert.equal((await dlqList(config, '--sink', 'out')).length, 2);
  assert.deepEqual(await dlqList(config, '--sink', 'elsewhere'), []);
  assert.deepEqual(await dlqList(config, '--pipeline', 'other'), []);
  assert.deepEqual(await dlqList(config, '--older-than', '1h'), [], 'nothing is an hour old');

  const shown = JSON.parse((await dlq(config, 'show', String(first.id))).stdout);
  for (const key of ['id', 'pipeline', 'sink', 'event_id', 'type', 'attempts', 'error']) {
    assert.deepEqual(shown[key], first[key], `show and list agree on ${key}`);
  }
  const event = typeof shown.event === 'string' ? JSON.parse(shown.event) : shown.event;
  assert.equal(event.id, 'perm-1');
  assert.equal(event.type, 'http.request');
  assert.deepEqual(event.data, { order: 1, note: 'first bad one' }, 'the stored event carries the payload');

  const missing = await runSwitchyard(['dlq', 'show', '999999', '-c', config]);
  assert.notEqual(missing.code, 0, 'show of an unknown id fails');

  // The receiver is fixed: replay perm-1 only.
  reject.delete('perm-1');
  const replay = await dlq(config, 'replay', String(first.id));
  assert.match(replay.stdout, /\b1 event\(s\) queued for replay/);
  await waitUntil(() => receiver.delivered().includes('perm-1'), 5000, 'the replayed event at the receiver');
  await sleep(1500);  // a second copy would arrive within the engine's poll interval
  assert.equal(receiver.requestsFor('perm-1').length, 2, 'one failed attempt, then exactly one replayed delivery');
  assert.deepEqual(receiver.requestsFor('perm-1')[1].body.data, { order: 1, note: 'first bad one' });
  assert.equal(receiver.requestsFor('perm-2').length, 1, 'only the named entry is replayed');
  assert.deepEqual((await dlqList(config)).map((e) => e.event_id), ['perm-2'], 'the replayed entry left the queue');

  // Replayed while the receiver still refuses it: tried once more, and back in the queue.
  assert.match((await dlq(config, 'replay', String(second.id))).stdout, /\b1 event\(s\) queued for replay/);
  const back = await waitUntil(async () => {
    const list = await dlqList(config);
    return receiver.requestsFor('perm-2').length === 2 && list.length === 1 && list[0].replay_requested === false && list;
  }, 5000, 'perm-2 failing again and back in the dead-letter queue');
  assert.equal(back[0].event_id, 'perm-2');
  assert.equal(back[0].attempts, 1);
  assert.match(back[0].error, /400/);

  const dropped = await dlq(config, 'drop', String(back[0].id));
  assert.match(dropped.stdout, /\b1 event\(s\) dropped/);
  assert.deepEqual(await dlqList(config), []);
  await sleep(1200);
  assert.equal(receiver.requestsFor('perm-2').length, 2, 'a dropped event is not delivered again');
  assert.equal(await engine.stop(), 0);
});

test('replay while the engine is stopped: delivered at the next start on the same state dir', async () => {
  let accept = false;
  const receiver = track.receiver(await startReceiver(() => (accept ? { status: 200 } : { status: 400, body: 'no' })));
  const dir = track.dir(tempDir());
  const first = track.engine(await startEngine({ dir, pipelines: { relay: relay(receiver.url) } }));
  assert.equal((await post(first, 'offline-1', { k: 'v' })).status, 202);
  await waitUntil(async () => (await dlqList(first.configFile)).length === 1, 10000, 'the event in the dead-letter queue');
  assert.equal(await first.stop(), 0, 'SIGTERM stops the engine cleanly');
  assert.ok(existsSync(join(dir, 'state', 'journal.db')), 'the state dir outlives the engine');

  accept = true;
  const replay = await dlq(first.configFile, 'replay', '--all');
  assert.match(replay.stdout, /\b1 event\(s\) queued for replay/);
  const waiting = await dlqList(first.configFile);
  assert.equal(waiting.length, 1, 'the entry stays listed until an engine takes it');
  assert.equal(waiting[0].replay_requested, true);
  await sleep(500);
  assert.equal(receiver.requests.length, 1, 'nothing is sent while the engine is stopped');

  const second = track.engine(await startEngine({ dir }));
  await waitUntil(() => receiver.delivered().includes('offline-1'), 5000, 'the replayed event after the restart');
  await sleep(1000);
  assert.equal(receiver.requestsFor('offline-1').length, 2, 'one 400, then exactly one delivery');
  assert.deepEqual(receiver.requestsFor('offline-1')[1].body.data, { k: 'v' });
  assert.deepEqual(await dlqList(second.configFile), []);
  assert.equal(await second.stop(), 0);

  // And nothing is left over for a third start.
  const third = track.engine(await startEngine({ dir }));
  await sleep(1500);
  assert.equal(receiver.requestsFor('offline-1').length, 2, 'a delivered replay is not sent again after another restart');
  assert.equal(await third.stop(), 0);
});

test('SIGTERM while a sink is failing: no wait for shutdown_timeout; the events stay journaled and are delivered after the next start', async () => {
  let up = false;
  const receiver = track.receiver(await startReceiver(() => (up ? { status: 200 } : { status: 503 })));
  const dir = track.dir(tempDir());
  const pipelines = { relay: relay(receiver.url, { retry: '{max_attempts: 100, initial: 200ms, max: 1s}' }) };
  const first = track.engine(await startEngine({ dir, pipelines }));
  for (const id of ['down-1', 'down-2', 'down-3']) assert.equal((await post(first, id, { id })).status, 202);
  await waitUntil(() => receiver.requestsFor('down-1').length >= 2, 10000, 'the first event refused twice');
  // The sink is waiting out a retry back-off (the others queued behind it): nothing is
  // under way that a drain could finish, and the events are safe in the journal.
  assert.equal(await first.stop(), 0);
  assert.doesNotMatch(first.stderr, /shutdown_timeout reached/, first.stderr);
  assert.match(first.stderr, /stopped with 3 event\(s\) not yet delivered to every sink; they stay in the journal/);

  up = true;
  const second = track.engine(await startEngine({ dir }));
  await waitUntil(() => ['down-1', 'down-2', 'down-3'].every((id) => receiver.delivered().includes(id)), 10000,
    'the three events after the restart');
  await sleep(500);
  for (const id of ['down-1', 'down-2', 'down-3']) {
    assert.equal(receiver.requestsFor(id).filter((r) => r.status === 200).length, 1, `${id} delivered once`);
  }
  assert.equal(await second.stop(), 0);
});

test('kill -9 with deliveries pending: every acknowledged event is delivered after the restart', async () => {
  let up = false;
  const receiver = track.receiver(await startReceiver(() => (up ? { status: 200 } : { status: 503, headers: { 'Retry-After': '1' } })));
  const dir = track.dir(tempDir());
  const first = track.engine(await startEngine({
    dir, pipelines: { relay: relay(receiver.url, { retry: '{max_attempts: 100, initial: 200ms, max: 1s, max_age: 1h}' }) },
  }));
  const ids = Array.from({ length: 30 }, (_, i) => `crash-${i}`);
  for (const id of ids) assert.equal((await post(first, id, { id })).status, 202);
  await waitUntil(() => receiver.requests.length >= 1, 5000, 'a first (failing) attempt');
  await first.kill('SIGKILL');
  assert.equal(first.signal, 'SIGKILL');

  up = true;
  const second = track.engine(await startEngine({ dir }));
  await waitUntil(() => ids.every((id) => receiver.delivered().includes(id)), 15000, 'all 30 events after the restart');
  await sleep(500);
  assert.deepEqual(receiver.delivered(), ids, 'each exactly once, in order');
  assert.equal(await second.stop(), 0);
});

// (An engine that starts moves such events to the DLQ by itself: orphans.test.mjs.)
test('with the engine stopped, dlq adopt moves the undelivered events of a pipeline renamed away to the DLQ', async () => {
  const receiver = track.receiver(await startReceiver(() => ({ status: 503, headers: { 'Retry-After': '1' } })));
  const dir = track.dir(tempDir());
  const first = track.engine(await startEngine({
    dir, pipelines: { relay: relay(receiver.url, { retry: '{max_attempts: 100, initial: 200ms, max: 1s, max_age: 1h}' }) },
  }));
  for (const id of ['orphan-1', 'orphan-2']) assert.equal((await post(first, id, { id })).status, 202);
  const config = first.configFile;
  await first.kill('SIGKILL');
  // The file now defines the pipeline under another name: the journal's two events have no owner.
  rmSync(join(dir, 'pipelines', 'relay.yaml'));
  writeFileSync(join(dir, 'pipelines', 'renamed.yaml'), relay(receiver.url).replace('name: relay', 'name: renamed'));

  const defined = await runSwitchyard(['dlq', 'adopt', 'renamed', '-c', config]);
  assert.equal(defined.code, 1, 'adopt must refuse a pipeline a file defines');
  assert.match(defined.stderr, /renamed\.yaml defines pipeline 'renamed'/);

  const adopted = await runSwitchyard(['dlq', 'adopt', 'relay', '-c', config]);
  assert.equal(adopted.code, 0, adopted.stderr);
  assert.match(adopted.stdout, /^2 dead-letter entries made from the undelivered events of 'relay'/);
  const entries = await dlqList(config, '--pipeline', 'relay');
  assert.deepEqual(entries.map((e) => e.event_id).sort(), ['orphan-1', 'orphan-2']);
  assert.ok(entries.every((e) => e.sink === 'out' && /no longer configured \(moved by switchyard dlq adopt\)/.test(e.error)),
    JSON.stringify(entries));

  const second = track.engine(await startEngine({ dir }));
  const whileRunning = await runSwitchyard(['dlq', 'adopt', 'relay', '-c', config]);
  assert.equal(whileRunning.code, 1, 'adopt must refuse while an engine runs on the journal');
  assert.match(whileRunning.stderr, /in use by another engine \(pid \d+\).*Stop the engine first/);
  await sleep(300);
  assert.doesNotMatch(second.stderr, /pipeline 'relay' is no longer defined/, 'nothing is left stranded in the journal');
  assert.equal(await second.stop(), 0);
});

test('journal cap: 503 + Retry-After once state.max_bytes is reached, nothing acknowledged lost, accepting again after the backlog drains', async () => {
  let up = false;
  const receiver = track.receiver(await startReceiver(() => (up ? { status: 200 } : { status: 503, headers: { 'Retry-After': '1' } })));
  const engine = track.engine(await startEngine({
    state: 'max_bytes: 300KiB',
    pipelines: {
      // A small sink window: the backlog lives in the journal and is read back from it.
      relay: relay(receiver.url, { retry: '{max_attempts: 1000, initial: 200ms, max: 1s, max_age: 1h}', sink: 'queue_size: 8' }),
    },
  }));
  const filler = 'x'.repeat(1000);
  const accepted = [];
  const refused = [];
  for (let i = 0; i < 3000 && refused.length === 0; i += 1) {
    const r = await post(engine, `cap-${i}`, { i, filler });
    if (r.status === 202) accepted.push(`cap-${i}`);
    else refused.push({ id: `cap-${i}`, ...r });
  }
  assert.equal(refused.length, 1, 'the source must refuse once the journal reaches max_bytes');
  assert.equal(refused[0].status, 503, JSON.stringify(refused[0]));
  assert.ok(Number(refused[0].retryAfter) > 0, `a 503 carries Retry-After (got ${refused[0].retryAfter})`);
  assert.match(refused[0].body, /journal is full/, 'the answer says why, not just "saturated"');
  // ~1.1 KiB per event: 300 KiB holds a couple of hundred; far fewer or far more means the cap is off.
  assert.ok(accepted.length >= 100 && accepted.length <= 400, `${accepted.length} events accepted under a 300 KiB cap`);
  // Still full while the receiver is down.
  const again = await post(engine, 'cap-again', { filler });
  assert.equal(again.status, 503);
  refused.push({ id: 'cap-again', ...again });

  up = true;
  await waitUntil(() => accepted.every((id) => receiver.delivered().includes(id)), 30000,
    `all ${accepted.length} acknowledged events at the receiver`);
  const delivered = receiver.delivered();
  assert.equal(delivered.length, accepted.length, 'nothing delivered twice');
  for (const r of refused) assert.ok(!delivered.includes(r.id), `${r.id} was refused with 503 yet delivered`);

  // The backlog is gone: the source takes events again.
  const after = await waitUntil(async () => {
    const r = await post(engine, 'cap-after', { filler });
    return r.status === 202 && r;
  }, 10000, 'a 202 once the backlog drained');
  assert.equal(after.status, 202);
  await waitUntil(() => receiver.delivered().includes('cap-after'), 5000, 'the event accepted after the drain');
  assert.deepEqual(await dlqList(engine.configFile), []);
  assert.equal(await engine.stop(), 0);
});

async function assertRefusesDamaged(dir, what) {
  const file = join(dir, 'state', 'journal.db');
  const before = readFileSync(file);
  const r = await runSwitchyard(['run', '-c', join(dir, 'switchyard.yaml')], { timeoutMs: 10000 });
  assert.ok(!r.timedOut, `${what}: switchyard run kept running on a damaged journal:\n${r.stderr}`);
  assert.equal(r.code, 1, `${what}: exit status\n${r.stderr}`);
  assert.ok(r.stderr.includes(file), `${what}: the message names ${file}:\n${r.stderr}`);
  assert.match(r.stderr, /is damaged/, `${what}: the message says the journal is damaged:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /listening on/, `${what}: nothing was started`);
  assert.ok(readFileSync(file).equals(before), `${what}: the damaged file must be left as it was`);
}

test('a damaged journal.db (garbage, or a truncated real one) stops `switchyard run` with a message naming the file', async () => {
  const receiver = track.receiver(await startReceiver(() => ({ status: 503 })));

  // Garbage where the journal should be.
  const garbage = track.dir(tempDir());
  writeEngineDir(garbage, { pipelines: { relay: relay(receiver.url) } });
  mkdirSync(join(garbage, 'state'));
  writeFileSync(join(garbage, 'state', 'journal.db'), Buffer.concat([Buffer.from('not a database\n'), randomBytes(64 * 1024)]));
  await assertRefusesDamaged(garbage, 'garbage');

  // A real journal with events in it, cut to half its size.
  const dir = track.dir(tempDir());
  const engine = track.engine(await startEngine({
    dir, pipelines: { relay: relay(receiver.url, { retry: '{max_attempts: 100, initial: 1s, max: 5s}' }) },
  }));
  const filler = 'y'.repeat(2000);
  for (let i = 0; i < 60; i += 1) assert.equal((await post(engine, `trunc-${i}`, { i, filler })).status, 202);
  assert.equal(await engine.stop(), 0);
  const file = join(dir, 'state', 'journal.db');
  assert.ok(!existsSync(`${file}-wal`), 'a clean stop checkpoints the WAL into journal.db');
  const size = statSync(file).size;
  // The bodies are in the event log (state/events/); journal.db holds a row per event.
  assert.ok(size >= 16 * 1024, `a journal holding 60 pending events is only ${size} bytes`);
  const segments = readdirSync(join(dir, 'state', 'events')).filter((name) => name.endsWith('.log'));
  assert.equal(segments.length, 1, `one event log segment: ${segments}`);
  const segment = join(dir, 'state', 'events', segments[0]);
  assert.ok(statSync(segment).size >= 60 * 2000, 'the 60 bodies are in the event log');

  // A byte of the log's first record changed (damage, not a write cut short by a crash):
  // refused, naming the segment and the byte, and the segment left as it was.
  const log = readFileSync(segment);
  const damaged = Buffer.from(log);
  damaged[100] ^= 0x5a;
  writeFileSync(segment, damaged);
  const r = await runSwitchyard(['run', '-c', join(dir, 'switchyard.yaml')], { timeoutMs: 10000 });
  assert.equal(r.code, 1, `a damaged event log: exit status\n${r.stderr}`);
  assert.ok(r.stderr.includes(`${segment} is damaged at byte 0`), `the message names the segment:\n${r.stderr}`);
  assert.ok(readFileSync(segment).equals(damaged), 'the damaged segment is left as it was');
  writeFileSync(segment, log);

  truncateSync(file, Math.floor(size / 2));
  await assertRefusesDamaged(dir, 'truncated');
});

// max_age is the event's age (from when the source saw it), not the time since a delivery's
// first attempt: an event that waited behind others is not retried past it.
test('retry.max_age counts from when the event was accepted, not from its first attempt', async () => {
  const receiver = track.receiver(await startReceiver(() => ({ status: 503 })));
  const engine = track.engine(await startEngine({
    pipelines: { relay: relay(receiver.url, { retry: '{max_attempts: 1000, initial: 100ms, max: 300ms, max_age: 2s}' }) },
  }));
  for (const id of ['age-1', 'age-2', 'age-3']) assert.equal((await post(engine, id, {})).status, 202);
  await sleep(3500);  // max_age plus slack
  const entries = await dlqList(engine.configFile);
  assert.deepEqual(entries.map((e) => e.event_id).sort(), ['age-1', 'age-2', 'age-3'],
    'every event older than max_age is dead-lettered, including those that waited behind the first');
  assert.equal(await engine.stop(), 0);
});
