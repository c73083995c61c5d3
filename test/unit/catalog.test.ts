// Every MESSAGE_ID haip's code sends has an entry in systemd/haip.catalog (shipped in
// /usr/lib/systemd/catalog, so `journalctl -x` explains it), every entry belongs to an ID in use, and
// journalctl itself parses the file (in a throwaway --root) when it is installed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MESSAGE_IDS, NOTICE_IDS } from '../../src/log';

const repo = join(__dirname, '..', '..', '..');
const CATALOG = join(repo, 'systemd', 'haip.catalog');

/** The catalog's entries: id -> headers and body, refusing what systemd's parser would not take. */
function parseCatalog(text: string): Map<string, { headers: Record<string, string>; body: string }> {
  const out = new Map<string, { headers: Record<string, string>; body: string }>();
  const chunks = text.split(/^-- /m);
  assert.ok(chunks[0].split('\n').every((l) => l === '' || l.startsWith('#')), 'only comments before the first entry');
  for (const chunk of chunks.slice(1)) {
    const [head, ...rest] = chunk.split('\n');
    assert.match(head, /^[0-9a-f]{32}$/, `entry id: ${head}`);
    assert.ok(!out.has(head), `${head} twice`);
    const blank = rest.indexOf('');
    const headers = Object.fromEntries(rest.slice(0, blank).map((l) => {
      const m = /^([A-Z][A-Za-z-]*): (.+)$/.exec(l);
      assert.ok(m, `${head}: header line "${l}"`);
      return [m[1], m[2]];
    }));
    for (const h of ['Subject', 'Defined-By', 'Support']) assert.ok(headers[h], `${head}: ${h}`);
    const body = rest.slice(blank + 1).join('\n').trim();
    assert.ok(body.length > 80, `${head}: says what happened and what to do`);
    out.set(head, { headers, body });
  }
  return out;
}

/** Every 128-bit id written as a string literal anywhere in the shipped code. */
function idsInCode(): Set<string> {
  const ids = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/'([0-9a-f]{32})'/g)) ids.add(m[1]);
    }
  };
  walk(join(repo, 'src'));
  return ids;
}

test('every MESSAGE_ID in the code has a catalog entry, and every entry an ID in use', () => {
  const catalog = parseCatalog(readFileSync(CATALOG, 'utf8'));
  const used = new Set([...Object.values(MESSAGE_IDS), ...Object.values(NOTICE_IDS)]);
  assert.deepEqual([...idsInCode()].sort(), [...used].sort(), 'every id literal in src/ is in MESSAGE_IDS or NOTICE_IDS');
  assert.equal(new Set(used).size, Object.keys(MESSAGE_IDS).length + Object.keys(NOTICE_IDS).length, 'no id used twice');
  assert.deepEqual([...catalog.keys()].sort(), [...used].sort());
  for (const [id, e] of catalog) {
    for (const v of `${e.headers.Subject}\n${e.body}`.matchAll(/@(\w+)@/g)) assert.match(v[1], /^HAIP_[A-Z]+$/, `${id}: field ${v[1]}`);
    assert.ok(e.body.split('\n').every((l) => l.length <= 80), `${id}: lines fit a terminal`);
  }
});

let journalctl = true;
try {
  execFileSync('journalctl', ['--version'], { stdio: 'ignore' });
} catch {
  journalctl = false;
}
test('journalctl --update-catalog takes the file and lists every entry', { skip: journalctl ? false : 'journalctl is not installed' }, () => {
  const root = mkdtempSync(join(tmpdir(), 'haip-catalog-'));
  try {
    mkdirSync(join(root, 'usr/lib/systemd/catalog'), { recursive: true });
    copyFileSync(CATALOG, join(root, 'usr/lib/systemd/catalog/haip.catalog'));
    execFileSync('journalctl', [`--root=${root}`, '--update-catalog'], { stdio: 'pipe' });
    const listed = execFileSync('journalctl', [`--root=${root}`, '--list-catalog'], { encoding: 'utf8' });
    const ids = [...listed.matchAll(/^([0-9a-f]{32}) haip: /gm)].map((m) => m[1]);
    assert.deepEqual(ids.sort(), [...Object.values(MESSAGE_IDS), ...Object.values(NOTICE_IDS)].sort(), listed);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
