// Replies by the arrival uplink: the chains haip's table holds for each kind of config, and the
// rp_filter/src_valid_mark decision with its side effects on a fake /proc/sys and a temp state dir.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { Config } from '../../src/model';
import { haipTable } from '../../src/net/nft';
import { incomingRules, markedLinks, restoreRules } from '../../src/net/replies';
import { judgeRpFilter, parseRestore, RESTORE_FILE, restoreSysctls, RpFacts, rpFilterReport, syncRpFilter } from '../../src/net/rpfilter';
import { ProcSysctl, Sysctl, sysctlName } from '../../src/sys/sysctl';
import { memoryLog } from './fakes';

const LINKS = `probe: { targets: [203.0.113.1] }
tables: { T1: 101, T2: 102 }
links:
  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }
  - { name: lte, interface: ppp0, table: T2 }
`;
const config = (yaml: string, stateDir = '/run/haip'): Config => ({ ...parseConfigText(yaml, 'haip.yaml'), stateDir });

/** Each chain of the table and the comments of its rules, or null for no table. */
function chains(text: string | undefined): Record<string, string[]> | null {
  if (text === undefined) return null;
  const out: Record<string, string[]> = {};
  let chain = '';
  for (const line of text.split('\n')) {
    const m = /^\tchain (\w+) \{$/.exec(line);
    if (m) out[(chain = m[1])] = [];
    const c = /comment "([^"]+)"$/.exec(line);
    if (c && line.startsWith('\t\t')) out[chain].push(c[1]);
  }
  return out;
}

const cases: { name: string; yaml: string; want: Record<string, string[]> | null }[] = [
  {
    name: 'not sticky: incoming marks and restore, no outgoing marks',
    yaml: LINKS,
    want: { prerouting: ['dsl: restore', 'lte: restore', 'dsl: incoming', 'lte: incoming'], output: ['dsl: restore', 'lte: restore'] },
  },
  {
    name: 'sticky: the same plus the outgoing marks',
    yaml: LINKS + 'sticky: true\n',
    want: {
      prerouting: ['dsl: restore', 'lte: restore', 'dsl: incoming', 'lte: incoming'],
      output: ['dsl: restore', 'lte: restore'],
      postrouting: ['dsl: outgoing', 'lte: outgoing'],
    },
  },
  { name: 'no link has a table (the original command line): no table', yaml: LINKS.replace(', table: T1', '').replace(', table: T2', ''), want: null },
  {
    name: 'only links with a table are marked: the others have nothing to route a mark by',
    yaml: LINKS.replace(', table: T2', ''),
    want: { prerouting: ['dsl: restore', 'dsl: incoming'], output: ['dsl: restore'] },
  },
];

for (const c of cases)
  test(`haip's table: ${c.name}`, () => {
    assert.deepEqual(chains(haipTable(config(c.yaml))), c.want);
  });

test('the rules reuse the links\' marks and mark_mask: only haip\'s bits are read and written', () => {
  const c = config(LINKS.replace('gateway: 198.18.1.1 }', 'gateway: 198.18.1.1, mark: 0x100 }').replace('table: T2 }', 'table: T2, mark: 0x200 }') + 'mark_mask: 0xf00\n');
  assert.deepEqual(markedLinks(c), [
    { name: 'dsl', interface: 'eth1', mark: 0x100 },
    { name: 'lte', interface: 'ppp0', mark: 0x200 },
  ]);
  assert.deepEqual(incomingRules(c), [
    'ct state new iifname "eth1" ct mark set ct mark & 0xfffff0ff | 0x100 meta mark set meta mark & 0xfffff0ff | 0x100 comment "dsl: incoming"',
    'ct state new iifname "ppp0" ct mark set ct mark & 0xfffff0ff | 0x200 meta mark set meta mark & 0xfffff0ff | 0x200 comment "lte: incoming"',
  ]);
  assert.deepEqual(restoreRules(config(LINKS + 'mark_mask: 0xffffffff\n')), [
    'ct mark & 0xffffffff == 0x1 meta mark set 0x1 comment "dsl: restore"',
    'ct mark & 0xffffffff == 0x2 meta mark set 0x2 comment "lte: restore"',
  ]);
});

test('with sticky the table is the one earlier versions wrote, byte for byte (no change on upgrade)', () => {
  const text = haipTable(config(LINKS + 'sticky: true\n'))!;
  assert.match(text, /\n\t}\n\n\tchain output \{\n/);
  assert.match(text, /\n\t}\n\n\tchain postrouting \{\n/);
  assert.ok(text.endsWith('comment "lte: outgoing"\n\t}\n}\n'));
});

test('config: without sticky, links with a table still need marks of their own and priorities that fit', () => {
  const bad = `probe: { targets: [203.0.113.1] }\ntables: { T1: 101, T2: 102 }\nrule_priority: 32000\nlinks:\n  - { name: a, interface: eth1, table: T1, mark: 2 }\n  - { name: b, interface: eth2, table: T2 }\n  - { name: c, interface: eth3 }\n`;
  assert.throws(
    () => parseConfigText(bad, 'haip.yaml'),
    (err: Error & { problems?: { path: string; message: string }[] }) => {
      assert.deepEqual(err.problems?.map((p) => `${p.path}: ${p.message}`), [
        "rule_priority: haip's fwmark rules (replies by the arrival uplink) need priorities up to 33030, past 32765: lower rule_priority",
        'links[1].name: mark 0x2 is already used by links[0]',
      ]);
      return true;
    },
  );
});

// ---- rp_filter -------------------------------------------------------------------------------------

const DSL = { name: 'dsl', interface: 'eth1', mark: 1 };
const LTE = { name: 'lte', interface: 'ppp0', mark: 2 };

const verdicts: { name: string; facts: RpFacts; dropped: string[] }[] = [
  { name: 'loose everywhere (Debian\'s default 2): nothing to do', facts: { all: { rpFilter: 2, srcValidMark: 0 }, default: { rpFilter: 2 }, links: [{ link: DSL, conf: { rpFilter: 2, srcValidMark: 0 } }] }, dropped: [] },
  { name: 'off everywhere', facts: { all: { rpFilter: 0, srcValidMark: 0 }, default: { rpFilter: 0 }, links: [{ link: DSL, conf: { rpFilter: 0 } }] }, dropped: [] },
  { name: 'strict through all: every uplink', facts: { all: { rpFilter: 1, srcValidMark: 0 }, default: { rpFilter: 0 }, links: [{ link: DSL, conf: { rpFilter: 0 } }, { link: LTE, conf: { rpFilter: 0 } }] }, dropped: ['dsl', 'lte'] },
  { name: 'strict on one interface only', facts: { all: { rpFilter: 0, srcValidMark: 0 }, default: { rpFilter: 0 }, links: [{ link: DSL, conf: { rpFilter: 0 } }, { link: LTE, conf: { rpFilter: 1 } }] }, dropped: ['lte'] },
  { name: 'loose all and strict interface: the larger (loose) wins', facts: { all: { rpFilter: 2, srcValidMark: 0 }, default: {}, links: [{ link: LTE, conf: { rpFilter: 1 } }] }, dropped: [] },
  { name: 'strict, but src_valid_mark already on in all', facts: { all: { rpFilter: 1, srcValidMark: 1 }, default: {}, links: [{ link: DSL, conf: { rpFilter: 1 } }] }, dropped: [] },
  { name: 'strict, src_valid_mark on the interface itself', facts: { all: { rpFilter: 1, srcValidMark: 0 }, default: {}, links: [{ link: DSL, conf: { rpFilter: 1, srcValidMark: 1 } }] }, dropped: [] },
  { name: 'an absent ppp0 gets the default (strict) when it dials', facts: { all: { rpFilter: 0, srcValidMark: 0 }, default: { rpFilter: 1, srcValidMark: 0 }, links: [{ link: LTE }] }, dropped: ['lte'] },
];

for (const v of verdicts)
  test(`rp_filter verdict: ${v.name}`, () => {
    assert.deepEqual(judgeRpFilter(v.facts).dropped.map((d) => d.link.name), v.dropped);
  });

/** /proc/sys in a map; `readOnly` makes writes fail as under ProtectKernelTunables. */
class FakeSysctl implements Sysctl {
  writes: string[] = [];
  constructor(
    readonly values: Map<string, string>,
    private readOnly = false,
  ) {}
  read(path: string[]): string | undefined {
    return this.values.get(sysctlName(path));
  }
  write(path: string[], value: string): void {
    if (this.readOnly) throw Object.assign(new Error(`EROFS: read-only file system, open '/proc/sys/${path.join('/')}'`), { code: 'EROFS' });
    this.writes.push(`${sysctlName(path)}=${value}`);
    this.values.set(sysctlName(path), value);
  }
}

const strictHost = () =>
  new Map([
    ['net.ipv4.conf.all.rp_filter', '1'],
    ['net.ipv4.conf.all.src_valid_mark', '0'],
    ['net.ipv4.conf.default.rp_filter', '1'],
    ['net.ipv4.conf.default.src_valid_mark', '0'],
    ['net.ipv4.conf.eth1.rp_filter', '1'],
    ['net.ipv4.conf.eth1.src_valid_mark', '0'],
  ]);

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'haip-rp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('start on a strict host: sets all.src_valid_mark once, records it, a reload says nothing; flush sets it back', (t) => {
  const dir = tempDir(t);
  const c = config(LINKS, join(dir, 'state'));
  const sysctl = new FakeSysctl(strictHost());
  const log = memoryLog();
  syncRpFilter(c, { log, sysctl });
  assert.deepEqual(sysctl.writes, ['net.ipv4.conf.all.src_valid_mark=1']);
  assert.deepEqual(log.lines, [
    'notice: set net.ipv4.conf.all.src_valid_mark=1 (was 0): rp_filter=1 on eth1 (dsl), ppp0 (lte, absent: its default) drops the packets of connections that arrive on a standby uplink unless the check uses their mark; haip flush sets it back',
  ]);
  assert.equal(parseRestore(readFileSync(join(dir, 'state', RESTORE_FILE), 'utf8')), '0');
  syncRpFilter(c, { log, sysctl });
  assert.equal(log.lines.length, 1, 'set already: nothing to say');
  assert.deepEqual(rpFilterReport(c, { all: { rpFilter: 1, srcValidMark: 1 }, default: { rpFilter: 1 }, links: [{ link: DSL, conf: { rpFilter: 1 } }] }), [
    '  rp_filter: 1 on eth1 (dsl): src_valid_mark is on, so replies by the arrival uplink pass',
  ]);
  assert.equal(restoreSysctls(c.stateDir, sysctl), 'flush: net.ipv4.conf.all.src_valid_mark=0 (set back)');
  assert.equal(sysctl.values.get('net.ipv4.conf.all.src_valid_mark'), '0');
  assert.equal(restoreSysctls(c.stateDir, sysctl), undefined, 'the record is gone with the flush');
});

test('a second start keeps the admin\'s value in the record, not haip\'s own 1; an admin who changed it since keeps theirs', (t) => {
  const dir = tempDir(t);
  const c = config(LINKS, dir);
  const sysctl = new FakeSysctl(strictHost());
  syncRpFilter(c, { log: memoryLog(), sysctl });
  sysctl.values.set('net.ipv4.conf.all.src_valid_mark', '0');
  syncRpFilter(c, { log: memoryLog(), sysctl });
  assert.equal(parseRestore(readFileSync(join(dir, RESTORE_FILE), 'utf8')), '0');
  sysctl.values.set('net.ipv4.conf.all.src_valid_mark', '0');
  assert.equal(restoreSysctls(dir, sysctl), 'flush: net.ipv4.conf.all.src_valid_mark left as it is (no longer haip\'s 1)');
});

test('/proc/sys read-only: an error naming the sysctl and the sysctl.d line; unreadable: a warning; nothing recorded', (t) => {
  const dir = tempDir(t);
  const c = config(LINKS, dir);
  const log = memoryLog();
  syncRpFilter(c, { log, sysctl: new FakeSysctl(strictHost(), true) });
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0], /^error: rp_filter=1 on eth1 \(dsl\).*, and net\.ipv4\.conf\.all\.src_valid_mark could not be set to 1 \(EROFS.*\): add "net\.ipv4\.conf\.all\.src_valid_mark = 1" to a file in \/etc\/sysctl\.d\/$/);
  syncRpFilter(c, { log, sysctl: new FakeSysctl(new Map()) });
  assert.match(log.lines[1], /^warning: cannot read the rp_filter settings \(net\.ipv4\.conf\.all\.rp_filter cannot be read\)/);
  assert.equal(restoreSysctls(dir, new FakeSysctl(strictHost())), undefined);
  assert.deepEqual(rpFilterReport(c, new Error('EACCES')), [
    '  rp_filter: cannot read it (EACCES): whether strict reverse-path filtering drops replies through a standby uplink is unknown',
  ]);
  assert.deepEqual(rpFilterReport(config(LINKS.replace(', table: T1', '').replace(', table: T2', '')), new Error('x')), [], 'nothing marked: nothing to say');
});

test('flush writes only src_valid_mark, 0 or 1, and only from haip\'s own record', (t) => {
  const dir = tempDir(t);
  const sysctl = new FakeSysctl(new Map([['net.ipv4.conf.all.src_valid_mark', '1']]));
  for (const text of [
    'net.ipv4.conf.all.src_valid_mark=0\n',
    '# haip: sysctls haip set, set back by haip flush\nkernel.core_pattern=|/tmp/x\n',
    '# haip: sysctls haip set, set back by haip flush\nnet.ipv4.conf.all.src_valid_mark=7\n',
  ]) {
    writeFileSync(join(dir, RESTORE_FILE), text);
    assert.equal(restoreSysctls(dir, sysctl), undefined, text);
  }
  assert.deepEqual(sysctl.writes, []);
});

test('ProcSysctl: reads and writes under its root, an absent setting is undefined, nothing climbs out', (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'net/ipv4/conf/eth0.100'), { recursive: true });
  writeFileSync(join(root, 'net/ipv4/conf/eth0.100/rp_filter'), '1\n');
  const s = new ProcSysctl(root);
  assert.equal(s.read(['net', 'ipv4', 'conf', 'eth0.100', 'rp_filter']), '1');
  assert.equal(s.read(['net', 'ipv4', 'conf', 'ppp0', 'rp_filter']), undefined);
  s.write(['net', 'ipv4', 'conf', 'eth0.100', 'rp_filter'], '2');
  assert.equal(readFileSync(join(root, 'net/ipv4/conf/eth0.100/rp_filter'), 'utf8'), '2\n');
  assert.throws(() => s.write(['net', 'ipv4', 'conf', 'ppp0', 'rp_filter'], '1'), /ENOENT/, 'never creates a file');
  assert.throws(() => s.read(['net', 'ipv4', 'conf', '..', 'rp_filter']), /not a sysctl name/);
  assert.equal(sysctlName(['net', 'ipv4', 'conf', 'eth0.100', 'rp_filter']), 'net.ipv4.conf.eth0/100.rp_filter');
});
