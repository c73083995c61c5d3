// One version everywhere: package.json (what `haip version`, `haip status` and status.json say),
// debian/changelog's top entry (what apt compares) and debian/NEWS's newest entry.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VERSION } from '../../src/version';

const REPO = join(__dirname, '../../..');
const top = (file: string) => /^haip \(([^)]+)\) /.exec(readFileSync(join(REPO, file), 'utf8'))?.[1];

test('package.json, debian/changelog and debian/NEWS name the same version, past 0.1.0', () => {
  assert.equal(VERSION, JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
  assert.equal(top('debian/changelog'), VERSION, 'debian/changelog\'s top entry is the version being built');
  assert.equal(top('debian/NEWS'), VERSION, 'debian/NEWS says what changes in this version');
  assert.notEqual(VERSION, '0.1.0');
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8'));
  assert.equal(lock.version, VERSION);
  assert.equal(lock.packages[''].version, VERSION);
});
