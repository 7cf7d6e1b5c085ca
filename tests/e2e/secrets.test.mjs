// Secrets in options stay out of the admin API and the console (issue 16, item 9): the http
// sink's URL shows without its query values and user info, a value interpolated from
// ${VAR} shows as written, and a URL with credentials is refused by validate — while the
// sink itself sends the real values.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, runSwitchyard, tempDir, writeEngineDir } from './lib/engine.mjs';
import { startReceiver, waitUntil } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const KEY = 'query-api-key-7f3a';
const TOKEN = 'bearer-token-91c2';

// The first `bytes` of the console's event stream.
async function streamStart(url, bytes = 2000) {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes('event: pipelines') && text.length >= bytes) break;
  }
  controller.abort();
  return text;
}

test('the http sink\'s URL query and interpolated values never show in /api/pipelines or the console', async () => {
  const receiver = await startReceiver(() => ({ status: 200 }));
  cleanups.push(() => receiver.close());
  const engine = await startEngine({
    pipelines: {
      out: `name: out
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
  - name: api
    type: http
    url: ${receiver.url}/hook?api_key=\${HOOK_KEY}&region=eu
    headers: {Authorization: "Bearer \${HOOK_TOKEN}"}
`,
    },
    config: 'env: {allow: [HOOK_KEY, HOOK_TOKEN]}\n',
    env: { HOOK_KEY: KEY, HOOK_TOKEN: TOKEN },
  });
  cleanups.push(() => engine.stop());
  const res = await fetch(`${engine.url}/in`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-request-id': 's-1' } });
  assert.equal(res.status, 202);
  await waitUntil(() => receiver.requests.length === 1, 10000, 'the delivery');
  assert.equal(receiver.requests[0].url, `/hook?api_key=${KEY}&region=eu`, 'the sink sends the real URL');
  assert.equal(receiver.requests[0].headers.authorization, `Bearer ${TOKEN}`);

  const api = await (await fetch(`${engine.adminUrl}/api/pipelines`)).text();
  const stream = await streamStart(`${engine.adminUrl}/api/stream`);
  for (const [what, text] of [['/api/pipelines', api], ['/api/stream', stream]]) {
    assert.ok(!text.includes(KEY) && !text.includes(TOKEN), `${what} shows a secret: ${text.slice(0, 2000)}`);
  }
  const [pipeline] = JSON.parse(api);
  assert.equal(pipeline.sinks[0].options.url, `${receiver.url}/hook?api_key=<redacted>&region=<redacted>`);
  assert.equal(pipeline.sinks[0].options.headers, '<redacted>');
});

test('validate refuses a password in a URL, without printing it', async () => {
  const dir = tempDir();
  cleanups.push(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
  const config = writeEngineDir(dir, {
    pipelines: { p: 'source: {type: generate}\nsinks:\n  - type: http\n    url: https://deploy:hunter2@hooks.example.com/x\n' },
  });
  const r = await runSwitchyard(['validate', '-c', config]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /p\.yaml:4:5: sinks\[0\]\.url: user info in a URL \(user:password@host\) is refused/);
  assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
});
