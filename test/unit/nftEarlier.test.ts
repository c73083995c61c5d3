// Upgrades from 0.1.0: the unmarked `inet haip` it wrote is haip's and taken over, anything else of that
// name stays foreign. The listings are `nft list table inet haip` (nft 1.0.6) of tables 0.1.0's
// haipTable wrote, with a partial mark_mask and with the whole mark.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { applyStickyTable, DELETE_SCRIPT, removeStickyTable, replaceScript, haipTable, TOOK_OVER } from '../../src/net/nft';
import { isEarlierHaipTable } from '../../src/net/nftEarlier';
import { syncSticky, StickyState } from '../../src/net/sticky';
import { RunResult, Runner } from '../../src/sys/runner';
import { memoryLog } from './fakes';

export const V010_MASKED = `table inet haip {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ct mark & 0x0000ff00 == 0x00000100 meta mark set meta mark & 0xffff01ff | 0x00000100 comment "isp1: restore"
		ct mark & 0x0000ff00 == 0x00000200 meta mark set meta mark & 0xffff02ff | 0x00000200 comment "isp2: restore"
		ct state new iifname "veth-a" ct mark set ct mark & 0xffff01ff | 0x00000100 meta mark set meta mark & 0xffff01ff | 0x00000100 comment "isp1: incoming"
		ct state new iifname "veth-b" ct mark set ct mark & 0xffff02ff | 0x00000200 meta mark set meta mark & 0xffff02ff | 0x00000200 comment "isp2: incoming"
	}

	chain output {
		type route hook output priority mangle; policy accept;
		ct mark & 0x0000ff00 == 0x00000100 meta mark set meta mark & 0xffff01ff | 0x00000100 comment "isp1: restore"
		ct mark & 0x0000ff00 == 0x00000200 meta mark set meta mark & 0xffff02ff | 0x00000200 comment "isp2: restore"
	}

	chain postrouting {
		type filter hook postrouting priority mangle; policy accept;
		ct mark & 0x0000ff00 == 0x00000000 oifname "veth-a" ct mark set ct mark & 0xffff01ff | 0x00000100 comment "isp1: outgoing"
		ct mark & 0x0000ff00 == 0x00000000 oifname "veth-b" ct mark set ct mark & 0xffff02ff | 0x00000200 comment "isp2: outgoing"
	}
}
`;

const V010_WHOLE_MARK = `table inet haip {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ct mark 0x00000100 meta mark set 0x00000100 comment "isp1: restore"
		ct state new iifname "veth-a" ct mark set 0x00000100 meta mark set 0x00000100 comment "isp1: incoming"
	}

	chain output {
		type route hook output priority mangle; policy accept;
		ct mark 0x00000100 meta mark set 0x00000100 comment "isp1: restore"
	}

	chain postrouting {
		type filter hook postrouting priority mangle; policy accept;
		ct mark 0x00000000 oifname "veth-a" ct mark set 0x00000100 comment "isp1: outgoing"
	}
}
`;

const edit = (from: string, to: string) => {
  assert.ok(V010_MASKED.includes(from), from);
  return V010_MASKED.replace(from, to);
};
const ruleOf = (kind: string) => V010_MASKED.split('\n').find((l) => l.includes(`isp1: ${kind}`))!;

test("0.1.0's unmarked table is recognised as haip's, with a partial mask and with the whole mark", () => {
  assert.equal(isEarlierHaipTable(V010_MASKED), true);
  assert.equal(isEarlierHaipTable(V010_WHOLE_MARK), true);
  // 0.1.0's own text, before nft's listing, also reads as haip's (empty chains too: a sticky link without rules).
  assert.equal(isEarlierHaipTable('table inet haip {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\t}\n\tchain output {\n\t\ttype route hook output priority mangle; policy accept;\n\t}\n\tchain postrouting {\n\t\ttype filter hook postrouting priority mangle; policy accept;\n\t}\n}\n'), true);
});

const FOREIGN: [string, string][] = [
  ['an empty table', 'table inet haip {\n}\n'],
  ['nothing at all', ''],
  ['another chain', edit('\tchain output {', '\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n\t}\n\tchain output {')],
  ['a chain missing', V010_MASKED.replace(/\tchain output \{[^}]*\}\n/, '')],
  ['a chain twice', edit('\tchain output {', '\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\t}\n\tchain output {')],
  ['a drop policy', edit('postrouting priority mangle; policy accept;', 'postrouting priority mangle; policy drop;')],
  ['another priority', edit('prerouting priority mangle;', 'prerouting priority raw;')],
  ['a rule without comment', edit(' comment "isp1: outgoing"', '')],
  ['a foreign comment', edit('"isp1: outgoing"', '"my own rule"')],
  ['a drop with haip-like comment', edit(ruleOf('outgoing'), '\t\tip daddr 198.51.100.1 drop comment "isp1: outgoing"')],
  ['an extra statement', edit(ruleOf('restore'), ruleOf('restore').replace(' comment', ' counter packets 0 bytes 0 comment'))],
  ['a restore rule in postrouting', edit(ruleOf('outgoing'), ruleOf('restore'))],
  ['a set', edit('\tchain output {', '\tset blocked {\n\t\ttype ipv4_addr\n\t}\n\n\tchain output {')],
  ['a table comment of someone else', edit('table inet haip {\n', 'table inet haip {\n\tcomment "mine"\n')],
  ['a flags line', edit('table inet haip {\n', 'table inet haip {\n\tflags dormant\n')],
  ['a quote inside a name', edit('"isp1: outgoing"', '"isp1\\" drop: outgoing"')],
  ['a counter after the comment', edit('comment "isp1: restore"\n', 'comment "isp1: restore" counter\n')],
  ['output renamed to input', edit('\tchain output {', '\tchain input {')],
  ['an admin\'s own input chain', 'table inet haip {\n\tchain admins {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tcounter packets 0 bytes 0\n\t}\n}\n'],
];
for (const [what, listing] of FOREIGN)
  test(`an inet haip with ${what} is someone else's`, () => assert.equal(isEarlierHaipTable(listing), false));

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

const config = parseConfigText(
  `probe: { targets: [203.0.113.1] }\ntables: { T1: 101, T2: 102 }\nsticky: true\nlinks:\n  - { name: isp1, interface: veth-a, table: T1, gateway: 198.18.1.1 }\n  - { name: isp2, interface: veth-b, table: T2, gateway: 198.18.2.1 }\n`,
  'haip.yaml',
);

test("applying over 0.1.0's table replaces it and says so; over a foreign one refuses", async () => {
  const earlier = new FakeRunner([{ stdout: V010_MASKED }, {}]);
  assert.equal(await applyStickyTable(earlier, haipTable(config)!), true);
  assert.deepEqual(earlier.calls[1], { argv: ['-f', '-'], input: replaceScript(haipTable(config)!) });
  const foreign = new FakeRunner([{ stdout: edit(' comment "isp1: outgoing"', '') }]);
  await assert.rejects(applyStickyTable(foreign, haipTable(config)!), /someone else's/);
  assert.equal(foreign.calls.length, 1, 'a foreign table is only listed');
  // flush and sticky: false remove 0.1.0's table as well.
  const remove = new FakeRunner([{ stdout: 'table inet haip\n' }, { stdout: V010_WHOLE_MARK }, {}]);
  assert.equal(await removeStickyTable(remove), true);
  assert.deepEqual(remove.calls[2], { argv: ['-f', '-'], input: DELETE_SCRIPT });
});

test('the daemon takes 0.1.0 table over on start and logs it once', async () => {
  const log = memoryLog();
  const nft = new FakeRunner([{ stdout: V010_MASKED }, {}]);
  const state: StickyState = { pendingFlush: new Set() };
  assert.equal(await syncSticky(state, 'start', config, { log, nft, conntrack: new FakeRunner() }, 'isp1', () => 'up'), false);
  await syncSticky(state, 'probe', config, { log, nft, conntrack: new FakeRunner() }, 'isp1', () => 'up');
  assert.equal(log.lines.filter((l) => l.includes(TOOK_OVER)).length, 1, log.lines.join('\n'));
  assert.match(log.lines.join('\n'), /notice: took over nftables table inet haip left by haip 0\.1\.0/);
});
