// The live console in a real browser (Debian's chromium, playwright-core): a wrong webhook
// secret is visible at once, as the last refusal's reason under its pipeline, and the drops
// by reason are listed there too.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startEngine, sign } from './lib/engine.mjs';

const { chromium } = createRequire(import.meta.url)('playwright-core');
const CHROMIUM = process.env.SWITCHYARD_CHROMIUM || '/usr/bin/chromium';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

let browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-deps.sh installs Debian's chromium`);
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  browser = await chromium.launch({ executablePath: CHROMIUM, args });
  cleanups.push(() => browser.close());
});

test('the console shows the last refused request\'s reason and the drops by reason', async () => {
  const engine = await startEngine({
    pipelines: {
      gh: `name: gh
source: {type: github.webhook, path: /gh, secret: the-right-secret}
transforms: [{name: pushes-only, type: filter, if: "\${{ event.type == 'github.push' }}"}]
sinks: [{name: out, type: blackhole}]
`,
    },
  });
  cleanups.push(() => engine.stop());
  const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 1 });
  const send = async (secret, delivery) => {
    const res = await fetch(`${engine.url}/gh`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': delivery,
                 'x-hub-signature-256': sign(secret, body) },
    });
    await res.text();
    return res.status;
  };
  assert.equal(await send('an-old-secret', 'd-1'), 401);
  assert.equal(await send('the-right-secret', 'd-2'), 202);  // not a push: filtered

  const page = await browser.newPage();
  await page.goto(engine.adminUrl + '/');
  const refusal = page.locator('tr.drops[data-pipeline="gh"] [data-field="last-refusal"]');
  await refusal.waitFor({ timeout: 10000 });
  assert.match(await refusal.textContent(), /X-Hub-Signature-256 does not match the body/);
  await page.waitForFunction(() => /filtered 1 \(pushes-only\)/.test(
    document.querySelector('tr.drops[data-pipeline="gh"] [data-field="drops"]')?.textContent ?? ''), null, { timeout: 10000 });
  const drops = await page.locator('tr.drops[data-pipeline="gh"] [data-field="drops"]').textContent();
  assert.match(drops, /signature 1 \(/, drops);
  await page.close();
});
