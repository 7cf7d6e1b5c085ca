// A local stand-in for Discord's webhook endpoint that checks what Discord checks: the
// webhook id and token, JSON bodies, message and embed limits (in characters), and a
// per-webhook rate limit with X-RateLimit-* headers and 429 + retry_after when exceeded.
// https://discord.com/developers/docs/resources/webhook#execute-webhook
// https://discord.com/developers/docs/topics/rate-limits
import { createServer } from 'node:http';

const chars = (s) => [...(s ?? '')].length;

// Discord's "Invalid Form Body" reasons for one message, or [] when it is acceptable.
export function problems(message) {
  const out = [];
  const embeds = message.embeds ?? [];
  if (typeof message.content === 'string' && chars(message.content) > 2000) out.push('content: longer than 2000');
  if (!message.content && embeds.length === 0) out.push('Cannot send an empty message');
  if (!Array.isArray(embeds)) return [...out, 'embeds: not a list'];
  if (embeds.length > 10) out.push('embeds: more than 10');
  if (message.username !== undefined && (chars(message.username) < 1 || chars(message.username) > 80)) out.push('username: 1 to 80');
  let total = 0;
  embeds.forEach((e, i) => {
    const text = (v, max, what) => {
      if (v === undefined) return;
      if (typeof v !== 'string') out.push(`embeds[${i}].${what}: not a string`);
      else if (chars(v) > max) out.push(`embeds[${i}].${what}: longer than ${max}`);
      else if (chars(v) === 0) out.push(`embeds[${i}].${what}: empty`);
      total += typeof v === 'string' ? chars(v) : 0;
    };
    text(e.title, 256, 'title');
    text(e.description, 4096, 'description');
    if (e.author) text(e.author.name, 256, 'author.name');
    if (e.footer) text(e.footer.text, 2048, 'footer.text');
    if (e.color !== undefined && !(Number.isInteger(e.color) && e.color >= 0 && e.color <= 0xffffff)) out.push(`embeds[${i}].color: invalid`);
    if (e.url !== undefined && !/^https?:\/\/\S+$/.test(e.url)) out.push(`embeds[${i}].url: Not a well formed URL`);
    const fields = e.fields ?? [];
    if (fields.length > 25) out.push(`embeds[${i}].fields: more than 25`);
    fields.forEach((f, k) => {
      if (!f.name || !f.value) out.push(`embeds[${i}].fields[${k}]: name and value are required`);
      text(f.name, 256, `fields[${k}].name`);
      text(f.value, 1024, `fields[${k}].value`);
    });
  });
  if (total > 6000) out.push('embeds: more than 6000 characters in total');
  return out;
}

// Options: id (also the application id of follow-ups), token, limit (requests per window), windowMs, and rateLimitFirst (answer
// the first request with a 429 of that many seconds, as a shared bucket would).
export async function startFakeDiscord({ id = '1180000000000000000', token = 'fake-webhook-token',
  limit = 5, windowMs = 2000, rateLimitFirst = 0 } = {}) {
  const state = { accepted: [], refused: [], limited: [], requests: 0 };
  const interactionTokens = new Set();  // tokens of interactions "sent" by the test
  let windowStart = 0;
  let used = 0;
  let forced = rateLimitFirst;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      state.requests += 1;
      const url = new URL(req.url, 'http://x');
      const reply = (status, json, headers = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(json === undefined ? undefined : JSON.stringify(json));
      };
      // A channel webhook, or an interaction's follow-up webhook (application id + the
      // interaction's token, which Discord accepts for 15 minutes).
      const m = /^\/api\/(v10\/)?webhooks\/(\d+)\/([\w.-]+)$/.exec(url.pathname);
      if (req.method !== 'POST') return reply(405, { message: '405: Method Not Allowed', code: 0 });
      if (!m || m[2] !== id) return reply(404, { message: 'Unknown Webhook', code: 10015 });
      const followup = Boolean(m[1]);
      if (followup ? !interactionTokens.has(m[3]) : m[3] !== token) {
        return reply(401, { message: 'Invalid Webhook Token', code: 50027 });
      }
      const now = Date.now();
      if (forced > 0) {
        state.limited.push(now);
        const seconds = forced;
        forced = 0;
        return reply(429, { message: 'You are being rate limited.', retry_after: seconds, global: false },
          { 'Retry-After': String(Math.ceil(seconds)), 'X-RateLimit-Scope': 'shared' });
      }
      if (now - windowStart >= windowMs) { windowStart = now; used = 0; }
      const resetAfter = ((windowStart + windowMs - now) / 1000).toFixed(3);
      const limits = { 'X-RateLimit-Limit': String(limit), 'X-RateLimit-Reset-After': resetAfter, 'X-RateLimit-Bucket': 'fake' };
      if (used >= limit) {
        state.limited.push(now);
        return reply(429, { message: 'You are being rate limited.', retry_after: Number(resetAfter), global: false },
          { ...limits, 'X-RateLimit-Remaining': '0', 'Retry-After': String(Math.ceil(Number(resetAfter))) });
      }
      used += 1;
      const headers = { ...limits, 'X-RateLimit-Remaining': String(limit - used) };
      if (!/^application\/json/.test(req.headers['content-type'] ?? '')) {
        return reply(400, { message: 'Cannot send an empty message', code: 50006 }, headers);
      }
      let message;
      try { message = JSON.parse(body); } catch { return reply(400, { message: 'The request body contains invalid JSON.', code: 50109 }, headers); }
      const found = problems(message);
      if (found.length > 0) {
        state.refused.push({ message, problems: found });
        return reply(400, { message: 'Invalid Form Body', code: 50035, errors: found }, headers);
      }
      state.accepted.push({ at: now, message, thread: url.searchParams.get('thread_id'), followup, token: m[3] });
      res.writeHead(204, headers);
      res.end();
    });
  });
  const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  return {
    state,
    // An interaction token the fake accepts for follow-ups, as Discord does after sending it.
    issueInteractionToken: (t) => interactionTokens.add(t),
    url: `http://127.0.0.1:${port}/api/webhooks/${id}/${token}`,
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}
