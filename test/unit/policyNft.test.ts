// Policies in nftables, on fake runners: the chains and maps in `inet haip`, the map elements that follow
// health (only they change), and the engine the daemon calls after each pass (flushes, counts, status).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { Config, Family } from '../../src/model';
import { desiredFamilies, viewLink } from '../../src/net/desired';
import { haipTable } from '../../src/net/nft';
import { Standing } from '../../src/policy/assign';
import { PolicyEngine } from '../../src/policy/engine';
import { policyElements } from '../../src/policy/nft';
import { RunResult, Runner } from '../../src/sys/runner';
import { memoryLog } from './fakes';
import { POLICY_YAML as YAML } from './fixtures';

const config = (extra = ''): Config => parseConfigText(YAML + extra, 'haip.yaml');

class FakeRunner implements Runner {
  calls: { argv: string[]; input?: string }[] = [];
  constructor(private answer: (argv: string[]) => Partial<RunResult> = () => ({})) {}
  async run(argv: string[], input?: string): Promise<RunResult> {
    this.calls.push({ argv, input });
    return { code: 0, stdout: '', stderr: '', ...this.answer(argv) };
  }
}

describe('the table', () => {
  it('without sticky, policies alone make the table: restore, classify, mark, refuse', () => {
    const t = haipTable(config())!;
    assert.ok(t.startsWith('table inet haip {\n\tcomment "haip: managed by haip(8)'));
    for (const line of [
      '\t\tmeta nfproto ipv4 ct mark & 0xff vmap @restore_4',
      '\t\tct state new ct mark & 0xff == 0x0 iifname != { "eth1", "eth2" } jump policy_classify',
      '\t\tmeta l4proto . th dport vmap @traffic_0 comment "traffic[0]"',
      '\t\tip saddr vmap @traffic_1 comment "traffic[1]"',
      '\t\tip saddr vmap @traffic_2 comment "traffic[2]"',
      '\t\tmeta nfproto ipv4 jhash ip saddr mod 64 seed 0x68616970 vmap @policy_0_4',
      '\t\tmeta nfproto vmap @policy_1',
      '\t\tct mark set ct mark & 0xffffff00 | 0xfe meta mark set meta mark & 0xffffff00 | 0xfe',
      // Refused traffic gets no connection mark: its next packet is classified afresh.
      '\t\tmeta mark set meta mark & 0xffffff00 | 0xff',
      '\t\tmeta mark & 0xff == 0xff reject with icmpx admin-prohibited comment "last_resort: unreachable"',
    ])
      assert.ok(t.includes(line + '\n'), `missing: ${line}\n${t}`);
    assert.ok(!t.includes('chain postrouting'), 'no sticky chains without sticky');
  });
  it('replies, sticky and policies share the table; without policies, no policy chains', () => {
    const t = haipTable(config('sticky: true\n'))!;
    assert.ok(t.includes('chain postrouting') && t.includes('chain policy_prerouting') && t.includes('incoming'));
    const plain = haipTable(parseConfigText(YAML.split('policies:')[0], 'haip.yaml'))!;
    assert.ok(plain.includes('chain prerouting') && !plain.includes('policy_'), plain);
  });
  it('policies alone (no link has a table to mark replies by) still make the table', () => {
    const c = config();
    const t = haipTable({ ...c, links: c.links.map((l) => ({ ...l, table: undefined })) })!;
    assert.ok(t.includes('chain policy_prerouting') && !t.includes('chain prerouting {'), t);
  });
  it('a dead link of a refusing policy refuses its connections', () => {
    const c = config();
    const text = policyElements(c, new Map([[4, decideAll(c, { state: 'down' })]]), () => false);
    assert.ok(text.includes('add element inet haip restore_4 { 0xfa : jump mark_0xff }'), text);
    assert.ok(text.includes('add element inet haip policy_2 { ipv4 : goto set_0xff }'), text);
    assert.ok(text.includes('add element inet haip policy_1 { ipv4 : return }'), 'voip names every link: back to the main default route');
  });
  it('the table does not change with health: only the elements do', () => {
    const c = config();
    const all = (s: Standing) => new Map<Family, ReturnType<typeof decideAll>>([[4, decideAll(c, s)]]);
    assert.notEqual(policyElements(c, all({ state: 'up' }), () => true), policyElements(c, all({ state: 'down' }), () => false));
  });
});

import { decide } from '../../src/policy/assign';
function decideAll(c: Config, s: Standing) {
  return c.policies!.map((p) => decide(p, () => 1, () => s));
}

describe('the elements', () => {
  it('buckets, prefer choices and restores of live links', () => {
    const c = config();
    const standing = (l: string) => (l === 'cable' ? { state: 'down' as const } : { state: 'up' as const });
    const text = policyElements(c, new Map([[4, c.policies!.map((p) => decide(p, () => 1, standing))]]), (l) => l !== 'cable');
    const lines = text.trim().split('\n');
    assert.equal(lines[0], 'flush map inet haip restore_4');
    // spread: dsl 0xfe, cable 0xfd; voip: cable 0xfc, dsl 0xfb; no-cable: dsl 0xfa; refused 0xff.
    // spread and voip name every link (last resort: main's default route): cable's connections lose their mark's restore.
    assert.equal(lines[1], 'add element inet haip restore_4 { 0xfe : jump mark_0xfe, 0xfb : jump mark_0xfb, 0xfa : jump mark_0xfa }');
    assert.ok(lines.includes('flush map inet haip policy_0_4'));
    const buckets = lines.find((l) => l.startsWith('add element inet haip policy_0_4'))!;
    assert.equal((buckets.match(/goto set_0xfe/g) ?? []).length, 64, 'every bucket on dsl while cable is down');
    assert.ok(lines.includes('flush map inet haip restore_6') && !lines.some((l) => l.startsWith('add element inet haip restore_6')), 'IPv6 not routed: no elements');
    assert.ok(lines.includes('add element inet haip policy_1 { ipv4 : goto set_0xfb }'));
    assert.ok(lines.includes('add element inet haip policy_2 { ipv4 : goto set_0xfa }'));
  });
});

describe('the engine after each pass', () => {
  const setup = () => {
    const nft = new FakeRunner();
    const conntrack = new FakeRunner((argv) =>
      argv[0] === '-D' ? { stderr: 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n' } : { stdout: 'tcp 6 431999 ESTABLISHED src=1 mark=254 use=1\nudp 17 29 src=2 mark=252 use=1\ntcp 6 10 src=3 mark=254 use=1\n' },
    );
    const log = memoryLog();
    let now = 0;
    const engine = new PolicyEngine({ log, nft, conntrack, now: () => (now += 10_000) });
    return { nft, conntrack, log, engine };
  };
  const states = (m: Record<string, Standing['state']>) => (l: string) => ({ state: m[l] ?? 'down' });

  it('pushes the elements on every pass, flushes a dead link\'s connections once, counts by mark', async () => {
    const { nft, conntrack, engine } = setup();
    const c = config();
    await engine.afterPass(c, states({ dsl: 'up', cable: 'up' }));
    assert.equal(nft.calls.length, 1);
    assert.deepEqual(nft.calls[0].argv, ['-f', '-']);
    assert.ok(!conntrack.calls.some((x) => x.argv[0] === '-D'), 'nothing to flush at start');
    await engine.afterPass(c, states({ dsl: 'up', cable: 'down' }));
    const flushes = conntrack.calls.filter((x) => x.argv[0] === '-D').map((x) => x.argv.join(' '));
    assert.deepEqual(flushes, ['-D -f ipv4 --mark 0xfd/0xff', '-D -f ipv4 --mark 0xfc/0xff']);
    await engine.afterPass(c, states({ dsl: 'up', cable: 'down' }));
    assert.equal(conntrack.calls.filter((x) => x.argv[0] === '-D').length, 2, 'flushed once, not every pass');
    assert.equal(nft.calls.length, 3);
    const s = engine.status(c)!;
    assert.deepEqual(s.policies[0].links.map((l) => [l.name, l.connections]), [['dsl', 2], ['cable', 0]]);
    assert.deepEqual(s.policies[1].families[0], { family: 4, usable: ['dsl'], chosen: 'dsl' });
  });

  it('failback: move flushes a prefer policy\'s connections on the backup when the preferred link returns', async () => {
    const { conntrack, engine, log } = setup();
    const c = config();
    await engine.afterPass(c, states({ dsl: 'up', cable: 'down' }));
    await engine.afterPass(c, states({ dsl: 'up', cable: 'up' }));
    const flushes = conntrack.calls.filter((x) => x.argv[0] === '-D').map((x) => x.argv.join(' '));
    assert.deepEqual(flushes, ['-D -f ipv4 --mark 0xfb/0xff'], 'voip on dsl (0xfb) moves back; spread keeps its connections');
    assert.ok(log.lines.some((l) => /policy voip: dsl -> cable/.test(l)), log.lines.join('\n'));
  });

  it('a failed push is logged once and asks for a retry', async () => {
    const log = memoryLog();
    const nft = new FakeRunner(() => ({ code: 1, stderr: 'Error: No such file or directory' }));
    const engine = new PolicyEngine({ log, nft, now: () => 0 });
    assert.equal(await engine.afterPass(config(), states({ dsl: 'up' })), true);
    assert.equal(await engine.afterPass(config(), states({ dsl: 'up' })), true);
    assert.equal(log.lines.filter((l) => /policies: nft -f -/.test(l)).length, 1);
  });

  it('without policies: nothing runs, no status', async () => {
    const nft = new FakeRunner();
    const engine = new PolicyEngine({ log: memoryLog(), nft, now: () => 0 });
    const c = parseConfigText(YAML.split('policies:')[0], 'haip.yaml');
    assert.equal(await engine.afterPass(c, () => ({ state: 'up' })), false);
    assert.equal(nft.calls.length, 0);
    assert.equal(engine.status(c), undefined);
  });
});

describe('the rules', () => {
  it('fwmark rules only for a family some link routes: an IPv4-only config gets no ip -6 rules to add again each pass', () => {
    const c = config();
    const views = c.links.map((link) => viewLink(link, { name: link.interface, up: true, addresses: [{ address: link.gateway!.replace(/1$/, '2'), prefixlen: 24 }] }));
    const state = desiredFamilies(c, [
      { family: 4, views, active: 'dsl' },
      { family: 6, views: [], active: null },
    ]);
    const fwmark = state.rules.filter((r) => r.fwmark !== undefined);
    assert.ok(fwmark.length > 0);
    assert.deepEqual(fwmark.filter((r) => r.family === 6), []);
  });
});
