// `cmake --install` of the build into a temp prefix, and the installed engine started from
// that tree as an operator would (no -c: it finds etc/switchyard/switchyard.yaml beside its
// bin/), on loopback port 0 with a temp state dir, stopped by PID.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BUILD_DIR = process.env.SWITCHYARD_BUILD_DIR;
if (!BUILD_DIR) throw new Error('SWITCHYARD_BUILD_DIR must be set (ctest sets it)');

// Installs the build (stripped, as the Dockerfile does) into a fresh temp prefix.
export function installTree() {
  const prefix = mkdtempSync(join(tmpdir(), 'switchyard-install-'));
  const r = spawnSync('cmake', ['--install', BUILD_DIR, '--prefix', prefix, '--strip'], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) {
    rmSync(prefix, { recursive: true, force: true });
    throw new Error(`cmake --install failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  }
  return { prefix, remove: () => rmSync(prefix, { recursive: true, force: true }) };
}

// process.env with `env` over it; a key set to undefined is removed (unset, not empty).
function environment(env) {
  const out = { ...process.env, ...env };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

// Runs a command of the installed tree to completion; { code, stdout, stderr }.
export function runInstalled(prefix, args, { cwd, env = {}, timeoutMs = 20000 } = {}) {
  const r = spawnSync(join(prefix, 'bin', 'switchyard'), args, {
    cwd: cwd ?? tmpdir(), env: environment(env), encoding: 'utf8', timeout: timeoutMs,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// The environment that puts the installed configuration's listeners on loopback port 0 and
// its journal in `stateDir` (keys of contrib/etc/switchyard.yaml).
export function loopbackEnv(stateDir) {
  return {
    SWITCHYARD_HTTP_LISTEN: '127.0.0.1:0',
    SWITCHYARD_ADMIN_LISTEN: '127.0.0.1:0',
    SWITCHYARD_STATE_DIR: stateDir,
  };
}

// Starts `command args` (by default the installed `switchyard run`, no -c) and waits until
// both listeners logged their bound address.
export async function startInstalled(prefix, { command, args = ['run'], cwd, env = {}, timeoutMs = 15000 } = {}) {
  const child = spawn(command ?? join(prefix, 'bin', 'switchyard'), args, {
    cwd: cwd ?? tmpdir(), env: environment(env), stdio: ['ignore', 'pipe', 'pipe'],
  });
  const engine = {
    child, stdout: '', stderr: '', url: '', adminUrl: '', exited: null,
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
      return this.exited;
    },
  };
  child.stdout.on('data', (d) => { engine.stdout += d; });
  child.stderr.on('data', (d) => { engine.stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    engine.exited = code ?? 128;
    engine.signal = signal;
    resolve();
  }));
  await engine.waitFor((e) => {
    const m = /\[http\] listening on (https?):\/\/[\d.]+:(\d+)/.exec(e.stderr);
    const a = /\[admin\] listening on (https?):\/\/[\d.]+:(\d+)/.exec(e.stderr);
    if (m) e.url = `${m[1]}://127.0.0.1:${m[2]}`;
    if (a) e.adminUrl = `${a[1]}://127.0.0.1:${a[2]}`;
    return m && a;
  }, timeoutMs, 'both listeners').catch((err) => { child.kill('SIGKILL'); throw err; });
  return engine;
}
