// A real SMTP server for tests: aiosmtpd (Debian python3-aiosmtpd) run by smtp_server.py on a
// free loopback port, stopped by PID. What it received, parsed with Python's email package,
// is read from its record file (one JSON object per line).
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'smtp_server.py');
// Debian's interpreter, which has python3-aiosmtpd (a python3 earlier on PATH may not).
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// config: see smtp_server.py (tls, cert, key, auth, rcpt, data, data_delay, size, smtputf8).
export async function startSmtpServer(dir, config = {}, name = 'smtp') {
  const recordFile = join(dir, `${name}-records.jsonl`);
  const child = spawn(PYTHON, [SCRIPT, JSON.stringify(config), recordFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  const done = new Promise((resolve) => child.once('exit', (code) => { exited = code ?? 128; resolve(); }));
  const deadline = Date.now() + 10000;
  while (!/"port"/.test(stdout)) {
    if (exited !== null) throw new Error(`smtp_server.py exited ${exited}:\n${stderr}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`smtp_server.py did not start:\n${stderr}`); }
    await new Promise((r) => setTimeout(r, 20));
  }
  const { port } = JSON.parse(stdout.split('\n')[0]);
  const server = {
    port,
    get stderr() { return stderr; },
    records() {
      if (!existsSync(recordFile)) return [];
      return readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    messages() { return this.records().filter((r) => r.event === 'message'); },
    connections() { return this.records().filter((r) => r.event === 'connect').length; },
    async waitFor(predicate, ms = 10000, what = 'condition', engine = null) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (predicate(this)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`timed out waiting for ${what}; server saw:\n${JSON.stringify(this.records().map((r) => ({ ...r, raw: undefined, message: undefined })), null, 1)}\n` +
        `${stderr}${engine ? `\nengine log:\n${engine.stderr}` : ''}`);
    },
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(killer);
      }
    },
  };
  return server;
}

// The value of header `name` of a recorded message (as Python's email package decoded it).
export function header(message, name) {
  const found = message.message.headers.find(([n]) => n.toLowerCase() === name.toLowerCase());
  return found ? found[1] : undefined;
}

export function headerNames(message) {
  return message.message.headers.map(([n]) => n);
}
