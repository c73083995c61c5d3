// The shipped /etc/haip/haip.yaml and haip.yaml(5) against the schema: every key documented in
// both, and the shipped file valid with no links (installing the package must change nothing).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigFile } from '../../src/config/load';
import { configSchema } from '../../src/config/schema';

const repo = join(__dirname, '..', '..', '..');
const shipped = join(repo, 'etc', 'haip', 'haip.yaml');

type Props = Record<string, { type?: string; properties?: Props; items?: { properties?: Props } }>;

/** Every key name the schema knows, nested ones included. */
function keys(props: Props): string[] {
  return Object.entries(props).flatMap(([k, s]) => [k, ...keys(s.properties ?? s.items?.properties ?? {})]);
}

const all = [...new Set(keys(configSchema.properties as unknown as Props))];

test('the shipped haip.yaml mentions every key of the schema', () => {
  const text = readFileSync(shipped, 'utf8');
  const missing = all.filter((k) => !new RegExp(`(^|[\\s{,#])${k}:`, 'm').test(text));
  assert.deepEqual(missing, [], `not in ${shipped}`);
});

test('haip.yaml(5) describes every key of the schema', () => {
  const text = readFileSync(join(repo, 'man', 'haip.yaml.5'), 'utf8');
  const missing = all.filter((k) => !new RegExp(`^\\.B[R]? .*\\b${k}\\b`, 'm').test(text));
  assert.deepEqual(missing, []);
});

test('the shipped haip.yaml is valid and configures no links', () => {
  const config = loadConfigFile(shipped);
  assert.equal(config.links.length, 0);
});

test('bin/haip runs node with the options of the packaged launcher (debian/haip.sbin), which make bench measures', () => {
  const packaged = /exec \/usr\/bin\/node (.*?) \/usr\/lib\/haip\//.exec(readFileSync(join(repo, 'debian', 'haip.sbin'), 'utf8'))?.[1];
  const checkout = /^#!\/usr\/bin\/env -S node (.*)$/m.exec(readFileSync(join(repo, 'bin', 'haip'), 'utf8'))?.[1];
  assert.ok(packaged, 'debian/haip.sbin: no `exec /usr/bin/node OPTIONS /usr/lib/haip/...` line');
  assert.equal(checkout, packaged);
});
