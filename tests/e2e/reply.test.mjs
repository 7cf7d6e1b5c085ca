// The core `reply` sink answers the request an event came from, through the engine's reply
// service: a Slack slash command (slack.events) and a call to the http source, both in time
// and too late (the source's own fallback answer), and a reply to nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startEngine } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const SIGNING = 'reply-e2e-signing-secret';

function slackCommand(url, form) {
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = 'v0=' + createHmac('sha256', SIGNING).update(`v0:${ts}:${form}`).digest('hex');
  return fetch(url, {
    method: 'POST', body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signature },
  });
}

test('a slash command from slack.events is answered by the reply sink in the HTTP response', async () => {
  const engine = await startEngine({
    pipelines: {
      chatops: `name: chatops
durability: memory
source: {type: slack.events, path: /slack, secret: ${SIGNING}, reply_within: 2s, command_reply: "Working on it"}
transforms:
  - type: filter
    if: \${{ payload.text != 'slow' }}
sinks:
  - type: reply
    body:
      response_type: in_channel
      text: "Deploying \${{ payload.text }} for <@\${{ payload.user_id }}>"
  - {name: log, type: stdout}
`,
    },
  });
  cleanups.push(() => engine.stop());
  const url = `${engine.url}/slack`;

  const started = Date.now();
  let res = await slackCommand(url, 'command=%2Fdeploy&text=api&user_id=U7&team_id=T1&trigger_id=trig-r1');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  assert.deepEqual(await res.json(), { response_type: 'in_channel', text: 'Deploying api for <@U7>' });
  assert.ok(Date.now() - started < 1500, 'answered by the pipeline, not by the 2 s fallback');

  // Filtered out: nothing will answer it, so the source's fallback goes out at once rather
  // than when reply_within is over.
  const slowStart = Date.now();
  res = await slackCommand(url, 'command=%2Fdeploy&text=slow&user_id=U7&team_id=T1&trigger_id=trig-r2');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { response_type: 'ephemeral', text: 'Working on it' });
  assert.ok(Date.now() - slowStart < 1500, `fallback after ${Date.now() - slowStart} ms: not held until reply_within`);
  await engine.waitFor(() => /: a transform dropped it and nothing answered it; its source gave its fallback answer/.test(engine.stderr), 5000, 'the log line saying the fallback went out');
});

test('the http source with reply_within is a synchronous API: status, headers and body from the reply sink', async () => {
  const engine = await startEngine({
    pipelines: {
      api: `name: api
durability: memory
source: {type: http, path: /lookup, reply_within: 2s}
sinks:
  - type: reply
    if: \${{ payload.name != 'late' }}
    status: "\${{ payload.name == 'missing' && 404 || 200 }}"
    headers: {X-Request-Id: "\${{ event.id }}"}
    body: {greeting: "Hello, \${{ payload.name }}", length: "\${{ length(payload.name) }}"}
  - name: late-reply
    type: reply
    if: \${{ payload.name == 'twice' }}
    late: fail
    text: "too late"
`,
    },
  });
  cleanups.push(() => engine.stop());
  const post = (body) => fetch(`${engine.url}/lookup`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  let res = await post({ name: 'Ada' });
  assert.equal(res.status, 200);
  assert.ok(res.headers.get('x-request-id'), 'the header rendered from the event');
  assert.deepEqual(await res.json(), { greeting: 'Hello, Ada', length: 3 });

  res = await post({ name: 'missing' });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).greeting, 'Hello, missing');

  // No sink's if: takes it: the usual 202 with the event id, at once (the pipeline is
  // through with it), not once reply_within is over.
  let started = Date.now();
  res = await post({ name: 'late' });
  assert.equal(res.status, 202);
  assert.ok((await res.json()).id);
  assert.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms`);

  // Two reply sinks: the first answers; the second finds nobody waiting and, with late: fail,
  // dead-letters its event with the reason.
  res = await post({ name: 'twice' });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).greeting, 'Hello, twice');
  await engine.waitFor((e) => /no request waits for event/.test(e.stderr), 10000, 'the late reply given up');
});

test('a request whose sinks all finish without replying gets its source\'s usual answer at once', async () => {
  const engine = await startEngine({
    pipelines: {
      quiet: `name: quiet
durability: disk
source: {type: http, path: /quiet, reply_within: 3s}
sinks:
  - {name: log, type: stdout}
  - {name: archive, type: stdout}
`,
    },
  });
  cleanups.push(() => engine.stop());
  const started = Date.now();
  const res = await fetch(`${engine.url}/quiet`, { method: 'POST', body: '{"n": 1}', headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 202);
  assert.ok((await res.json()).id);
  assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms, not when reply_within (3 s) was over`);
  await engine.waitFor(() => /: every sink it went to finished without replying and nothing answered it/.test(engine.stderr), 5000, 'the log line');
});
