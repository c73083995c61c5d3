// Sticky connections, the pure parts and the daemon-side pass on fake runners: the nftables table as
// golden text, the fwmark rules in desiredState, the config checks, and the selective conntrack flush.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfigText } from '../../src/config/load';
import { memoryLog } from './fakes';
import { Config, ruleToString } from '../../src/model';
import { flushArgv, flushMarked } from '../../src/net/conntrack';
import { desiredState, linkMark, LinkView, markMask } from '../../src/net/desired';
import { applyStickyTable, DELETE_SCRIPT, removeStickyTable, replaceScript, haipTable, TABLE_MARKER } from '../../src/net/nft';
import { syncSticky, StickyState } from '../../src/net/sticky';
import { RunResult, Runner } from '../../src/sys/runner';

const YAML = `probe: { targets: [203.0.113.1] }
tables: { T1: 101, T2: 102 }
links:
  - { name: dsl, interface: eth1, table: T1, gateway: 198.18.1.1 }
  - { name: lte, interface: ppp0, table: T2 }
`;

const config = (extra = '', base = YAML): Config => parseConfigText(base + extra, 'haip.yaml');

/** Records every call and answers from a script of results (the last one repeats). */
class FakeRunner implements Runner {
  calls: { argv: string[]; input?: string }[] = [];
  constructor(private answers: Partial<RunResult>[] = [{}]) {}
  async run(argv: string[], input?: string): Promise<RunResult> {
    this.calls.push({ argv, input });
    const a = this.answers.length > 1 ? this.answers.shift()! : this.answers[0];
    return { code: 0, stdout: '', stderr: '', ...a };
  }
}

const ABSENT: Partial<RunResult> = { code: 1, stderr: 'Error: No such file or directory' };
const OURS = `table inet haip {\n\tcomment "${TABLE_MARKER}"\n}\n`;

test('the table for two links with the default marks and mask, as golden text', () => {
  assert.equal(
    haipTable(config('sticky: true\n')),
    `table inet haip {
	comment "haip: managed by haip(8), replaced on start and reload"
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ct mark & 0xff == 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "dsl: restore"
		ct mark & 0xff == 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "lte: restore"
		ct state new iifname "eth1" ct mark set ct mark & 0xffffff00 | 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "dsl: incoming"
		ct state new iifname "ppp0" ct mark set ct mark & 0xffffff00 | 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "lte: incoming"
	}

	chain output {
		type route hook output priority mangle; policy accept;
		ct mark & 0xff == 0x1 meta mark set meta mark & 0xffffff00 | 0x1 comment "dsl: restore"
		ct mark & 0xff == 0x2 meta mark set meta mark & 0xffffff00 | 0x2 comment "lte: restore"
	}

	chain postrouting {
		type filter hook postrouting priority mangle; policy accept;
		ct mark & 0xff == 0x0 oifname "eth1" ct mark set ct mark & 0xffffff00 | 0x1 comment "dsl: outgoing"
		ct mark & 0xff == 0x0 oifname "ppp0" ct mark set ct mark & 0xffffff00 | 0x2 comment "lte: outgoing"
	}
}
`,
  );
});

test('custom marks and a mask: other users keep their bits; the whole mark is a plain set', () => {
  const text = haipTable(config('sticky: true\nmark_mask: 0xf00\n', YAML.replace('gateway: 198.18.1.1 }', 'gateway: 198.18.1.1, mark: 0x100 }').replace('table: T2 }', 'table: T2, mark: 0x200 }')))!;
  assert.match(text, /ct mark & 0xf00 == 0x100 meta mark set meta mark & 0xfffff0ff \| 0x100 comment "dsl: restore"/);
  assert.match(text, /ct mark & 0xf00 == 0x0 oifname "ppp0" ct mark set ct mark & 0xfffff0ff \| 0x200/);
  const whole = haipTable(config('sticky: true\nmark_mask: 0xffffffff\n'))!;
  assert.match(whole, /ct mark & 0xffffffff == 0x2 meta mark set 0x2 comment "lte: restore"/);
});

test('not sticky: the table marks incoming connections only, and the fwmark rules route their replies', () => {
  const c = config();
  assert.equal(c.sticky, false);
  assert.doesNotMatch(haipTable(c)!, /postrouting|outgoing/);
  const views: LinkView[] = c.links.map((link, i) => ({ link, source: `198.18.${i + 1}.2`, connected: `198.18.${i + 1}.0/24` }));
  assert.deepEqual(desiredState(c, views, 'dsl').rules.filter((r) => r.fwmark !== undefined).map((r) => r.priority), [11010, 11020]);
});

test('replacing is one transaction that works whether or not the table exists', () => {
  assert.equal(replaceScript('table inet haip {\n}\n'), 'table inet haip {}\ndelete table inet haip\ntable inet haip {\n}\n');
  assert.equal(DELETE_SCRIPT, 'table inet haip {}\ndelete table inet haip\n');
});

test('desiredState: one fwmark rule per link after every source rule, kept while the link is unusable', () => {
  const c = config('sticky: true\n');
  const views: LinkView[] = [
    { link: c.links[0], source: '198.18.1.2', connected: '198.18.1.0/24' },
    { link: c.links[1], unusable: 'interface ppp0 does not exist' },
  ];
  assert.deepEqual(desiredState(c, views, 'dsl').rules.map(ruleToString), [
    'priority 10000 from all lookup main suppress_prefixlength 0 proto 72',
    'priority 10005 from all oif eth1 lookup 101 proto 72',
    'priority 10010 from 198.18.1.2 lookup 101 proto 72',
    'priority 11010 from all fwmark 0x1/0xff lookup 101 proto 72',
    'priority 11020 from all fwmark 0x2/0xff lookup 102 proto 72',
  ]);
  const whole = config('sticky: true\nmark_mask: 0xffffffff\n');
  const rule = desiredState(whole, views.map((v, i) => ({ ...v, link: whole.links[i] })), 'dsl').rules.find((r) => r.fwmark === 2)!;
  assert.equal(rule.mask, undefined, '`ip -j rule` shows no mask for a full one: the desired rule must not have one either');
});

test('config: marks default to position + 1 under mask 0xff; hex marks and masks are read as YAML integers', () => {
  const c = config('sticky: true\n');
  assert.deepEqual(c.links.map((_, i) => linkMark(c, i)), [1, 2]);
  assert.equal(markMask(c), 0xff);
  assert.equal(config('mark_mask: 0xff00\n', YAML.replace('table: T2 }', 'table: T2, mark: 0x1200 }').replace('gateway: 198.18.1.1 }', 'gateway: 198.18.1.1, mark: 0x1100 }')).markMask, 0xff00);
});

test('config: a mark outside the mask, a shared mark, a link without a table and too high a rule_priority are refused', () => {
  const bad = `probe: { targets: [203.0.113.1] }
tables: { T1: 101 }
sticky: true
rule_priority: 32000
links:
  - { name: a, interface: eth1, table: T1, mark: 0x100 }
  - { name: b, interface: eth2, mark: 1 }
  - { name: c, interface: eth3, table: 7, mark: 1 }
`;
  try {
    parseConfigText(bad, 'haip.yaml');
    assert.fail('accepted');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const msgs = err.problems.map((p) => `${p.path}: ${p.message}`);
    assert.deepEqual(msgs, [
      "rule_priority: haip's fwmark rules (replies by the arrival uplink, sticky) need priorities up to 33030, past 32765: lower rule_priority",
      'links[0].mark: mark 0x100 does not fit in mark_mask 0xff',
      "links[1]: sticky needs a table for every link: its fwmark rule routes the link's connections there",
      'links[2].mark: mark 0x1 is already used by links[1]',
    ]);
  }
});

test('conntrack: deletes by mark/mask, and "0 flow entries" (exit 1) is success', async () => {
  assert.deepEqual(flushArgv(2, 0xff), ['-D', '-f', 'ipv4', '--mark', '0x2/0xff']);
  assert.equal(await flushMarked(new FakeRunner([{ stderr: 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n' }]), 2, 0xff), 3);
  assert.equal(await flushMarked(new FakeRunner([{ code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' }]), 2, 0xff), 0);
  await assert.rejects(flushMarked(new FakeRunner([{ code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): Operation not permitted\n' }]), 2, 0xff), /exit 1: .*Operation not permitted/);
});

test('removing the table touches nothing when haip has none, and only inet haip otherwise', async () => {
  const none = new FakeRunner([{ stdout: 'table inet filter\ntable inet haipx\n' }]);
  assert.equal(await removeStickyTable(none), false);
  assert.equal(none.calls.length, 1);
  const ours = new FakeRunner([{ stdout: 'table inet filter\ntable inet haip\n' }, { stdout: OURS }, {}]);
  assert.equal(await removeStickyTable(ours), true);
  assert.deepEqual(ours.calls[2], { argv: ['-f', '-'], input: DELETE_SCRIPT });
  // An admin's own `inet haip` (no marker comment) is never deleted.
  const foreign = new FakeRunner([{ stdout: 'table inet haip\n' }, { stdout: 'table inet haip {\n\tchain c {\n\t}\n}\n' }]);
  await assert.rejects(removeStickyTable(foreign), /without haip's marker comment: it is someone else's/);
  assert.equal(foreign.calls.length, 2);
  await assert.rejects(applyStickyTable(new FakeRunner([{ stdout: 'table inet haip {\n}\n' }]), 'table inet haip {}'), /someone else's/);
});

test('the daemon pass: applies the table once, flushes only links still down, and never flushes when not sticky', async () => {
  const log = memoryLog();
  const nft = new FakeRunner([ABSENT, {}]);
  const conntrack = new FakeRunner([{ stderr: '4 flow entries have been deleted.' }]);
  const c = config('sticky: true\n');
  const state: StickyState = { pendingFlush: new Set(['dsl', 'lte']) };
  const health: Record<string, 'up' | 'down'> = { dsl: 'up', lte: 'down' };
  assert.equal(await syncSticky(state, 'probe', c, { log, nft, conntrack }, 'dsl', (n) => health[n]), false);
  assert.deepEqual(nft.calls.map((x) => x.argv), [['list', 'table', 'inet', 'haip'], ['-f', '-']]);
  assert.equal(nft.calls[1].input, replaceScript(haipTable(c)!));
  assert.deepEqual(conntrack.calls.map((x) => x.argv), [flushArgv(2, 0xff)], 'dsl came back up before the pass: its connections stay');
  assert.match(log.lines.join('\n'), /notice: sticky: lte is down: flushed its 4 connection\(s\) \(mark 0x2\); their next packets take dsl/);
  await syncSticky(state, 'probe', c, { log, nft, conntrack }, 'dsl', (n) => health[n]);
  assert.equal(nft.calls.length, 2, 'unchanged text is not applied again');

  const failing = new FakeRunner([ABSENT, { code: 1, stderr: 'Error: Could not process rule: Operation not supported' }]);
  const s2: StickyState = { pendingFlush: new Set() };
  assert.equal(await syncSticky(s2, 'start', c, { log, nft: failing, conntrack }, 'dsl', () => 'up'), true, 'a failed apply asks for a retry');
  assert.match(log.lines.join('\n'), /error: start: nft -f - \(replacing table inet haip\): exit 1: Error: Could not process rule: Operation not supported; will retry/);

  // Not sticky: the table for replies goes in once, and conntrack is never touched.
  const off = new FakeRunner([ABSENT, {}]);
  const ct = new FakeRunner();
  const s3: StickyState = { pendingFlush: new Set(['lte']) };
  assert.equal(await syncSticky(s3, 'start', config(), { log, nft: off, conntrack: ct }, 'dsl', () => 'down'), false);
  await syncSticky(s3, 'probe', config(), { log, nft: off, conntrack: ct }, 'dsl', () => 'down');
  assert.deepEqual(off.calls.map((x) => x.argv), [['list', 'table', 'inet', 'haip'], ['-f', '-']]);
  assert.equal(off.calls[1].input, replaceScript(haipTable(config())!));
  assert.equal(ct.calls.length, 0, 'not sticky: conntrack is never touched');
  assert.equal(s3.pendingFlush.size, 0);

  // No link with a table (the original command line's mode): one look for a leftover table, then nothing.
  const legacy = config('', YAML.replace(', table: T1', '').replace(', table: T2', ''));
  const none = new FakeRunner([{ stdout: '' }]);
  const s4: StickyState = { pendingFlush: new Set() };
  await syncSticky(s4, 'start', legacy, { log, nft: none, conntrack: ct }, 'dsl', () => 'up');
  await syncSticky(s4, 'probe', legacy, { log, nft: none, conntrack: ct }, 'dsl', () => 'up');
  assert.deepEqual(none.calls.map((x) => x.argv), [['list', 'tables', 'inet']]);

  // nftables not installed (only recommended): said once, no retry, sticky off.
  const missing = new FakeRunner([{ code: 127, stderr: 'nft: spawn nft ENOENT' }]);
  const s5: StickyState = { pendingFlush: new Set() };
  const before = log.lines.length;
  assert.equal(await syncSticky(s5, 'start', config(), { log, nft: missing, conntrack: ct }, 'dsl', () => 'up'), false, 'nothing to retry');
  await syncSticky(s5, 'probe', config(), { log, nft: missing, conntrack: ct }, 'dsl', () => 'up');
  assert.deepEqual(log.lines.slice(before), ['error: nft is not installed: replies to connections arriving on a standby uplink leave by the default route (install nftables)']);
});

for (const why of ['periodic check', 'nft event'] as const)
test(`the ${why} puts back a table someone removed (\`systemctl restart nftables\` flushes the ruleset)`, async () => {
  const log = memoryLog();
  const c = config('sticky: true\n');
  const state: StickyState = { pendingFlush: new Set(), applied: haipTable(c) };
  const nft = new FakeRunner([ABSENT, ABSENT, {}]);
  await syncSticky(state, 'probe', c, { log, nft, conntrack: new FakeRunner() }, 'dsl', () => 'up');
  assert.equal(nft.calls.length, 0, 'only the periodic check and nft events look');
  await syncSticky(state, why, c, { log, nft, conntrack: new FakeRunner() }, 'dsl', () => 'up');
  assert.deepEqual(nft.calls.map((x) => x.argv), [['list', 'table', 'inet', 'haip'], ['list', 'table', 'inet', 'haip'], ['-f', '-']]);
  assert.match(log.lines.join('\n'), /warning: changed outside haip, putting back: nftables table inet haip/);
});
