// docs/getting-started.md, run: every fenced sh block marked <!-- runnable --> is executed
// in order, as the page says ("How this page is checked"), against an engine started the way
// `make run` starts it, from a temp copy of config/ and pipelines/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY, SOURCE_DIR, tempDir } from './lib/engine.mjs';
import { startInstalled } from './lib/install.mjs';
import { startFakeDiscord } from './lib/fake_discord.mjs';
import { startPostgres } from './lib/postgres.mjs';

// The marked blocks: { line, attrs: {expect-engine, expect-log, expect-discord, retry}, code }.
function runnableBlocks(markdown) {
  const lines = markdown.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*runnable\b(.*?)-->\s*$/.exec(lines[i]);
    if (!marker) continue;
    assert.equal(lines[i + 1], '```sh', `line ${i + 2}: a runnable marker is followed by a \`\`\`sh fence`);
    const attrs = {};
    for (const m of marker[1].matchAll(/([\w-]+)(?:="([^"]*)")?/g)) attrs[m[1]] = m[2] ?? true;
    const end = lines.indexOf('```', i + 2);
    assert.ok(end > i, `line ${i + 2}: the fence is closed`);
    blocks.push({ line: i + 2, attrs, code: lines.slice(i + 2, end).join('\n') });
    i = end;
  }
  return blocks;
}

function sh(code, { cwd, env, timeoutMs = 20000 }) {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-e', '-c', code], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

const page = readFileSync(join(SOURCE_DIR, 'docs', 'getting-started.md'), 'utf8');
let dir;
let discord;
let pg;
let engine;

before(async () => {
  dir = tempDir('switchyard-getting-started-');
  // The checkout as the page has it: config/, pipelines/ and build/bin/switchyard.
  cpSync(join(SOURCE_DIR, 'config'), join(dir, 'config'), { recursive: true });
  cpSync(join(SOURCE_DIR, 'pipelines'), join(dir, 'pipelines'), { recursive: true });
  mkdirSync(join(dir, 'build', 'bin'), { recursive: true });
  symlinkSync(BINARY, join(dir, 'build', 'bin', 'switchyard'));
  discord = await startFakeDiscord();
  pg = await startPostgres();
});

after(async () => {
  await engine?.stop();
  await discord?.close();
  await pg?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every runnable block of docs/getting-started.md works, in order', { timeout: 240_000 }, async (t) => {
  const blocks = runnableBlocks(page);
  assert.ok(blocks.length >= 8, `the page has runnable blocks (${blocks.length})`);
  const env = {
    GITHUB_WEBHOOK_SECRET: undefined, SWITCHYARD_ADMIN_TOKEN: undefined,
    DISCORD_WEBHOOK_URL: discord.url, DATABASE_URL: pg.url,
  };
  // `make run`: the shipped configuration, unchanged but for loopback port 0 listeners.
  const config = readFileSync(join(dir, 'config', 'switchyard.yaml'), 'utf8')
    .replace(/listen: "127\.0\.0\.1:8080"/, 'listen: "127.0.0.1:0"').replace(/listen: "127\.0\.0\.1:9090"/, 'listen: "127.0.0.1:0"');
  assert.match(config, /listen: "127\.0\.0\.1:0"[\s\S]*listen: "127\.0\.0\.1:0"/, 'both listeners moved to port 0');
  writeFileSync(join(dir, 'config', 'switchyard.yaml'), config);
  engine = await startInstalled(dir, { command: join(dir, 'build', 'bin', 'switchyard'), args: ['run', '-c', 'config/switchyard.yaml'], cwd: dir, env });
  await engine.waitFor((e) => /pipeline github-to-stdout started/.test(e.stderr) && /pipeline ci-failures started/.test(e.stderr), 10000, 'the shipped pipelines');
  const port = (url) => url.split(':').pop();

  const shellEnv = { ...process.env, ...env };
  for (const k of Object.keys(shellEnv)) if (shellEnv[k] === undefined) delete shellEnv[k];
  for (const block of blocks) {
    const code = block.code.replaceAll('127.0.0.1:8080', `127.0.0.1:${port(engine.url)}`).replaceAll('127.0.0.1:9090', `127.0.0.1:${port(engine.adminUrl)}`);
    const deadline = Date.now() + (block.attrs.retry ? 10000 : 0);
    let r;
    for (;;) {
      r = await sh(code, { cwd: dir, env: shellEnv });
      if (r.code === 0 || Date.now() >= deadline) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(r.code, 0, `docs/getting-started.md:${block.line}: the block failed (${r.code}):\n${block.code}\n---\n${r.out}\n--- engine log:\n${engine.stderr}`);
    t.diagnostic(`line ${block.line}: ok`);
    if (block.attrs['expect-engine']) {
      const text = block.attrs['expect-engine'];
      await engine.waitFor((e) => e.stdout.includes(text), 10000, `the engine to print ${text} (line ${block.line})`);
    }
    if (block.attrs['expect-log']) {
      const text = block.attrs['expect-log'];
      await engine.waitFor((e) => e.stderr.includes(text), 10000, `the engine to log ${text} (line ${block.line})`);
    }
    if (block.attrs['expect-discord']) {
      const text = block.attrs['expect-discord'];
      await engine.waitFor(() => JSON.stringify(discord.state.accepted).includes(text), 10000,
        `Discord to receive "${text}" (line ${block.line})`);
    }
  }
});
