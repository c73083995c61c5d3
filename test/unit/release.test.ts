// The version has one source (package.json) and every place that shows it agrees: debian/changelog's
// newest entry, package-lock.json, `haip version`, status.json, `haip status` and haip_build_info;
// the newest changelog entry is written (no RELEASE-TODO left by make release) and orders after the
// previous one; debian/NEWS is in the changelog's format.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderMetrics } from '../../src/metrics';
import { StatusDoc } from '../../src/status';
import { versionLine } from '../../src/statusView';
import { VERSION } from '../../src/version';

const repo = join(__dirname, '..', '..', '..');
const read = (p: string) => readFileSync(join(repo, p), 'utf8');

/** The entries of a file in debian/changelog's format: version and body. */
function entries(text: string): { version: string; body: string }[] {
  return text.split(/^(?=haip \()/m).filter((e) => e.trim()).map((e) => {
    const m = /^haip \(([^)]+)\) unstable; urgency=(low|medium|high)\n\n([\s\S]*?)\n -- [^<\n]+<[^>\n]+>  \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n\s*$/.exec(e);
    assert.ok(m, `not a changelog entry:\n${e}`);
    return { version: m[1], body: m[3] };
  });
}

test('package.json, package-lock.json, debian/changelog and the code agree on the version', () => {
  const pkg = JSON.parse(read('package.json'));
  const lock = JSON.parse(read('package-lock.json'));
  const top = entries(read('debian/changelog'))[0];
  assert.equal(VERSION, pkg.version);
  assert.equal(lock.version, pkg.version);
  assert.equal(lock.packages[''].version, pkg.version);
  assert.equal(top.version, pkg.version, 'make release VERSION=... moves both');
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
});

test('the newest changelog entry is written and orders after the previous release', () => {
  const all = entries(read('debian/changelog'));
  assert.ok(all.length >= 2);
  assert.doesNotMatch(all[0].body, /RELEASE-TODO/, 'make release left headings to fill in');
  for (const heading of ['New configuration keys:', 'Changed behaviour:', 'Migrations:']) assert.ok(all[0].body.includes(`  * ${heading}`), heading);
  for (let i = 0; i + 1 < all.length; i++) execFileSync('dpkg', ['--compare-versions', all[i].version, 'gt', all[i + 1].version]);
  for (const line of read('debian/changelog').split('\n')) assert.ok(line.length <= 80, `longer than 80: ${line}`);
});

test('debian/NEWS is in the changelog format, for a released version, without asterisks', () => {
  const news = entries(read('debian/NEWS'));
  const versions = new Set(entries(read('debian/changelog')).map((e) => e.version));
  for (const e of news) {
    assert.ok(versions.has(e.version), `NEWS for ${e.version}, which debian/changelog does not have`);
    assert.doesNotMatch(e.body, /^\s*\*/m, 'apt-listchanges shows NEWS as prose; lintian flags asterisks');
  }
  for (const line of read('debian/NEWS').split('\n')) assert.ok(line.length <= 80, `longer than 80: ${line}`);
});

const doc = (version?: string): StatusDoc => ({ active: 'dsl', since: '2026-12-04T00:00:00.000Z', pid: 42, updated: '2026-12-04T00:00:00.000Z', switches: 0, links: [], ...(version === undefined ? {} : { version }) });

test('haip status names the daemon\'s version, and says when the installed haip is newer than the running one', () => {
  assert.equal(versionLine(doc(VERSION), VERSION), `haip ${VERSION}, pid 42\n`);
  assert.equal(versionLine(doc('0.1.9'), '0.2.0'), 'haip 0.1.9, pid 42; this command is haip 0.2.0: restart haip to run it (systemctl restart haip)\n');
  assert.match(versionLine(doc(), '0.2.0'), /^haip 0\.1\.0 or older \(status\.json names no version\), pid 42; this command is haip 0\.2\.0/);
  assert.equal(versionLine(doc('0.2.0\x1b[2J'), '0.2.0').includes('\x1b'), false, 'no escape code reaches the terminal');
});

test('haip_build_info carries the running version', () => {
  assert.match(renderMetrics(doc(VERSION)), new RegExp(`^haip_build_info\\{version="${VERSION.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
});

test('haip version prints the version', () => {
  const out = execFileSync(process.execPath, [join(repo, 'dist', 'src', 'main.js'), 'version'], { encoding: 'utf8' });
  assert.equal(out, `haip ${VERSION}\n`);
});
