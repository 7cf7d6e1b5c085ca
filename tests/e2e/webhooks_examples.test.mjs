// Every example payload GitHub publishes (@octokit/webhooks-examples, pinned) is signed,
// posted over a real socket to github.webhook, accepted, and comes out of the stdout sink
// as an event with the right type, source, subject and id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Agent, request } from 'node:http';
import { startEngine, sign } from './lib/engine.mjs';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json');
const SECRET = 'e2e-secret';
let engine;

before(async () => {
  engine = await startEngine({
    pipelines: {
      gh: `name: gh
durability: memory
queue_size: 100000
source: {type: github.webhook, path: /gh, secret: ${SECRET}}
sinks: [{name: out, type: stdout, queue_size: 100000}]
`,
    },
  });
});
after(async () => { await engine?.stop(); });

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
function post(path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: engine.port, method: 'POST', path, headers, agent }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectedSubject(name, p) {
  const strip = (r) => (r || '').replace(/^refs\/(heads|tags)\//, '');
  switch (name) {
    case 'push': case 'create': case 'delete': return strip(p.ref);
    case 'issues': case 'issue_comment': return String(p.issue?.number ?? '');
    case 'discussion': case 'discussion_comment': return String(p.discussion?.number ?? '');
    case 'workflow_run': return p.workflow_run?.head_branch ?? '';
    case 'workflow_job': return p.workflow_job?.head_branch ?? '';
    case 'check_suite': return p.check_suite?.head_branch ?? '';
    case 'check_run': return p.check_run?.check_suite?.head_branch ?? '';
    case 'deployment': case 'deployment_status': return strip(p.deployment?.ref);
    case 'release': return p.release?.tag_name ?? '';
    default:
      if (name.startsWith('pull_request')) return String(p.pull_request?.number ?? '');
      return '';
  }
}

function expectedSource(p) {
  if (p.repository?.html_url) return p.repository.html_url;
  if (p.organization?.login) return `https://github.com/${p.organization.login}`;
  if (p.enterprise?.html_url) return p.enterprise.html_url;
  return 'https://github.com';
}

test('every @octokit/webhooks-examples payload is accepted and mapped', async () => {
  const sent = [];
  let n = 0;
  for (const group of examples) {
    for (const payload of group.examples) {
      const body = JSON.stringify(payload);
      const delivery = `e2e-${group.name}-${n++}`;
      const res = await post('/gh', {
        'content-type': 'application/json',
        'x-github-event': group.name,
        'x-github-delivery': delivery,
        'x-hub-signature-256': sign(SECRET, body),
        'user-agent': 'GitHub-Hookshot/e2e',
      }, body);
      if (group.name === 'ping') {
        assert.equal(res.status, 200, `ping: ${res.body}`);
        continue;
      }
      assert.equal(res.status, 202, `${group.name} ${delivery}: ${res.body}`);
      sent.push({ name: group.name, payload, delivery });
    }
  }
  assert.ok(sent.length > 300, `only ${sent.length} examples`);
  await engine.waitFor((e) => e.events().length >= sent.length, 20000, `${sent.length} events on stdout`);
  const byId = new Map(engine.events().map((e) => [e.id, e]));
  for (const { name, payload, delivery } of sent) {
    const e = byId.get(delivery);
    assert.ok(e, `no event for ${delivery}`);
    const type = `github.${name}${payload.action ? '.' + payload.action : ''}`;
    assert.equal(e.type, type, delivery);
    assert.equal(e.source, expectedSource(payload), delivery);
    assert.equal(e.subject ?? '', expectedSubject(name, payload), delivery);
    assert.equal(e.meta['x-github-event'], name);
    assert.deepEqual(e.data, payload, `${delivery}: payload changed on the way`);
  }
  assert.equal(engine.events().length, sent.length, 'no extra events');
});

// The sink writes a payload as the source received it (not serialised again), without the
// line breaks and indentation of a pretty-printed body: each example, indented with
// CRLF line ends, still comes out as one line per event holding the same payload.
test('pretty-printed payloads come out on one line each, unchanged in meaning', async () => {
  const before = engine.events().length;
  const sent = [];
  let n = 0;
  for (const group of examples) {
    if (group.name === 'ping') continue;
    for (const payload of group.examples) {
      const body = JSON.stringify(payload, null, n % 2 ? 2 : '\t').replace(/\n/g, n % 3 ? '\n' : '\r\n');
      const delivery = `e2e-pretty-${group.name}-${n++}`;
      const res = await post('/gh', {
        'content-type': 'application/json',
        'x-github-event': group.name,
        'x-github-delivery': delivery,
        'x-hub-signature-256': sign(SECRET, body),
      }, body);
      assert.equal(res.status, 202, `${group.name} ${delivery}: ${res.body}`);
      sent.push({ payload, delivery });
    }
  }
  await engine.waitFor((e) => e.events().length >= before + sent.length, 20000, `${sent.length} more events on stdout`);
  const byId = new Map(engine.events().map((e) => [e.id, e]));
  for (const { payload, delivery } of sent) {
    assert.ok(byId.has(delivery), `no event (or not one line) for ${delivery}`);
    assert.deepEqual(byId.get(delivery).data, payload, `${delivery}: payload changed on the way`);
  }
  assert.equal(engine.events().length, before + sent.length, 'no extra events');
});
