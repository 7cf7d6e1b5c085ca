// `switchyard tap PIPELINE` follows a running engine: one JSON line per stage an event of
// that pipeline passes (the transforms' verdict, each sink's attempt), nothing of other
// pipelines, nothing recorded before it connected.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BINARY, startEngine } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function post(engine, path, id, data) {
  const res = await fetch(`${engine.url}${path}`, {
    method: 'POST', body: JSON.stringify(data), headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  await res.text();
  return res.status;
}

test('tap prints each stage of the pipeline\'s new events as JSON lines', async () => {
  const receiver = await startReceiver(() => ({ status: 400 }));
  cleanups.push(() => receiver.close());
  const TOKEN = 'tap-admin-token-1234567890';
  const auth = { authorization: `Bearer ${TOKEN}` };
  const engine = await startEngine({
    config: `admin: {listen: "127.0.0.1:0", token: ${TOKEN}}\n`,
    pipelines: {
      relay: `name: relay
source: {type: http, path: /in, id_header: X-Request-Id}
transforms: [{name: only-kept, type: filter, if: '\${{ payload.keep }}'}]
sinks:
  - {name: all, type: blackhole}
  - {name: rejected, type: http, url: ${receiver.url}/reject, retry: {max_attempts: 1}}
`,
      other: `name: other
source: {type: http, path: /other, id_header: X-Request-Id}
sinks: [{name: all, type: blackhole}]
`,
    },
  });
  cleanups.push(() => engine.stop());
  assert.equal(await post(engine, '/in', 'before', { keep: true }), 202);
  await waitUntil(async () => {
    const relay = (await (await fetch(`${engine.adminUrl}/api/pipelines`, { headers: auth })).json()).find((p) => p.name === 'relay');
    return relay.sinks.every((s) => s.delivered + s.dead_lettered === 1);
  }, 10000, 'the first event done with');

  const admin = engine.adminUrl.replace('http://', '');
  const tap = spawn(BINARY, ['tap', 'relay', '-c', engine.configFile, '--admin', admin], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  tap.stdout.on('data', (d) => { out += d; });
  tap.stderr.on('data', (d) => { err += d; });
  cleanups.push(() => tap.kill('SIGKILL'));
  await waitUntil(() => /tapping pipeline relay/.test(err), 10000, `tap to connect: ${err}`);

  assert.equal(await post(engine, '/in', 'kept-1', { keep: true }), 202);
  assert.equal(await post(engine, '/in', 'dropped-1', { keep: false }), 202);
  assert.equal(await post(engine, '/other', 'elsewhere', { keep: true }), 202);
  const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  await waitUntil(() => lines().length >= 4, 10000, `four lines from tap:\n${out}\n${err}`);
  const seen = lines().map((l) => [l.event_id, l.stage, l.component ?? '', l.outcome].join(' ')).sort();
  assert.deepEqual(seen, [
    'dropped-1 transforms  dropped',
    'kept-1 sink all delivered',
    'kept-1 sink rejected dead_lettered',
    'kept-1 transforms  kept',
  ]);
  assert.ok(lines().every((l) => l.pipeline === 'relay' && l.time), out);
  assert.match(lines().find((l) => l.outcome === 'dead_lettered').error, /400/);

  assert.ok(lines().every((l) => !('data' in l)), 'no payloads without --payload');

  // --payload: the transforms line carries the payload as the sinks get it; a payload over
  // 64 KiB only its size. The plain tap still gets none.
  const withPayload = spawn(BINARY, ['tap', 'relay', '--payload', '-c', engine.configFile, '--admin', admin], { stdio: ['ignore', 'pipe', 'pipe'] });
  let pout = '';
  let perr = '';
  withPayload.stdout.on('data', (d) => { pout += d; });
  withPayload.stderr.on('data', (d) => { perr += d; });
  cleanups.push(() => withPayload.kill('SIGKILL'));
  await waitUntil(() => /tapping pipeline relay/.test(perr), 10000, `tap --payload to connect: ${perr}`);
  assert.equal(await post(engine, '/in', 'kept-2', { keep: true, user: { login: 'mona' }, n: 12345678901234567890 }), 202);
  const big = 'x'.repeat(70 * 1024);
  assert.equal(await post(engine, '/in', 'kept-big', { keep: true, big }), 202);
  const plines = () => pout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  await waitUntil(() => plines().filter((l) => l.stage === 'transforms').length >= 2, 10000, `two transforms lines:\n${pout}\n${perr}`);
  const kept2 = plines().find((l) => l.event_id === 'kept-2' && l.stage === 'transforms');
  assert.deepEqual(kept2.data.user, { login: 'mona' });
  assert.equal(kept2.data.keep, true);
  const keptBig = plines().find((l) => l.event_id === 'kept-big' && l.stage === 'transforms');
  assert.ok(!('data' in keptBig));
  assert.ok(keptBig.data_size > 70 * 1024, JSON.stringify(keptBig));
  await waitUntil(() => lines().some((l) => l.event_id === 'kept-2'), 10000, 'the plain tap sees kept-2');
  assert.ok(lines().every((l) => !('data' in l) && !('data_size' in l)), 'the plain tap still gets no payloads');
});

test('payloads are served only with an admin token', async () => {
  const engine = await startEngine({
    pipelines: { relay: `name: relay\nsource: {type: http, path: /in}\nsinks: [{name: all, type: blackhole}]\n` },
  });
  cleanups.push(() => engine.stop());
  const res = await fetch(`${engine.adminUrl}/api/stream?payload=1`);
  assert.equal(res.status, 403);
  assert.match(await res.text(), /admin\.token/);
  const admin = engine.adminUrl.replace('http://', '');
  const tap = spawn(BINARY, ['tap', 'relay', '--payload', '-c', engine.configFile, '--admin', admin], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  tap.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => tap.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(err, /HTTP 403 .*admin\.token/);
});
