// The smtp sink against a real SMTP server: aiosmtpd (Debian python3-aiosmtpd) on a free
// loopback port with STARTTLS from a CA made here and AUTH; what it received is parsed with
// Python's email package (tests/e2e/lib/smtp_server.py). Events come in through the http source.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startEngine, tempDir, dlq, dlqList, sign, SOURCE_DIR } from './lib/engine.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { makeCerts } from './lib/certs.mjs';
import { startSmtpServer, header, headerNames } from './lib/smtp.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const dir = tempDir('switchyard-smtp-');
cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
const certs = makeCerts(dir, {
  mail: 'IP:127.0.0.1,DNS:localhost',
  elsewhere: 'DNS:mail.example.com',  // a certificate for another host
});
const AUTH = { user: 'ci-user', password: 'app-password-1234' };
const TLS = { tls: 'starttls', cert: certs.file('mail', 'pem'), key: certs.file('mail', 'key'), auth: AUTH };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function server(config, name) {
  const s = await startSmtpServer(dir, config, name);
  cleanups.push(() => s.stop());
  return s;
}

async function engineWith(sinks) {
  const engine = await startEngine({
    pipelines: {
      mail: `name: mail
source: {type: http, path: /in, id_header: X-Request-Id}
sinks:
${sinks}`,
      // Keeps the HTTP listener up when the mail pipeline cannot start.
      other: 'name: other\nsource: {type: http, path: /other}\nsinks: [{type: blackhole}]\n',
    },
  });
  cleanups.push(() => engine.stop());
  return engine;
}

// One smtp sink (YAML, indented as a list item) with the usual server settings.
function sink({ name = 'email', port, extra = '', to = 'ops@example.com', retry = '{max_attempts: 5, initial: 100ms, max: 300ms}' }) {
  return `  - name: ${name}
    type: smtp
    host: 127.0.0.1
    port: ${port}
    ca_file: ${certs.ca}
    username: ${AUTH.user}
    password: ${AUTH.password}
    from: "CI Bot <ci@example.com>"
    to: ${to}
    subject: "Build failed: \${{ payload.message }}"
    text: "\${{ payload.log }}"
    retry: ${retry}
${extra}`;
}

async function post(engine, id, payload) {
  const res = await fetch(`${engine.url}/in`, {
    method: 'POST', body: JSON.stringify(payload),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  assert.equal(res.status, 202, await res.text());
}

async function waitForDlq(engine, predicate, what) {
  const end = Date.now() + 15000;
  let entries = [];
  while (Date.now() < end) {
    entries = await dlqList(engine.configFile);
    if (predicate(entries)) return entries;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; dead letters: ${JSON.stringify(entries)}\n${engine.stderr}`);
}

const metric = async (engine, name, labels = '') => {
  const text = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes('component="email"') && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
};

// The metric once it reaches `expected` (the sink counts after the server's reply reached it,
// which may be just after the server recorded the message), or its value after 5 s.
async function settledMetric(engine, name, expected, labels = '') {
  const end = Date.now() + 5000;
  let value = await metric(engine, name, labels);
  while (value !== expected && Date.now() < end) {
    await sleep(50);
    value = await metric(engine, name, labels);
  }
  return value;
}

test('a failed build arrives over STARTTLS with AUTH: headers, both parts, UTF-8 subject, dot lines, no injection', async () => {
  const smtp = await server(TLS, 'full');
  const engine = await engineWith(sink({
    port: smtp.port,
    to: '["ops@example.com", "\${{ payload.author }}"]',
    extra: `    cc: lead@example.com
    bcc: audit@example.com
    reply_to: "Ops <ops@example.com>"
    html: "<p>Build <b>failed</b>: \${{ payload.message }}</p>"
    headers: {X-Run-Id: "\${{ payload.run }}"}
`,
  }));
  await post(engine, 'run-1001', {
    message: 'Fix parser ✗ Grüße\r\nBcc: attacker@example.com',
    author: 'Jane Doe <jane@example.com>',
    run: 1001,
    log: 'step 1 ok\n.hidden starts with a dot\n.\nstep 2 failed\n',
  });
  await smtp.waitFor((s) => s.messages().length === 1, 10000, 'the message', engine);
  const [m] = smtp.messages();
  assert.equal(m.tls, true, 'sent after STARTTLS');
  assert.equal(m.auth, AUTH.user, 'authenticated');
  assert.equal(m.mail_from, 'ci@example.com');
  assert.deepEqual(m.rcpt_tos, ['ops@example.com', 'jane@example.com', 'lead@example.com', 'audit@example.com']);
  assert.deepEqual(m.message.defects, [], 'Python finds nothing wrong with it');

  assert.equal(header(m, 'From'), 'CI Bot <ci@example.com>');
  assert.equal(header(m, 'To'), 'ops@example.com, Jane Doe <jane@example.com>');
  assert.equal(header(m, 'Cc'), 'lead@example.com');
  assert.equal(header(m, 'Reply-To'), 'Ops <ops@example.com>');
  assert.equal(header(m, 'X-Run-Id'), '1001');
  assert.equal(header(m, 'Subject'), 'Build failed: Fix parser ✗ Grüße Bcc: attacker@example.com');
  assert.equal(header(m, 'Message-ID'), '<run-1001.mail=2Eemail@example.com>');
  assert.ok(!Number.isNaN(Date.parse(header(m, 'Date'))), header(m, 'Date'));
  const names = headerNames(m).map((n) => n.toLowerCase());
  assert.ok(!names.includes('bcc'), `no Bcc header: ${names}`);
  assert.equal(names.filter((n) => n === 'subject').length, 1);
  assert.ok(!m.rcpt_tos.includes('attacker@example.com'), 'the hostile commit message added no recipient');

  assert.equal(m.message.content_type, 'multipart/alternative');
  const [text, html] = m.message.parts;
  assert.equal(text.content_type, 'text/plain');
  assert.equal(text.charset, 'utf-8');
  assert.equal(text.content.replace(/\r\n/g, '\n'), 'step 1 ok\n.hidden starts with a dot\n.\nstep 2 failed\n',
    'lines starting with a dot, and a lone dot, arrive intact');
  assert.equal(html.content_type, 'text/html');
  assert.equal(html.content.replace(/\r\n/g, '\n'), '<p>Build <b>failed</b>: Fix parser ✗ Grüße\nBcc: attacker@example.com</p>\n',
    'in a body a line break is just a line break (normalised to CRLF on the wire)');
  const raw = Buffer.from(m.raw, 'base64');
  assert.ok(raw.every((b) => b < 0x80), 'the message is 7-bit on the wire');
  assert.equal(await settledMetric(engine, 'switchyard_smtp_messages_sent_total', 1), 1);
  assert.doesNotMatch(engine.stderr, new RegExp(AUTH.password), 'the password is never logged');
});

test('451 at the end of DATA is retried and the same message (same Message-ID) is accepted once', async () => {
  const smtp = await server({ ...TLS, data: ['451 4.3.0 Try again later'] }, 'retry');
  const engine = await engineWith(sink({ port: smtp.port }));
  await post(engine, 'retry-1', { message: 'flaky', log: 'x' });
  await smtp.waitFor((s) => s.messages().length === 1, 10000, 'the accepted retry', engine);
  await sleep(500);
  const refused = smtp.records().filter((r) => r.event === 'data_refused');
  assert.equal(refused.length, 1);
  assert.equal(smtp.messages().length, 1, 'accepted exactly once');
  assert.equal(header(smtp.messages()[0], 'Message-ID'), header(refused[0], 'Message-ID'), 'a retry keeps its Message-ID');
  assert.equal(header(smtp.messages()[0], 'Date'), header(refused[0], 'Date'));
  assert.match(engine.stderr, /attempt 1 failed \(the server refused the message: 451 4\.3\.0 Try again later\)/);
  assert.equal(await settledMetric(engine, 'switchyard_smtp_failures_total', 1, 'class="4xx"'), 1);
  assert.deepEqual(await dlqList(engine.configFile), []);
});

test('550 for the only recipient goes to the dead-letter queue with the server\'s reply', async () => {
  const reply = '550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown';
  const smtp = await server({ ...TLS, rcpt: { 'nobody@example.com': [reply, reply] } }, 'reject');
  const engine = await engineWith(sink({ port: smtp.port, to: 'nobody@example.com' }));
  await post(engine, 'reject-1', { message: 'x', log: 'y' });
  const [entry] = await waitForDlq(engine, (e) => e.length === 1, 'the dead letter');
  assert.equal(entry.event_id, 'reject-1');
  assert.equal(entry.sink, 'email');
  assert.equal(entry.attempts, 1, 'a 5xx is not retried');
  assert.equal(entry.error, `every recipient was refused: nobody@example.com: ${reply}`);
  assert.equal(smtp.messages().length, 0);
  const shown = JSON.parse((await dlq(engine.configFile, 'show', String(entry.id))).stdout);
  assert.match(shown.error, /550 5\.1\.1/);
  assert.equal(await settledMetric(engine, 'switchyard_smtp_failures_total', 1, 'class="5xx"'), 1);
});

test('partial recipient failures: nobody gets the message twice, through retries and a dead-letter replay', async () => {
  const gone = '550 5.1.1 gone@example.com: no such user';
  const smtp = await server({
    ...TLS,
    rcpt: { 'busy@example.com': ['451 4.2.1 mailbox busy'], 'gone@example.com': [gone, gone, gone, gone] },
  }, 'partial');
  const engine = await engineWith(sink({ port: smtp.port, to: 'ok@example.com, busy@example.com, gone@example.com' }));
  await post(engine, 'partial-1', { message: 'x', log: 'y' });
  const [entry] = await waitForDlq(engine, (e) => e.length === 1, 'the dead letter for gone@');
  assert.equal(entry.error, `delivered to 1 of 2 recipients; refused: gone@example.com: ${gone}`);
  const envelopes = smtp.messages().map((m) => m.rcpt_tos);
  assert.deepEqual(envelopes, [['ok@example.com'], ['busy@example.com']],
    'first to ok@ (busy@ said 451, gone@ 550), then to busy@ only');
  assert.match(engine.stderr, /event partial-1: delivered to 1 of 3 recipients; refused: busy@example\.com: 451 4\.2\.1 mailbox busy; gone@example\.com: 550/);

  // gone@ is fixed... not yet: the replay goes to gone@ alone and fails again.
  await dlq(engine.configFile, 'replay', String(entry.id));
  await smtp.waitFor((s) => s.records().filter((r) => r.event === 'rcpt_refused' && r.rcpt === 'gone@example.com').length === 3,
    10000, 'the replayed attempt', engine);
  await waitForDlq(engine, (e) => e.length === 1 && e[0].replay_requested === false, 'the entry back in the queue');
  await sleep(300);
  assert.equal(smtp.messages().length, 2, 'the replay sent nothing to ok@ or busy@');
  const rcpts = smtp.records().filter((r) => r.event === 'rcpt_refused').map((r) => r.rcpt);
  assert.deepEqual(rcpts, ['busy@example.com', 'gone@example.com', 'gone@example.com', 'gone@example.com']);
});

test('an untrusted certificate and a certificate for another host are refused; nothing is sent', async () => {
  const smtp = await server(TLS, 'untrusted');
  const other = await server({ ...TLS, cert: certs.file('elsewhere', 'pem'), key: certs.file('elsewhere', 'key') }, 'wrong-host');
  const engine = await engineWith(
    sink({ name: 'email', port: smtp.port }).replace(`    ca_file: ${certs.ca}\n`, '') +
    sink({ name: 'wronghost', port: other.port }));
  await post(engine, 'tls-1', { message: 'x', log: 'y' });
  const entries = await waitForDlq(engine, (e) => e.length === 2, 'both dead letters');
  const bySink = Object.fromEntries(entries.map((e) => [e.sink, e]));
  assert.equal(bySink.email.attempts, 1, 'certificates need an operator: not retried');
  assert.match(bySink.email.error, /^TLS: the server's certificate was not accepted: .*(unable to get local issuer|self.signed|certificate verify)/i);
  assert.match(bySink.wronghost.error, /^TLS: the server's certificate was not accepted: .*(subject name|host name|does not match)/i);
  assert.equal(smtp.messages().length + other.messages().length, 0);
  assert.ok(!smtp.records().some((r) => r.event === 'auth'), 'no credentials were sent');
});

test('plaintext is refused unless allowed; allowed, it warns and SMTPUTF8 carries a UTF-8 address', async () => {
  const plain = await server({ tls: 'none', smtputf8: true }, 'plain');
  // tls: starttls (the default) against a server without STARTTLS: refused, nothing sent in clear.
  const strict = await engineWith(sink({ port: plain.port, retry: '{max_attempts: 1}' }).replace(/    (username|password): .*\n/g, ''));
  await post(strict, 'plain-1', { message: 'x', log: 'y' });
  const [entry] = await waitForDlq(strict, (e) => e.length === 1, 'the refusal');
  assert.match(entry.error, /does not offer STARTTLS/);
  assert.equal(plain.messages().length, 0);

  // tls: none without allow_plaintext does not start.
  const refused = await engineWith(sink({ port: plain.port, extra: '    tls: none\n' }));
  await refused.waitFor((e) => /allow_plaintext/.test(e.stderr), 10000, 'the configuration error');
  assert.match(refused.stderr, /tls: none sends messages and the password in clear text; set allow_plaintext: true/);

  const allowed = await engineWith(sink({ port: plain.port, to: '"Jörg <jörg@bücher.example>"', extra: '    tls: none\n    allow_plaintext: true\n' })
    .replace(/    (username|password): .*\n/g, ''));
  await allowed.waitFor((e) => /unencrypted/.test(e.stderr), 10000, 'the warning');
  assert.match(allowed.stderr, /WARN.*tls: none: messages cross the network to 127\.0\.0\.1:\d+ unencrypted/i);
  await post(allowed, 'plain-2', { message: 'x', log: 'y' });
  await plain.waitFor((s) => s.messages().length === 1, 10000, 'the plaintext message', allowed);
  const [m] = plain.messages();
  assert.deepEqual(m.rcpt_tos, ['jörg@bücher.example']);
  assert.ok(m.mail_options.includes('SMTPUTF8'), `MAIL FROM asked for SMTPUTF8: ${m.mail_options}`);
  assert.equal(header(m, 'To'), 'Jörg <jörg@bücher.example>');
});

test('a wrong password fails permanently with a clear error', async () => {
  const smtp = await server(TLS, 'auth');
  const engine = await engineWith(sink({ port: smtp.port }).replace(`password: ${AUTH.password}`, 'password: not-the-password'));
  await post(engine, 'auth-1', { message: 'x', log: 'y' });
  const [entry] = await waitForDlq(engine, (e) => e.length === 1, 'the dead letter');
  assert.equal(entry.attempts, 1);
  assert.match(entry.error, /^authentication failed: 535 .*\(check username and password\)$/);
  assert.doesNotMatch(entry.error + engine.stderr, /not-the-password/, 'the password is never shown');
  assert.equal(smtp.messages().length, 0);
});

test('a message over the size the server announces (EHLO SIZE) is refused at MAIL FROM, permanently', async () => {
  const smtp = await server({ ...TLS, size: 300 }, 'size');
  const engine = await engineWith(sink({ port: smtp.port }));
  await post(engine, 'size-1', { message: 'x', log: 'a log line that makes the message longer. '.repeat(20) });
  const [entry] = await waitForDlq(engine, (e) => e.length === 1, 'the dead letter');
  assert.match(entry.error, /^the sender was refused \(MAIL FROM\): 552 .*\(the message is \d+ bytes; the server takes at most 300\)$/);
  assert.equal(smtp.records().filter((r) => r.event === 'data_refused' || r.event === 'message').length, 0,
    'the message itself was never sent');
});

test('a reply slower than timeout fails the attempt, retryable', async () => {
  const smtp = await server({ ...TLS, data_delay: 3 }, 'slow');
  const engine = await engineWith(sink({ port: smtp.port, extra: '    timeout: 1s\n', retry: '{max_attempts: 1}' }));
  const started = Date.now();
  await post(engine, 'slow-1', { message: 'x', log: 'y' });
  const [entry] = await waitForDlq(engine, (e) => e.length === 1, 'the timeout');
  assert.match(entry.error, /^timed out/);
  assert.ok(Date.now() - started < 2900, `gave up after ${Date.now() - started} ms, before the 3 s reply`);
});

test('100 messages go over one connection', async () => {
  const smtp = await server(TLS, 'reuse');
  const engine = await engineWith(sink({ port: smtp.port }));
  for (let i = 0; i < 100; i++) await post(engine, `reuse-${i}`, { message: `build ${i}`, log: 'y' });
  await smtp.waitFor((s) => s.messages().length === 100, 30000, '100 messages', engine);
  assert.equal(smtp.connections(), 1, 'one connection');
  assert.deepEqual([...new Set(smtp.messages().map((m) => m.conn))], [1]);
  assert.equal(smtp.records().filter((r) => r.event === 'auth').length, 1, 'one AUTH');
  assert.deepEqual(smtp.messages().map((m) => header(m, 'Subject')), [...Array(100).keys()].map((i) => `Build failed: build ${i}`),
    'in order');
  assert.equal(await settledMetric(engine, 'switchyard_smtp_connections_total', 1), 1);
  assert.equal(await settledMetric(engine, 'switchyard_smtp_messages_sent_total', 100), 100);
});

test('max_per_connection closes a connection after that many messages', async () => {
  const smtp = await server(TLS, 'per-connection');
  const engine = await engineWith(sink({ port: smtp.port, extra: '    max_per_connection: 3\n' }));
  for (let i = 0; i < 7; i++) await post(engine, `per-${i}`, { message: `build ${i}`, log: 'y' });
  await smtp.waitFor((s) => s.messages().length === 7, 10000, '7 messages', engine);
  assert.deepEqual(smtp.messages().map((m) => m.conn), [1, 1, 1, 2, 2, 2, 3]);
  assert.equal(await settledMetric(engine, 'switchyard_smtp_connections_total', 3), 3);
});

test('the shipped ci-dashboard alerts pipeline: a failed run on main is one Slack message and one e-mail', async () => {
  const smtp = await server(TLS, 'dashboard');
  const slack = await startReceiver(() => ({ status: 200, body: 'ok' }));
  cleanups.push(() => slack.close());
  const SECRET = 'dashboard-secret';
  const engine = await startEngine({
    pipelines: { alerts: readFileSync(join(SOURCE_DIR, 'pipelines/ci-dashboard/alerts.yaml'), 'utf8') },
    // What the shipped config/switchyard.yaml allows these pipelines to read.
    config: readFileSync(join(SOURCE_DIR, 'config/switchyard.yaml'), 'utf8').match(/^env:\n(?:[ #].*\n)*/m)[0],
    env: {
      GITHUB_WEBHOOK_SECRET: SECRET, SLACK_WEBHOOK_URL: `${slack.url}/services/T1/B1/x`,
      SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), SMTP_USERNAME: AUTH.user, SMTP_PASSWORD: AUTH.password,
      SMTP_CA_FILE: certs.ca, ALERT_FROM: 'CI <ci@example.com>', ALERT_TO: 'ops@example.com, lead@example.com',
    },
  });
  cleanups.push(() => engine.stop());
  const body = readFileSync(join(SOURCE_DIR, 'pipelines/tests/fixtures/workflow_run.completed.json'));
  for (let i = 0; i < 2; i++) {  // GitHub redelivers: a new delivery id, the same run
    const res = await fetch(`${engine.url}/github/alerts`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_run', 'x-github-delivery': randomUUID(),
        'x-hub-signature-256': sign(SECRET, body) },
    });
    assert.equal(res.status, 202, await res.text());
  }
  await smtp.waitFor((s) => s.messages().length === 1, 10000, 'the e-mail', engine);
  await engine.waitFor(() => slack.requests.length === 1, 10000, 'the Slack message');
  await sleep(500);
  assert.equal(smtp.messages().length, 1, 'one e-mail');
  assert.equal(slack.requests.length, 1, 'one Slack message');
  const [m] = smtp.messages();
  assert.deepEqual(m.rcpt_tos, ['ops@example.com', 'lead@example.com']);
  assert.match(header(m, 'Subject'), /^\[octo-org\/switchyard\] CI failed on main: Fix flaky retry test in runtime The backoff/,
    'the multi-line commit message is one subject line');
  assert.equal(header(m, 'X-GitHub-Run-Id'), '30433642');
  assert.match(m.message.parts[0].content, /https:\/\/github\.com\/octo-org\/switchyard\/actions\/runs\/30433642/);
  assert.match(slack.requests[0].body.text, /^Build failed: <https:\/\/github\.com\/.*\|CI #\d+> on octo-org\/switchyard \(main\)$/);
});
