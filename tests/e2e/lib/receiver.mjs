// A local HTTP receiver for sink tests: records every request (arrival time on the monotonic
// clock, headers, parsed body) and answers what `respond(request, n)` returns.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

// `respond({ body, headers, n })` → { status, headers?, body? } (default 200).
export async function startReceiver(respond = () => ({ status: 200 })) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let body = text;
      try { body = JSON.parse(text); } catch { /* kept as text */ }
      const request = { at: performance.now(), method: req.method, url: req.url, headers: req.headers, body, n: requests.length + 1 };
      const answer = respond(request) ?? { status: 200 };
      request.status = answer.status;
      requests.push(request);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    // Requests carrying the CloudEvent with this id.
    requestsFor(id) { return requests.filter((r) => r.body?.id === id); },
    // Ids of events answered with 2xx, in arrival order.
    delivered() { return requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.body?.id); },
    close() { return new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }); },
  };
}

// `what` names the wait in the error; a function is called then, so the error can carry
// what was known at that moment (a log, a readiness report).
export async function waitUntil(predicate, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? await what() : what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
