// Delegated prefixes learned from the DHCPv6 client's records: what is taken, what is refused and why,
// and what the daemon's read, views and desired state make of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InterfaceFacts, LinkConfig, Route } from '../../src/model';
import { desiredFamilies, viewLink6 } from '../../src/net/desired';
import { badDelegation, learnedNotes, learnPrefixes6, MAX_LEARNED_PER_LINK, NOTHING_LEARNED } from '../../src/net/pd';
import { observe, readScope } from '../../src/net/router';
import { ruleToString } from '../../src/model';
import { FakeKernel } from './fakes';
import { parseConfigText } from '../../src/config/load';

const iface = (name: string, index: number, ...a: string[]): InterfaceFacts => ({
  name,
  index,
  up: true,
  addresses: [],
  addresses6: a.map((x) => ({ address: x.split('/')[0], prefixlen: Number(x.split('/')[1] ?? 64) })),
});
const link = (name: string, dev: string, extra: Partial<LinkConfig> = {}) => ({ name, interface: dev, weight: 1, table: 100 + Number(dev.slice(-1)), ...extra }) as LinkConfig;
const record = (dst: string, ifindex: number): Route => ({ family: 6, table: 254, type: 'unreachable', dst, protocol: 16, metric: 7200 + ifindex });
const interfaces = new Map([iface('eth1', 2), iface('eth2', 3, '2001:db8:2::2/64'), iface('lan0', 4, '2001:db8:1:100::1/64'), iface('eth3', 5)].map((i) => [i.name, i]));

describe('badDelegation: what an ISP may delegate', () => {
  const cases: [string, string | undefined][] = [
    ['2001:db8:1:100::/56', undefined],
    ['2a00:1:2::/48', undefined],
    ['2001:db8:1:1::/64', undefined],
    ['2001:db8::/32', '/32 is not a delegation (/48 to /64)'],
    ['2001:db8:1:1::/80', '/80 is not a delegation (/48 to /64)'],
    ['fd00:1:2::/48', 'not global unicast (2000::/3)'],
    ['fe80::/64', 'not global unicast (2000::/3)'],
    ['::/48', 'not global unicast (2000::/3)'],
    ['2001:db8:1:100::1/56', 'host bits set'],
    ['2001:db8:1:100::', 'not an IPv6 prefix'],
    ['198.51.100.0/24', 'not an IPv6 prefix'],
    ['2001:db8::/56/1', 'not an IPv6 prefix'],
    ['2001:db8::/5x', 'not an IPv6 prefix'],
  ];
  for (const [prefix, why] of cases) it(`${prefix}: ${why ?? 'taken'}`, () => assert.equal(badDelegation(prefix), why));
});

describe('learnPrefixes6', () => {
  const show = (l: ReturnType<typeof learnPrefixes6>) => ({
    byLink: Object.fromEntries([...l.byLink].map(([k, v]) => [k, v.map((p) => p.prefix)])),
    refused: l.refused.map((r) => `${r.link} ${r.prefix}: ${r.why}`),
  });
  const cases: { name: string; links: LinkConfig[]; records: Route[]; want: ReturnType<typeof show> }[] = [
    {
      name: 'the record\'s metric names the uplink (7200 + ifindex)',
      links: [link('isp1', 'eth1'), link('isp2', 'eth2')],
      records: [record('2001:db8:1:100::/56', 2), record('2001:db8:2:100::/56', 3)],
      want: { byLink: { isp1: ['2001:db8:1:100::/56'], isp2: ['2001:db8:2:100::/56'] }, refused: [] },
    },
    {
      name: 'records of interfaces no learning link uses are not haip\'s business',
      links: [link('isp1', 'eth1')],
      records: [record('2001:db8:5:100::/56', 5), record('2001:db8:6:100::/56', 99), { ...record('2001:db8:7:100::/56', 2), type: undefined }],
      want: { byLink: {}, refused: [] },
    },
    {
      name: 'a link with prefixes6 or without a table learns nothing',
      links: [link('isp1', 'eth1', { prefixes6: ['2001:db8:1:100::/56'] }), link('isp2', 'eth2', { table: undefined })],
      records: [record('2001:db8:1:200::/56', 2), record('2001:db8:2:100::/56', 3)],
      want: { byLink: {}, refused: [] },
    },
    {
      name: 'a prefix inside another link\'s prefixes6 is refused',
      links: [link('isp1', 'eth1'), link('isp2', 'eth2', { prefixes6: ['2001:db8:2:100::/56'] })],
      records: [record('2001:db8:2:100::/60', 2)],
      want: { byLink: {}, refused: ['isp1 2001:db8:2:100::/60: overlaps what link "isp2" owns'] },
    },
    {
      name: 'a prefix covering another link\'s WAN address is refused',
      links: [link('isp1', 'eth1'), link('isp2', 'eth2')],
      records: [record('2001:db8:2::/48', 2)],
      want: { byLink: {}, refused: ['isp1 2001:db8:2::/48: overlaps what link "isp2" owns'] },
    },
    {
      name: 'a prefix covering another link\'s source6 is refused',
      links: [link('isp1', 'eth1'), link('isp3', 'eth3', { source6: '2001:db8:1:100::1' })],
      records: [record('2001:db8:1:100::/56', 2)],
      want: { byLink: {}, refused: ['isp1 2001:db8:1:100::/56: overlaps what link "isp3" owns'] },
    },
    {
      name: 'two uplinks delegated overlapping prefixes: neither captures the other\'s hosts',
      links: [link('isp1', 'eth1'), link('isp3', 'eth3')],
      records: [record('2001:db8:1:100::/56', 2), record('2001:db8:1::/48', 5)],
      want: {
        byLink: {},
        refused: ['isp1 2001:db8:1:100::/56: overlaps 2001:db8:1::/48, delegated to link "isp3"', 'isp3 2001:db8:1::/48: overlaps 2001:db8:1:100::/56, delegated to link "isp1"'],
      },
    },
    {
      name: 'bad prefixes refused; duplicates once; more than the bound refused',
      links: [link('isp1', 'eth1')],
      records: [
        record('fd00:1::/48', 2),
        record('2001:db8::/32', 2),
        ...[1, 2, 3, 4, 5].map((i) => record(`2001:db8:1:${i}00::/56`, 2)),
        record('2001:db8:1:100::/56', 2),
        record('2001:db8:1:1::1/64', 2),
      ],
      want: {
        byLink: { isp1: ['2001:db8:1:100::/56', '2001:db8:1:200::/56', '2001:db8:1:300::/56', '2001:db8:1:400::/56'] },
        refused: [
          'isp1 fd00:1::/48: not global unicast (2000::/3)',
          'isp1 2001:db8::/32: /32 is not a delegation (/48 to /64)',
          'isp1 2001:db8:1:1::1/64: host bits set',
          `isp1 2001:db8:1:500::/56: more than ${MAX_LEARNED_PER_LINK} delegated prefixes`,
        ],
      },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(show(learnPrefixes6(c.links, c.records, interfaces)), c.want));

  it('says where a prefix came from', () => {
    const l = learnPrefixes6([link('isp1', 'eth1')], [record('2001:db8:1:100::/56', 2)], interfaces);
    assert.equal(l.byLink.get('isp1')?.[0].from, 'eth1\'s DHCPv6 client (unreachable 2001:db8:1:100::/56 proto dhcp metric 7202)');
  });
});

describe('learnedNotes: each change told once', () => {
  const links = [link('isp1', 'eth1'), link('isp2', 'eth2', { prefixes6: ['2001:db8:2:100::/56'] })];
  const a = learnPrefixes6(links, [record('2001:db8:1:100::/56', 2)], interfaces);
  const b = learnPrefixes6(links, [record('2001:db8:1:200::/56', 2), record('2001:db8:2:100::/64', 2)], interfaces);
  it('learned, renumbered, refused, forgotten', () => {
    assert.deepEqual(learnedNotes(NOTHING_LEARNED, a).map((n) => `${n.level}: ${n.text}`), [
      'notice: isp1: delegated IPv6 prefixes none -> 2001:db8:1:100::/56, learned from eth1\'s DHCPv6 client (unreachable 2001:db8:1:100::/56 proto dhcp metric 7202)',
    ]);
    assert.deepEqual(learnedNotes(a, a), []);
    assert.deepEqual(learnedNotes(a, b).map((n) => `${n.level}: ${n.text}`), [
      'notice: isp1: delegated IPv6 prefixes 2001:db8:1:100::/56 -> 2001:db8:1:200::/56, learned from eth1\'s DHCPv6 client (unreachable 2001:db8:1:200::/56 proto dhcp metric 7202)',
      'warning: isp1: delegated IPv6 prefix 2001:db8:2:100::/64 refused: overlaps what link "isp2" owns; it routes nothing',
    ]);
    assert.deepEqual(learnedNotes(b, b), []);
    assert.deepEqual(learnedNotes(b, NOTHING_LEARNED).map((n) => n.text), ['isp1: delegated IPv6 prefixes 2001:db8:1:200::/56 -> none']);
  });
});

describe('learned prefixes in the view and the desired state', () => {
  const config = parseConfigText(
    'tables: { T1: 101 }\nprobe: { targets: ["2001:db8:ff::1"] }\nlinks:\n  - { name: isp1, interface: eth1, table: T1, gateway6: "fe80::1" }\n',
    'h.yaml',
  );
  it('an unnumbered WAN is probed from the LAN address inside the learned prefix; the prefix gets a source rule', () => {
    const learned = learnPrefixes6(config.links, [record('2001:db8:1:100::/56', 2)], interfaces);
    const v = viewLink6(config.links[0], interfaces.get('eth1'), undefined, interfaces.values(), learned.byLink.get('isp1'));
    assert.equal(v.unusable, undefined);
    assert.equal(v.source, '2001:db8:1:100::1');
    assert.deepEqual(v.prefixes6?.map((p) => p.prefix), ['2001:db8:1:100::/56']);
    const rules = desiredFamilies(config, [{ family: 6, views: [v], active: 'isp1' }]).rules.filter((r) => r.from).map(ruleToString);
    assert.deepEqual(rules, ['-6 priority 10010 from 2001:db8:1:100::1 lookup 101 proto 72', '-6 priority 10010 from 2001:db8:1:100::/56 lookup 101 proto 72']);
  });
  it('nothing learned: unusable, and the reason says so', () => {
    const v = viewLink6(config.links[0], interfaces.get('eth1'), undefined, interfaces.values(), undefined);
    assert.equal(v.unusable, 'eth1 has no global IPv6 address and no delegated prefix is learned');
  });
  it('the read: only when a link learns, main\'s unreachable proto dhcp routes, filtered by the kernel', async () => {
    const k = new FakeKernel().addInterface('eth1', [{ address: '198.18.1.2', prefixlen: 24 }]);
    k.delegate('2001:db8:1:100::/56', 'eth1');
    k.addRawRoute({ family: 6, dst: '2001:db8:9::/48', dev: '', type: 'unreachable' });
    const obs = await observe(k, readScope(config));
    assert.deepEqual(obs.delegations6.map((r) => `${r.dst} metric ${r.metric}`), ['2001:db8:1:100::/56 metric 7202']);
    const learned = learnPrefixes6(config.links, obs.delegations6, obs.interfaces);
    assert.deepEqual(learned.byLink.get('isp1')?.map((p) => p.prefix), ['2001:db8:1:100::/56']);
    const withPrefixes = parseConfigText(
      'tables: { T1: 101 }\nprobe: { targets: ["2001:db8:ff::1"] }\nlinks:\n  - { name: isp1, interface: eth1, table: T1, prefixes6: ["2001:db8:1:100::/56"] }\n',
      'h.yaml',
    );
    k.clearLog();
    await observe(k, readScope(withPrefixes));
    assert.ok(!k.log.some((a) => a.includes('unreachable')), 'no read when every link lists its prefixes');
    assert.deepEqual(k.unknown, []);
  });
});
