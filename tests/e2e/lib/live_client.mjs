// A client of the websocket sink's protocol over the npm `ws` package: connects (or reports
// the HTTP status that refused it), keeps every message it receives, and waits on them.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

// From the build tree's e2e/node_modules (NODE_PATH, which only require() reads).
export const WebSocket = createRequire(import.meta.url)('ws');

export class LiveClient {
  constructor(ws) {
    this.ws = ws;
    this.messages = [];     // parsed, in arrival order
    this.arrivals = [];     // performance.now() of each
    this.closed = null;     // { code, reason } once closed
    this.waiters = new Set();
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
      this.arrivals.push(performance.now());
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
      resolve(this.closed);
    }));
    ws.on('error', () => {});  // reported through close
  }

  wake() { for (const w of [...this.waiters]) w(); }

  send(message) { this.ws.send(JSON.stringify(message)); }
  subscribe(room, after) { this.send(after === undefined ? { op: 'subscribe', room } : { op: 'subscribe', room, after }); }

  // Messages with this op (and room, when given).
  of(op, room) { return this.messages.filter((m) => m.op === op && (room === undefined || m.room === room)); }
  events(room) { return this.of('event', room); }

  // Resolves with predicate(this)'s truthy value; rejects after `ms`, saying what it waited for.
  waitFor(predicate, ms = 10000, what = 'a condition') {
    const now = predicate(this);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = predicate(this);
        if (value) { done(); resolve(value); }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}` +
          (this.closed ? `; closed ${this.closed.code} ${this.closed.reason}` : '')));
      }, ms);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
    });
  }
  // Waits until `n` events of `room` have arrived; returns them.
  async waitEvents(room, n, ms = 10000) {
    await this.waitFor((c) => c.events(room).length >= n, ms, `${n} event(s) in ${room}`);
    return this.events(room);
  }
  async waitOp(op, room, ms = 10000) {
    return this.waitFor((c) => c.of(op, room).at(-1), ms, `a ${op} message${room ? ` for ${room}` : ''}`);
  }

  close(code = 1000) {
    if (!this.closed) this.ws.close(code);
    return this.closedPromise;
  }
  terminate() { this.ws.terminate(); return this.closedPromise; }
}

// Connects to `url` ("ws://127.0.0.1:port/live"). Resolves with a LiveClient once open;
// rejects with an Error whose `status` is the HTTP status of a refused upgrade.
export function connect(url, { protocols, headers, origin, ca } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, origin, ca, perMessageDeflate: false });
    const client = new LiveClient(ws);
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (req, res) => {
      const error = new Error(`upgrade refused with HTTP ${res.statusCode}`);
      error.status = res.statusCode;
      error.headers = res.headers;
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { error.body = body; reject(error); });
      res.on('error', () => reject(error));
    });
    ws.once('error', (e) => reject(e));
  });
}

// An HS256 JSON Web Token.
export async function jwt(claims, secret) {
  const { createHmac } = await import('node:crypto');
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
