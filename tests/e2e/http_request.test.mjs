// The http.request transform end to end: events posted to the real engine are enriched
// with the answer of a local API (a GET per event, or one per TTL with cache_ttl); the
// credentials header reaches the API and never the admin API; a slow API costs an event
// at most `timeout` and on_error decides what becomes of it; TLS is verified against a
// private CA.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync, rmSync } from 'node:fs';
import { startEngine, tempDir } from './lib/engine.mjs';
import { makeCerts } from './lib/certs.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function post(engine, path, body) {
  const res = await fetch(`${engine.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return res.status;
}

// A users API: /users/<login> answers {login, name}; /slow/... never answers.
async function usersApi(createServerFn = createServer, options) {
  const api = { hits: [], authorization: [] };
  const handler = (req, res) => {
    api.hits.push(req.url);
    api.authorization.push(req.headers.authorization);
    const m = /^\/users\/([^/?]+)$/.exec(req.url);
    if (req.url.startsWith('/slow/')) return;  // held open: the engine's timeout decides
    if (!m) { res.writeHead(404, { 'content-type': 'application/json' }); return res.end('{"message":"Not Found"}'); }
    const login = decodeURIComponent(m[1]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ login, name: `Name of ${login}` }));
  };
  const server = options ? createServerFn(options, handler) : createServerFn(handler);
  api.port = await listen(server);
  cleanups.push(() => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }));
  return api;
}

// Waits until every named pipeline has started (the listener opens before the last one has).
async function started(engine, ...names) {
  for (const name of names) {
    await engine.waitFor((e) => new RegExp(`pipeline ${name} started`).test(e.stderr), 10000, `pipeline ${name}`);
  }
}

function enrich(name, path, url, extra = '') {
  return `name: ${name}
source: {type: http, path: ${path}}
transforms:
  - type: http.request
    url: "${url}"
    ${extra}
sinks:
  - type: stdout
`;
}

test('each event gets the API answer for its own user; a cached GET is asked once; the token stays secret', async () => {
  const api = await usersApi();
  const engine = await startEngine({
    pipelines: {
      users: enrich('users', '/in', `http://127.0.0.1:${api.port}/users/\${{ urlencode(payload.login) }}`,
        `headers: {Authorization: "Bearer s3cret-api-token"}
    into: payload.user
    cache_ttl: 1m`),
    },
  });
  cleanups.push(() => engine.stop());
  await started(engine, 'users');

  for (const login of ['octocat', 'hubot', 'octocat', 'a/b c']) assert.equal(await post(engine, '/in', { login }), 202);
  await engine.waitFor((e) => e.events().length === 4, 10000, 'four enriched events');
  const users = engine.events().map((e) => e.data.user);
  assert.deepEqual(users.map((u) => u.name), ['Name of octocat', 'Name of hubot', 'Name of octocat', 'Name of a/b c']);
  // octocat's second event came from the cache; 'a/b c' was encoded into one path segment.
  assert.deepEqual(api.hits, ['/users/octocat', '/users/hubot', '/users/a%2Fb%20c']);
  assert.ok(api.authorization.every((a) => a === 'Bearer s3cret-api-token'));

  const pipelines = await (await fetch(`${engine.adminUrl}/api/pipelines`)).text();
  assert.match(pipelines, /http\.request/);
  assert.doesNotMatch(pipelines, /s3cret-api-token/);
  assert.doesNotMatch(engine.stderr, /s3cret-api-token/);
  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  assert.match(metrics, /switchyard_http_request_cache_hits_total\{[^}]*pipeline="users"[^}]*\} 1/);
});

test('a slow API costs an event at most timeout: pass delivers it without the answer, fail does not', async () => {
  const api = await usersApi();
  const slow = `http://127.0.0.1:${api.port}/slow/\${{ payload.n }}`;
  const engine = await startEngine({
    pipelines: {
      passing: enrich('passing', '/pass', slow, 'timeout: 500ms'),
      failing: enrich('failing', '/fail', slow, 'timeout: 500ms\n    on_error: fail'),
    },
  });
  cleanups.push(() => engine.stop());
  await started(engine, 'passing', 'failing');

  const begun = Date.now();
  const [passed, failed] = await Promise.all([post(engine, '/pass', { n: 1 }), post(engine, '/fail', { n: 2 })]);
  // The source answers once the transforms are done with the event, either way.
  assert.equal(passed, 202);
  assert.equal(failed, 202);
  assert.ok(Date.now() - begun < 4000, `answered after ${Date.now() - begun} ms`);
  await engine.waitFor((e) => e.events().length === 1, 5000, 'the passed event');
  const [event] = engine.events();
  assert.equal(event.data.n, 1);
  assert.equal(event.meta.response, null);
  // The engine's client or the transform's own deadline, whichever notices first.
  const timedOut = '(no answer within 500ms|request timeout 500 ms)';
  await engine.waitFor((e) => new RegExp(`failing[^\n]*event [^\n]*failed: [^\n]*${timedOut}`).test(e.stderr), 5000, 'the failure logged');
  assert.match(engine.stderr, new RegExp(`passing[^\n]*${timedOut}[^\n]*; passed on without an answer`));
  assert.equal(engine.events().length, 1);
  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  assert.match(metrics, /switchyard_http_request_failures_total\{[^}]*pipeline="failing"[^}]*\} 1/);
});

test('TLS: the API certificate is verified; a private CA is trusted through ca_file', async () => {
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCerts(dir, { api: 'IP:127.0.0.1' });
  const api = await usersApi(createTlsServer, { key: readFileSync(certs.file('api', 'key')), cert: readFileSync(certs.file('api', 'pem')) });
  const url = `https://127.0.0.1:${api.port}/users/\${{ urlencode(payload.login) }}`;
  const engine = await startEngine({
    pipelines: {
      trusted: enrich('trusted', '/trusted', url, `ca_file: ${certs.ca}`),
      unknown: enrich('unknown', '/unknown', url),
    },
  });
  cleanups.push(() => engine.stop());
  await started(engine, 'trusted', 'unknown');

  assert.equal(await post(engine, '/trusted', { login: 'octocat' }), 202);
  assert.equal(await post(engine, '/unknown', { login: 'hubot' }), 202);
  await engine.waitFor((e) => e.events().length === 2, 10000, 'both events');
  const byLogin = Object.fromEntries(engine.events().map((e) => [e.data.login, e.meta.response]));
  assert.deepEqual(byLogin.octocat, { login: 'octocat', name: 'Name of octocat' });
  assert.equal(byLogin.hubot, null);
  assert.match(engine.stderr, /unknown[^\n]*not trusted/);
  assert.deepEqual(api.hits, ['/users/octocat']);
});
