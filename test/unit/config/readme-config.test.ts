// The configuration reference (docs/configuration.md) is the schema's: same keys, env names,
// flags and defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_BEGIN, CONFIG_END, configTableMarkdown } from '../../../src/config/config-docs.js';
import { schemaLeaves } from '../../../src/config/load-config.js';

test('docs/configuration.md table matches the convict schema', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../../docs/configuration.md'), 'utf8');
  const a = readme.indexOf(CONFIG_BEGIN);
  const b = readme.indexOf(CONFIG_END);
  assert.ok(a >= 0 && b > a, 'docs/configuration.md has the config-table markers');
  const embedded = readme.slice(a + CONFIG_BEGIN.length, b).trim();
  assert.equal(embedded, configTableMarkdown(), 'run `npm run -s config-docs -- --write`');
  // Every schema key has an env var and a doc (a key without env could not be set by operators).
  for (const [key, leaf] of schemaLeaves()) {
    assert.ok(leaf.env, `${key} has an env var`);
    assert.ok(leaf.doc.length > 10, `${key} has a doc`);
    assert.ok(embedded.includes(`\`${leaf.env}\``), `${leaf.env} is in the docs/configuration.md table`);
  }
});
