// docs/operations.md covers every engine configuration key: the keys are those of the
// engine's own declaration (engine/config/engine_config.cpp), as `switchyard plugins docs`
// prints them in its "Engine configuration" table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSwitchyard, SOURCE_DIR } from './lib/engine.mjs';

test('docs/operations.md mentions every key of the engine configuration', async () => {
  const r = await runSwitchyard(['plugins', 'docs', '-c', join(SOURCE_DIR, 'config', 'switchyard.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  const section = /## Engine configuration[^\n]*\n([\s\S]*?)\n## /.exec(r.stdout);
  assert.ok(section, 'plugins docs prints the engine configuration section');
  const keys = [...section[1].matchAll(/^\| `([a-z_.]+)` \|/gm)].map((m) => m[1]);
  assert.ok(keys.length >= 20 && keys.includes('state.dir') && keys.includes('runtime.threads'), `keys: ${keys}`);
  const operations = readFileSync(join(SOURCE_DIR, 'docs', 'operations.md'), 'utf8');
  const missing = keys.filter((k) => !new RegExp(`\`${k.replaceAll('.', '\\.')}[\`.: ]`).test(operations));
  assert.deepEqual(missing, [], `keys docs/operations.md does not mention (as \`key\`): ${missing.join(', ')}`);
});
