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

// `pipelines`: { name: yamlText }. `config`: extra YAML appended to the engine config.
export async function startEngine({ pipelines, config = '', env = {}, timeoutMs = 15000 }) {
  const dir = tempDir();
  mkdirSync(join(dir, 'pipelines'));
  for (const [name, text] of Object.entries(pipelines)) writeFileSync(join(dir, 'pipelines', `${name}.yaml`), text);
  const http = /^http:/m.test(config) ? '' : 'http: {listen: "127.0.0.1:0"}\n';
  writeFileSync(join(dir, 'switchyard.yaml'),
    `${http}pipelines: {dir: ${join(dir, 'pipelines')}, watch: false}\nstate: {dir: ${join(dir, 'state')}}\n` +
    `runtime: {shutdown_timeout: 5s}\n${config}`);
  const child = spawn(BINARY, ['run', '-c', join(dir, 'switchyard.yaml')], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const engine = {
    dir, child, stdout: '', stderr: '', port: 0, url: '', exited: null,
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
        await new Promise((r) => child.once('exit', r));
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
      return this.exited;
    },
  };
  child.stdout.on('data', (d) => { engine.stdout += d; });
  child.stderr.on('data', (d) => { engine.stderr += d; });
  child.on('exit', (code, signal) => { engine.exited = code ?? 128; if (signal) engine.signal = signal; });
  const started = Date.now();
  while (!engine.port) {
    const m = /listening on (https?):\/\/([\d.]+):(\d+)/.exec(engine.stderr);
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
