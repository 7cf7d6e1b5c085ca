// Starts the real switchyard binary on loopback in a temp dir and stops it by PID.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BINARY = process.env.SWITCHYARD_BINARY;
export const SOURCE_DIR = process.env.SWITCHYARD_SOURCE_DIR;
if (!BINARY || !SOURCE_DIR) throw new Error('SWITCHYARD_BINARY and SWITCHYARD_SOURCE_DIR must be set (ctest sets them)');

export function sign(secret, body) {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

export function tempDir(prefix = 'switchyard-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Writes an engine directory: switchyard.yaml, pipelines/ and (on first run) state/.
// `pipelines`: { name: yamlText }. `config`: extra YAML appended to the engine config;
// `state`: extra keys of its `state:` mapping (e.g. 'max_bytes: 300KiB').
export function writeEngineDir(dir, { pipelines, config = '', state = '', watch = false }) {
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  for (const [name, text] of Object.entries(pipelines)) writeFileSync(join(dir, 'pipelines', `${name}.yaml`), text);
  const http = /^http:/m.test(config) ? '' : 'http: {listen: "127.0.0.1:0"}\n';
  const admin = /^admin:/m.test(config) ? '' : 'admin: {listen: "127.0.0.1:0"}\n';
  const stateKeys = [`dir: ${join(dir, 'state')}`, ...(state ? [state] : [])].join(', ');
  writeFileSync(join(dir, 'switchyard.yaml'),
    `${http}${admin}pipelines: {dir: ${join(dir, 'pipelines')}, watch: ${watch}}\nstate: {${stateKeys}}\n` +
    `runtime: {shutdown_timeout: 5s}\n${config}`);
  return join(dir, 'switchyard.yaml');
}

// Starts `switchyard run` on a fresh temp dir, or on `dir` when given (a restart: with no
// `pipelines`, the files already there are used as they are). stop() deletes the dir unless
// `keep` is set or `dir` was given; kill(signal) ends the process and never deletes it.
// `openFiles`: the process's open-file limit (soft and hard), as `ulimit -n` sets it.
export async function startEngine({ pipelines, config = '', state = '', env = {}, timeoutMs = 15000, dir, keep = false, watch = false, openFiles }) {
  const ownDir = !dir;
  if (ownDir) dir = tempDir();
  if (pipelines || ownDir) writeEngineDir(dir, { pipelines: pipelines ?? {}, config, state, watch });
  const configFile = join(dir, 'switchyard.yaml');
  const [command, args] = openFiles
    ? ['sh', ['-c', `ulimit -n ${openFiles} && exec "$0" "$@"`, BINARY, 'run', '-c', configFile]]
    : [BINARY, ['run', '-c', configFile]];
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const engine = {
    dir, configFile, child, stdout: '', stderr: '', port: 0, url: '', adminUrl: '', exited: null,
    events() {
      return this.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    },
    async waitFor(predicate, ms = 10000, what = 'condition') {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (predicate(this)) return;
        if (this.exited !== null) throw new Error(`engine exited (${this.exited}) while waiting for ${what}:\n${this.stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`timed out waiting for ${what}; engine log:\n${this.stderr}`);
    },
    async stop() {
      if (this.exited === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(killer);
      }
      if (ownDir && !keep) rmSync(dir, { recursive: true, force: true });
      return this.exited;
    },
    // Sends `signal` (default SIGKILL: a crash) and waits for the process to end.
    async kill(signal = 'SIGKILL') {
      if (this.exited === null) {
        child.kill(signal);
        await exited;
      }
      return this.exited;
    },
  };
  child.stdout.on('data', (d) => { engine.stdout += d; });
  child.stderr.on('data', (d) => { engine.stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    engine.exited = code ?? 128;
    if (signal) engine.signal = signal;
    resolve();
  }));
  const started = Date.now();
  while (!engine.port) {
    const m = /\[http\] listening on (https?):\/\/([\d.]+):(\d+)/.exec(engine.stderr);
    const a = /\[admin\] listening on (https?):\/\/([\d.]+):(\d+)/.exec(engine.stderr);
    if (a) engine.adminUrl = `${a[1]}://127.0.0.1:${a[3]}`;
    if (m) {
      engine.port = Number(m[3]);
      engine.url = `${m[1]}://127.0.0.1:${engine.port}`;
      break;
    }
    if (engine.exited !== null) throw new Error(`engine exited with ${engine.exited}:\n${engine.stderr}`);
    if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`engine did not start listening:\n${engine.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return engine;
}

// Runs one switchyard command to completion (killed by PID after `timeoutMs`); resolves with
// { code, signal, stdout, stderr, timedOut }.
export function runSwitchyard(args, { timeoutMs = 15000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

// `switchyard dlq ARGS... -c CONFIG`; throws with the output unless it exits 0.
export async function dlq(configFile, ...args) {
  const r = await runSwitchyard(['dlq', ...args, '-c', configFile]);
  if (r.code !== 0) throw new Error(`switchyard dlq ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stdout}${r.stderr}`);
  return r;
}

// The dead-letter queue as `dlq list --json` prints it (an array of entries).
export async function dlqList(configFile, ...filters) {
  const r = await dlq(configFile, 'list', '--json', ...filters);
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`dlq list --json printed something that is not JSON (${e.message}):\n${r.stdout}`);
  }
}
