// What an operator watches besides the pipelines' own counters (issue 21): the journal's
// size and the age of its oldest undelivered event, whether each pipeline serves, and the
// process's CPU, memory and file descriptors under the names Prometheus clients use. All
// of them in a scrape that promtool accepts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startEngine } from './lib/engine.mjs';
import { startReceiver, sleep } from './lib/receiver.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

// The value of the series `name{labels}` (labels as written in the scrape); undefined: none.
function value(metrics, name, labels = '') {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = metrics.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

test('journal size and backlog age, pipeline up or not, and process figures are scraped', async () => {
  // A sink that answers 503 keeps every event in the journal.
  const down = await startReceiver(() => ({ status: 503 }));
  cleanups.push(() => down.close());
  const engine = await startEngine({
    pipelines: {
      stuck: `name: stuck
source: {type: http, path: /in}
sinks: [{name: out, type: http, url: ${down.url}/hook, retry: {initial: 10s, max: 10s}}]
`,
      broken: `name: broken
source: {type: http, path: /broken}
sinks: [{name: out, type: no.such.sink}]
`,
    },
  });
  cleanups.push(() => engine.stop());

  const before = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  assert.equal(value(before, 'switchyard_journal_oldest_undelivered_seconds'), 0, 'nothing undelivered yet');
  const posted = Date.now();
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${engine.url}/in`, { method: 'POST', body: JSON.stringify({ i, pad: 'x'.repeat(20000) }),
                                                  headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 202, await res.text());
  }
  await sleep(1500);
  const metrics = await (await fetch(`${engine.adminUrl}/metrics`)).text();
  const age = value(metrics, 'switchyard_journal_oldest_undelivered_seconds');
  assert.ok(age >= 1.4 && age <= (Date.now() - posted) / 1000 + 1, `oldest undelivered ${age} s`);
  assert.ok(value(metrics, 'switchyard_journal_bytes') > 60000, 'three 20 KB events are in the journal');

  assert.equal(value(metrics, 'switchyard_pipeline_up', 'pipeline="stuck"'), 1);
  assert.equal(value(metrics, 'switchyard_pipeline_up', 'pipeline="broken"'), 0, 'an invalid file is a pipeline not up');

  const rss = value(metrics, 'process_resident_memory_bytes');
  assert.ok(rss > 1e6 && rss < 4e9, `resident ${rss}`);
  const fds = value(metrics, 'process_open_fds');
  assert.ok(fds >= 5 && fds <= value(metrics, 'process_max_fds'), `open fds ${fds}`);
  assert.ok(value(metrics, 'process_cpu_seconds_total') > 0);
  const started = value(metrics, 'process_start_time_seconds');
  assert.ok(Math.abs(started - Date.now() / 1000) < 120, `started at ${started}`);

  const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics });
  assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
});
