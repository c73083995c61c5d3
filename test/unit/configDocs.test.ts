// docs/configuration.md is generated from the schema: this fails when someone changes one without the other.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configReference } from '../../tools/configReference';
import { configSchema } from '../../src/config/schema';

const REPO = join(__dirname, '../../..');

test('docs/configuration.md matches the schema (run `make docs` after changing the schema)', () => {
  assert.equal(readFileSync(join(REPO, 'docs/configuration.md'), 'utf8'), configReference());
});

test('every top-level key of the schema is documented with a meaning', () => {
  const doc = configReference();
  for (const [key, s] of Object.entries<any>(configSchema.properties)) {
    assert.ok(s.description, `${key} has no description`);
    assert.match(doc, new RegExp(`\\| \`${key}\``));
  }
});
