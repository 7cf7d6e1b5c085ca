// github.webhook → slack.webhook against a fake Slack incoming webhook that checks what
// Slack checks (the webhook path, JSON, a text or blocks, Block Kit limits) and limits to
// about one message a second with short bursts (429 + Retry-After beyond that).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, sign, SOURCE_DIR } from './lib/engine.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const SECRET = 'slack-e2e-secret';
const HOOK = '/services/T0001/B0001/fakeSlackHookSecret';
const RUN = JSON.parse(readFileSync(join(SOURCE_DIR, 'pipelines/tests/fixtures/workflow_run.completed.json'), 'utf8'));
const chars = (s) => [...(s ?? '')].length;

function slackProblem(message) {
  const blocks = message.blocks ?? [];
  if (!message.text && blocks.length === 0 && !(message.attachments ?? []).length) return 'no_text';
  if (blocks.length > 50) return 'invalid_blocks';
  for (const b of blocks) {
    if (b.type === 'header' && !(chars(b.text?.text) >= 1 && chars(b.text.text) <= 150)) return 'invalid_blocks';
    if (b.type === 'section') {
      if (!b.text && !b.fields) return 'invalid_blocks';
      if (b.text && !(chars(b.text.text) >= 1 && chars(b.text.text) <= 3000)) return 'invalid_blocks';
      if ((b.fields ?? []).length > 10 || (b.fields ?? []).some((f) => chars(f.text) < 1 || chars(f.text) > 2000)) return 'invalid_blocks';
    }
  }
  return null;
}

async function startFakeSlack({ burst = 2, perSecond = 1, rateLimitFirst = 0 } = {}) {
  const state = { accepted: [], refused: [], limited: [] };
  let tokens = burst;
  let last = Date.now();
  let forced = rateLimitFirst;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const reply = (status, text, headers = {}) => { res.writeHead(status, { 'Content-Type': 'text/plain', ...headers }); res.end(text); };
      if (req.method !== 'POST') return reply(405, 'invalid_method');
      if (req.url !== HOOK) return reply(404, 'no_service');
      const now = Date.now();
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
      last = now;
      if (forced > 0) {
        state.limited.push(now);
        const seconds = forced;
        forced = 0;
        return reply(429, 'rate_limited', { 'Retry-After': String(seconds) });
      }
      if (tokens < 1) {
        state.limited.push(now);
        return reply(429, 'rate_limited', { 'Retry-After': '1' });
      }
      tokens -= 1;
      if (!/^application\/json/.test(req.headers['content-type'] ?? '')) return reply(400, 'invalid_payload');
      let message;
      try { message = JSON.parse(body); } catch { return reply(400, 'invalid_payload'); }
      const problem = slackProblem(message);
      if (problem) { state.refused.push({ message, problem }); return reply(400, problem); }
      state.accepted.push({ at: now, message });
      reply(200, 'ok');
    });
  });
  const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  return { state, url: `http://127.0.0.1:${port}${HOOK}`, close: () => new Promise((r) => server.close(r)) };
}

function pipeline(url) {
  return `name: ci-to-slack
durability: disk
source: {type: github.webhook, path: /gh, secret: ${SECRET}, events: [workflow_run], actions: [completed]}
transforms:
  - type: filter
    if: \${{ payload.workflow_run.conclusion == 'failure' }}
sinks:
  - name: alerts
    type: slack.webhook
    url: ${url}
    text: "<!here> Build failed: <\${{ payload.workflow_run.html_url }}|\${{ payload.workflow_run.name }}> on \${{ payload.workflow_run.head_branch }}"
    blocks:
      - {type: header, text: {type: plain_text, text: "\${{ payload.repository.full_name }}"}}
      - type: section
        text: {type: mrkdwn, text: "*\${{ payload.workflow_run.name }}* failed on \`\${{ payload.workflow_run.head_branch }}\`"}
        fields:
          - {type: mrkdwn, text: "*Run*\\n\${{ payload.workflow_run.run_number }}"}
          - {type: mrkdwn, text: "*By*\\n\${{ payload.sender.login }}"}
    retry: {max_attempts: 10, initial: 100ms, max: 5s}
`;
}

async function post(engine, name) {
  const payload = structuredClone(RUN);
  payload.workflow_run.name = name;
  const body = JSON.stringify(payload);
  const res = await fetch(`${engine.url}/gh`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run', 'x-github-delivery': randomUUID(),
      'x-hub-signature-256': sign(SECRET, body) },
  });
  assert.equal(res.status, 202, await res.text());
}

test('failed runs reach Slack one a second, escaped, nothing refused and no 429 collected', async () => {
  const slack = await startFakeSlack();
  cleanups.push(slack.close);
  const engine = await startEngine({ pipelines: { 'ci-to-slack': pipeline(slack.url) } });
  cleanups.push(() => engine.stop());
  const names = ['CI 0', 'CI 1', 'CI <!channel> & <https://evil.example|docs>', 'CI 3'];
  for (const n of names) await post(engine, n);

  const { state } = slack;
  await engine.waitFor(() => state.accepted.length >= 4, 20000, 'four alerts');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(state.refused, [], 'Slack refused nothing');
  assert.equal(state.limited.length, 0, 'one message a second never meets the rate limit');
  assert.equal(state.accepted.length, 4);
  const messages = state.accepted.map((a) => a.message);
  assert.match(messages[0].text, /^<!here> Build failed: <https:\/\/github\.com\/\S+\|CI 0> on main$/);
  assert.equal(messages[0].blocks[0].text.text, RUN.repository.full_name);
  assert.equal(messages[0].blocks[1].fields[0].text, `*Run*\n${RUN.workflow_run.run_number}`);
  // The run's name came from the event: its markup arrives as text.
  assert.match(messages[2].text, /\|CI &lt;!channel&gt; &amp; &lt;https:\/\/evil\.example\|docs&gt;> on main$/);
  const times = state.accepted.map((a) => a.at);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 950, `messages ${times[i] - times[i - 1]} ms apart`);
  assert.doesNotMatch(engine.stderr, /fakeSlackHookSecret/, 'the webhook URL is never logged');
});

test('a 429 is waited out for its Retry-After and the alert arrives once', async () => {
  const slack = await startFakeSlack({ rateLimitFirst: 2 });
  cleanups.push(slack.close);
  const engine = await startEngine({ pipelines: { 'ci-to-slack': pipeline(slack.url) } });
  cleanups.push(() => engine.stop());
  await post(engine, 'CI');
  const { state } = slack;
  await engine.waitFor(() => state.accepted.length === 1, 15000, 'the alert after the 429');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(state.accepted.length, 1);
  assert.equal(state.limited.length, 1);
  const gap = state.accepted[0].at - state.limited[0];
  assert.ok(gap >= 1950, `retried ${gap} ms after Retry-After: 2`);
});

test('slack.events over HTTP: url_verification, a signed event once despite a retry, a slash command, forgeries refused', async () => {
  const SIGNING = 'e2e-signing-secret';
  const engine = await startEngine({
    pipelines: {
      app: `name: app
durability: disk
source: {type: slack.events, path: /slack/events, secret: ${SIGNING}, command_reply: "Deploying…"}
sinks: [{name: out, type: stdout}]
`,
    },
  });
  cleanups.push(() => engine.stop());
  const slackPost = (body, { contentType = 'application/json', secret = SIGNING, age = 0, headers = {} } = {}) => {
    const ts = String(Math.floor(Date.now() / 1000) - age);
    const signature = 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
    return fetch(`${engine.url}/slack/events`, {
      method: 'POST', body,
      headers: { 'content-type': contentType, 'x-slack-request-timestamp': ts, 'x-slack-signature': signature, ...headers },
    });
  };

  let res = await slackPost(JSON.stringify({ type: 'url_verification', challenge: 'chal-123', token: 't' }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { challenge: 'chal-123' });

  const callback = JSON.stringify({ type: 'event_callback', team_id: 'T1', event_id: 'Ev42', event_time: 1,
    event: { type: 'app_mention', channel: 'C1', text: '<@U1> deploy', user: 'U2', ts: '1.2' } });
  assert.equal((await slackPost(callback)).status, 200);
  res = await slackPost(callback, { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, 'duplicate');

  res = await slackPost('command=%2Fdeploy&text=api&team_id=T1&channel_id=C1&trigger_id=trig-1&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2Fx',
    { contentType: 'application/x-www-form-urlencoded' });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { response_type: 'ephemeral', text: 'Deploying…' });

  // Forged, replayed and unsigned requests.
  assert.equal((await slackPost(callback.replace('Ev42', 'Ev43'), { secret: 'guess' })).status, 401);
  assert.equal((await slackPost(callback.replace('Ev42', 'Ev44'), { age: 600 })).status, 401);
  assert.equal((await fetch(`${engine.url}/slack/events`, { method: 'POST', body: callback })).status, 401);

  await engine.waitFor(() => engine.events().length >= 2, 10000, 'the event and the command');
  await new Promise((r) => setTimeout(r, 300));
  const events = engine.events();
  assert.deepEqual(events.map((e) => e.type), ['slack.app_mention', 'slack.command']);
  assert.equal(events[0].id, 'Ev42');
  assert.equal(events[1].subject, '/deploy');
  assert.equal(events[1].data.text, 'api');
});

test('switchyard send slack signs a slash command and an event as Slack does', async () => {
  const { runSwitchyard, tempDir } = await import('./lib/engine.mjs');
  const { writeFileSync, rmSync } = await import('node:fs');
  const engine = await startEngine({
    pipelines: {
      app: `name: app
source: {type: slack.events, secret: send-secret}
sinks: [{name: out, type: stdout}]
`,
    },
  });
  cleanups.push(() => engine.stop());
  const dir = tempDir('switchyard-send-');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'command.txt'), 'command=%2Fstatus&text=api&team_id=T1&trigger_id=trig-send-1');
  writeFileSync(join(dir, 'event.json'), JSON.stringify({ type: 'event_callback', team_id: 'T1', event_id: 'EvSend1',
    event: { type: 'app_mention', channel: 'C1', text: 'hi' } }));
  const url = `${engine.url}/slack/events`;
  let r = await runSwitchyard(['send', 'slack', join(dir, 'command.txt'), '--url', url], { env: { SLACK_SIGNING_SECRET: 'send-secret' } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  r = await runSwitchyard(['send', 'slack', join(dir, 'event.json'), '--secret', 'send-secret', '--url', url]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  r = await runSwitchyard(['send', 'slack', join(dir, 'event.json'), '--secret', 'wrong', '--url', url]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^HTTP 401/);
  await engine.waitFor(() => engine.events().length >= 2, 10000, 'both requests as events');
  assert.deepEqual(engine.events().map((e) => e.type), ['slack.command', 'slack.app_mention']);
});
