// A throwaway NATS JetStream cluster for end-to-end tests and benchmarks (Debian package
// nats-server): `size` servers clustered on loopback, each with JetStream in its own temp
// dir, on free ports (client, cluster route, monitoring), stopped by PID; close() removes
// the dir. A node can be killed (SIGKILL) and started again on the same ports and data.
//
//   const cluster = await startNatsCluster({ size: 3 });
//   cluster.urls                          // ['nats://127.0.0.1:PORT', ...]
//   await cluster.nodes[1].kill();        // a crash
//   await cluster.nodes[1].start();       // back, with its data
//   (await cluster.stream('GITHUB')).state.messages
//   await cluster.close();
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.mjs';

const BINARY = process.env.SWITCHYARD_NATS_SERVER ?? 'nats-server';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJson(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.json().catch(() => null) };
  } catch {
    return { status: 0, body: null };
  }
}

export async function startNatsCluster(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(options);
    } catch (e) {
      // Ports come from outside the kernel's ephemeral range (ports.mjs), but another test's
      // server can still pick one in the moment between the check and the bind: fresh ones.
      if (attempt >= 3 || !/address already in use/.test(String(e?.message))) throw e;
    }
  }
}

async function startNatsClusterOnce({ size = 3, name = 'switchyard-test' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-nats-'));
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(', ');

  const nodes = ports.map((p, i) => {
    const nodeDir = join(dir, `n${i + 1}`);
    mkdirSync(nodeDir, { recursive: true });
    const configFile = join(nodeDir, 'server.conf');
    writeFileSync(configFile, [
      `server_name: n${i + 1}`,
      `listen: 127.0.0.1:${p.client}`,
      `http: 127.0.0.1:${p.monitor}`,
      // SIGUSR2 (nats-server --signal ldm): lame-duck mode, clients told to move over 30 s
      // (the server's minimum).
      'lame_duck_duration: 30s',
      'lame_duck_grace_period: 1s',
      `jetstream { store_dir: "${join(nodeDir, 'js')}", max_memory_store: 64MB, max_file_store: 1GB }`,
      `cluster { name: ${name}, listen: 127.0.0.1:${p.route}, routes: [${routes}] }`,
      '',
    ].join('\n'));
    return {
      index: i, ports: p, url: `nats://127.0.0.1:${p.client}`, monitorUrl: `http://127.0.0.1:${p.monitor}`,
      child: null, log: '',
      async start() {
        if (this.child) return;
        const child = spawn(BINARY, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
        this.child = child;
        child.exited = new Promise((resolve) => child.once('exit', () => { this.child = null; resolve(); }));
        child.stderr.on('data', (d) => { this.log += d; });
        const deadline = Date.now() + 15000;
        while (!/Server is ready/.test(this.log)) {
          if (!this.child) throw new Error(`nats-server n${i + 1} exited:\n${this.log}`);
          if (Date.now() > deadline) throw new Error(`nats-server n${i + 1} did not start:\n${this.log}`);
          await sleep(20);
        }
      },
      // SIGKILL (a crash) by default; waits for the process to end (after SIGUSR2, lame-duck
      // mode, that is up to lame_duck_duration: signal the child directly not to wait).
      async kill(signal = 'SIGKILL') {
        const child = this.child;
        if (!child) return;
        child.kill(signal);
        await child.exited;
      },
      // JetStream's health on this node (200 once it has a meta leader and its streams are current).
      async healthy() { return (await getJson(`${this.monitorUrl}/healthz`)).status === 200; },
    };
  });

  const cluster = {
    dir, nodes,
    get urls() { return nodes.map((n) => n.url); },
    // The stream as a live node's monitoring endpoint reports it (config and state), or null.
    async stream(streamName) {
      for (const n of nodes) {
        if (!n.child) continue;
        const { body } = await getJson(`${n.monitorUrl}/jsz?streams=true&consumers=true&config=true`);
        for (const account of body?.account_details ?? []) {
          for (const s of account.stream_detail ?? []) {
            if (s.name === streamName && (!s.cluster || s.cluster.leader === `n${n.index + 1}`)) return s;
          }
        }
      }
      return null;
    },
    async close() {
      for (const n of nodes) await n.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const deadline = Date.now() + 20000;
    for (;;) {
      const health = await Promise.all(nodes.map((n) => n.healthy()));
      if (health.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error(`the NATS cluster did not become healthy:\n${nodes.map((n) => n.log).join('\n')}`);
      await sleep(100);
    }
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}

// One standalone nats-server with JetStream (not clustered: its clients have nowhere else to
// go, so a stop is an outage they see), on free ports in its own temp dir. `config`: more
// lines of the server's configuration (tls { ... }, authorization { ... }); `dir` is there
// before start() for files they name. start() and kill() may repeat (same port and data).
//
//   const server = await standaloneNatsServer({ config: (dir) => 'authorization { token: t }' });
//   await server.start(); ... await server.kill(); await server.close();
export async function standaloneNatsServer({ config = () => '' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-nats-one-'));
  const port = await freePort();
  const monitor = await freePort();
  const configFile = join(dir, 'server.conf');
  const server = {
    dir, port, url: `nats://127.0.0.1:${port}`, monitorUrl: `http://127.0.0.1:${monitor}`, child: null, log: '',
    async start() {
      if (this.child) return;
      writeFileSync(configFile, [`listen: 127.0.0.1:${port}`, `http: 127.0.0.1:${monitor}`,
        `jetstream { store_dir: "${join(dir, 'js')}", max_memory_store: 64MB, max_file_store: 256MB }`,
        config(dir), ''].join('\n'));
      this.log = '';
      const child = spawn(BINARY, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.child = child;
      child.exited = new Promise((resolve) => child.once('exit', () => { this.child = null; resolve(); }));
      child.stderr.on('data', (d) => { this.log += d; });
      const deadline = Date.now() + 15000;
      while (!/Server is ready/.test(this.log)) {
        if (!this.child) throw new Error(`nats-server exited:\n${this.log}`);
        if (Date.now() > deadline) throw new Error(`nats-server did not start:\n${this.log}`);
        await sleep(20);
      }
    },
    async kill() {
      const child = this.child;
      if (!child) return;
      child.kill('SIGKILL');
      await child.exited;
    },
    // Messages in a stream, from the monitoring endpoint (null: no such stream).
    async messages(stream) {
      const { body } = await getJson(`${this.monitorUrl}/jsz?streams=true`);
      for (const account of body?.account_details ?? []) {
        for (const s of account.stream_detail ?? []) if (s.name === stream) return s.state.messages;
      }
      return null;
    },
    async close() {
      await this.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

// The pipeline the NATS e2e tests run: `POST /in` → a `nats` sink `bus` publishing on
// events.in into stream EVENTS (created with `replicas`), with `more` (indented option
// lines) added to the sink.
export function relayToNats(servers, { replicas = 1, more = '' } = {}) {
  return `name: relay
source: {type: http, path: /in}
sinks:
  - name: bus
    type: nats
    servers: ["${servers}"]
    subject: events.in
    stream: EVENTS
    create_stream: {subjects: ["events.>"], replicas: ${replicas}}
${more}`;
}
