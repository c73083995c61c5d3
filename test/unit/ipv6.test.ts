// IPv6 dual-stack on fakes: the `ip -6` renderings, the per-family golden state, learned IPv6 gateways,
// and the daemon choosing IPv6's link independently of IPv4's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Daemon } from '../../src/daemon';
import { HookEvent } from '../../src/model';
import { ConfigError, parseConfigText } from '../../src/config/load';
import { Config, familyOf } from '../../src/model';
import { networkOf6 } from '../../src/net/desired';
import { commandArgv, parseInterfaces, parseRoutes, parseRules } from '../../src/net/iproute';
import { reconcile } from '../../src/net/plan';
import { observe, readScope } from '../../src/net/router';
import { checkReport, planReport } from '../../src/ops';
import { renderStatus } from '../../src/statusView';
import { flushArgv } from '../../src/net/conntrack';
import { StickyState, syncSticky } from '../../src/net/sticky';
import { haipTable } from '../../src/net/nft';
import { isIPv6Event } from '../../src/sys/linkEvents';
import { RunResult } from '../../src/sys/runner';
import { renderMetrics } from '../../src/metrics';
import { StatusDoc, statusLine } from '../../src/status';
import { FakeClock, FakeKernel, FakeLinkEvents, FakeProber, memoryLog, RecordingNotifier } from './fakes';

const DUAL = parseConfigText(
  `probe: { targets: [203.0.113.1, "2001:db8:ff::1"] }
tables: { T1: 101, T2: 102 }
links:
  - { name: dsl, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }
  - { name: cable, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1 }
`,
  'dual.yaml',
);

const DSL4 = '198.18.1.2';
const DSL6 = '2001:db8:1::2';
const CAB4 = '198.18.2.2';
const CAB6 = '2001:db8:2::2';

function dualKernel(): FakeKernel {
  return (
    new FakeKernel()
      .addInterface('eth1', [
        { address: DSL4, prefixlen: 24 },
        { address: DSL6, prefixlen: 64 },
      ])
      .addInterface('eth2', [
        { address: CAB4, prefixlen: 24 },
        { address: CAB6, prefixlen: 64 },
      ])
      // The kernel's route from cable's router advertisement: haip learns cable's IPv6 gateway from it.
      .addRawRoute({ dst: 'default', gateway: 'fe80::2', dev: 'eth2', protocol: 9, metric: 1024 })
  );
}

function setup(config: Config = DUAL, kernel = dualKernel()) {
  const clock = new FakeClock();
  const prober = new FakeProber();
  const notifier = new RecordingNotifier();
  const log = memoryLog();
  const hookEvents: HookEvent[] = [];
  const docs: StatusDoc[] = [];
  const daemon = new Daemon(config, {
    ip: kernel,
    prober,
    clock,
    notifier,
    log,
    events: new FakeLinkEvents(),
    hooks: { run: (ev) => void hookEvents.push(ev) },
    status: { write: (d) => void docs.push(d) },
    watchdogMs: null,
  });
  return { kernel, clock, prober, notifier, log, hookEvents, docs, daemon, lastDoc: () => docs[docs.length - 1] };
}

const DUAL_GOLDEN_V6 = [
  '-6 0: from all lookup local',
  '-6 10000: from all lookup main suppress_prefixlength 0 proto 72',
  '-6 10005: from all oif eth1 lookup 101 proto 72',
  '-6 10005: from all oif eth2 lookup 102 proto 72',
  '-6 10010: from 2001:db8:1::/64 lookup 101 proto 72',
  '-6 10020: from 2001:db8:2::/64 lookup 102 proto 72',
  '-6 32766: from all lookup main',
];

describe('IPv6: renderings', () => {
  it('commands carry -6, read back in the kernel\'s own form', () => {
    const route = { family: 6 as const, table: 101, dst: 'default', gateway: 'fe80::1', dev: 'eth1', protocol: 72 };
    assert.deepEqual(commandArgv({ op: 'route-replace', route }), ['-6', 'route', 'replace', 'default', 'via', 'fe80::1', 'dev', 'eth1', 'proto', '72', 'table', '101']);
    const rule = { family: 6 as const, priority: 10010, from: '2001:db8:1::/64', table: 101, protocol: 72 };
    assert.deepEqual(commandArgv({ op: 'rule-add', rule }), ['-6', 'rule', 'add', 'priority', '10010', 'from', '2001:db8:1::/64', 'lookup', '101', 'protocol', '72']);
    assert.deepEqual(commandArgv({ op: 'route-del', route: { table: 101, dst: 'default', dev: 'eth1', protocol: 72 } }).slice(0, 3), ['-4', 'route', 'del']);
  });

  it('parses iproute2 6.1 -j -N output of ip -6 route, rule and addr', () => {
    // Shapes as printed by iproute2 6.1 on Debian 12 (a router-advertisement default, a /128 rule).
    const routes = parseRoutes(
      '[{"dst":"default","gateway":"fe80::2","dev":"eth2","protocol":"9","metric":1024,"flags":[],"expires":1795,"pref":"medium"}]',
      254,
      6,
    );
    assert.deepEqual(routes, [{ family: 6, table: 254, dst: 'default', gateway: 'fe80::2', dev: 'eth2', protocol: 9, metric: 1024 }]);
    const rules = parseRules('[{"priority":10010,"src":"2001:db8:1::2","table":"101","protocol":"72"},{"priority":10020,"src":"2001:db8:2::","srclen":64,"table":"102"}]', 6);
    assert.deepEqual(rules, [
      { family: 6, priority: 10010, from: '2001:db8:1::2', table: 101, protocol: 72 },
      { family: 6, priority: 10020, from: '2001:db8:2::/64', table: 102 },
    ]);
    const ifs = parseInterfaces(
      JSON.stringify([
        {
          ifname: 'eth1',
          flags: ['BROADCAST', 'UP', 'LOWER_UP'],
          addr_info: [
            { family: 'inet', local: DSL4, prefixlen: 24, scope: 'global' },
            { family: 'inet6', local: '2001:db8:1::9', prefixlen: 64, scope: 'global', tentative: true },
            { family: 'inet6', local: '2001:db8:1::8', prefixlen: 64, scope: 'global', deprecated: true },
            { family: 'inet6', local: DSL6, prefixlen: 64, scope: 'global', dynamic: true, mngtmpaddr: true },
            { family: 'inet6', local: 'fe80::5', prefixlen: 64, scope: 'link' },
          ],
        },
      ]),
    );
    assert.deepEqual(ifs.get('eth1')!.addresses6, [{ address: DSL6, prefixlen: 64 }]);
    assert.deepEqual(ifs.get('eth1')!.addresses, [{ address: DSL4, prefixlen: 24, peer: undefined }]);
  });

  it('IPv6 prefixes and families', () => {
    assert.equal(networkOf6('2001:db8:1::2', 64), '2001:db8:1::/64');
    assert.equal(networkOf6('2001:db8:0:1:2:3:4:5', 48), '2001:db8::/48');
    assert.equal(networkOf6('fe80::1:2', 128), 'fe80::1:2/128');
    assert.equal(familyOf('2001:db8::1'), 6);
    assert.equal(familyOf('198.51.100.1'), 4);
    assert.equal(familyOf('tcp://[2001:db8::1]:443'), 6);
    assert.equal(familyOf('tcp://198.51.100.1:443'), 4);
  });

  it('a route added without a metric is the same as the kernel\'s 1024: nothing to do twice', () => {
    const desired = { routes: [{ family: 6 as const, table: 101, dst: 'default', gateway: 'fe80::1', dev: 'eth1', protocol: 72 }], rules: [] };
    const actual = { routes: [{ ...desired.routes[0], metric: 1024 }], rules: [] };
    assert.deepEqual(reconcile(desired, actual, 72), []);
  });
});

describe('IPv6: the daemon on the fake kernel', () => {
  it('an IPv4-only config never runs ip -6', async () => {
    const cfg = parseConfigText(`probe: { targets: [203.0.113.1] }\nlinks:\n  - { name: dsl, interface: eth1, table: 101, gateway: 198.18.1.1 }\n`, 'v4.yaml');
    const t = setup(cfg);
    await t.daemon.start();
    await t.clock.advance(0);
    await t.clock.advance(5000);
    assert.ok(!t.kernel.log.some((a) => a[0] === '-6'), t.kernel.log.map((a) => a.join(' ')).join('\n'));
    assert.equal(t.lastDoc().active6, undefined);
    assert.ok(!t.lastDoc().links.some((l) => l.family === 6));
  });

  it('dual-stack: per-family tables and rules, a learned RA gateway, main\'s IPv6 default below the RA route', async () => {
    const t = setup();
    await t.daemon.start();
    await t.clock.advance(0);
    const text = t.kernel.render();
    for (const line of DUAL_GOLDEN_V6) assert.ok(text.includes(line + '\n'), `${line}\n${text}`);
    for (const line of [
      '-6 default via fe80::1 dev eth1 proto 72 metric 1',
      // The RA route stays where the kernel put it.
      '-6 default via fe80::2 dev eth2 proto boot metric 1024'.replace('boot', '9'),
      '-6 default via fe80::1 dev eth1 table 101 proto 72 metric 1024',
      '-6 2001:db8:1::/64 dev eth1 table 101 proto 72 src 2001:db8:1::2 metric 1024',
      '-6 default via fe80::2 dev eth2 table 102 proto 72 metric 1024',
      '-6 2001:db8:2::/64 dev eth2 table 102 proto 72 src 2001:db8:2::2 metric 1024',
      'default via 198.18.1.1 dev eth1 proto 72',
    ])
      assert.ok(text.includes(line + '\n'), `${line}\n${text}`);
    assert.match(t.log.lines.join('\n'), /cable: IPv6 gateway fe80::2, learned from the kernel's default route via fe80::2 proto 9 metric 1024/);
    // A second pass over the result changes nothing.
    const obs = await observe(t.kernel, readScope(DUAL));
    // main's two defaults, and per link table: connected, default, unreachable.
    assert.equal(obs.net.routes.filter((r) => r.family === 6).length, 8);
    assert.ok(obs.net.routes.some((r) => r.family === 6 && r.table === 101 && r.type === 'unreachable'));
    t.kernel.clearLog();
    await t.daemon.sync('request');
    assert.deepEqual(t.kernel.mutations, []);
    // Probes of each family leave from that family's source.
    assert.ok(t.prober.calls.some((c) => c.target === '2001:db8:ff::1' && c.source === DSL6));
    assert.ok(t.prober.calls.some((c) => c.target === '2001:db8:ff::1' && c.source === CAB6));
    assert.ok(!t.prober.calls.some((c) => c.target === '2001:db8:ff::1' && !c.source.includes(':')));
    assert.ok(!t.prober.calls.some((c) => c.target === '203.0.113.1' && c.source.includes(':')));
    assert.equal(t.daemon.activeLinkOf(6), 'dsl');
    assert.equal(t.lastDoc().active6, 'dsl');
    assert.match(statusLine(t.lastDoc()), /^active: dsl \(eth1 via 198\.18\.1\.1\); IPv6 active: dsl \(eth1 via fe80::1\); dsl\/4 up/);
    assert.match(renderMetrics(t.lastDoc()), /haip_link_active\{link="dsl",interface="eth1",family="6"\} 1/);
    assert.match(renderMetrics(t.lastDoc()), /haip_switches_total\{family="6"\} 1/);
    const table = renderStatus(t.lastDoc(), Date.now()).split('\n');
    assert.match(table[0], /^default route: dsl /);
    assert.match(table[1], /^IPv6 default route: dsl /);
    assert.match(table[2], /^\s+LINK\s+FAMILY\s+INTERFACE/);
    assert.deepEqual(
      table.slice(3, 7).map((l) => l.split(/\s+/).slice(0, 4).join(' ')),
      ['* dsl IPv4 eth1', ' cable IPv4 eth2', '* dsl IPv6 eth1', ' cable IPv6 eth2'],
    );
    assert.deepEqual(t.kernel.unknown, []);
  });

  it('IPv6-only loss on dsl moves IPv6 to cable and leaves IPv4 on dsl; its return moves IPv6 back', async () => {
    const t = setup();
    await t.daemon.start();
    await t.clock.advance(0);
    t.prober.setDown(DSL6);
    for (let i = 0; i < 4; i++) await t.clock.advance(1000);
    assert.equal(t.daemon.activeLinkOf(6), 'cable');
    assert.equal(t.daemon.activeLinkOf(4), 'dsl');
    assert.equal(t.daemon.healthOf('dsl', 6)!.state, 'down');
    assert.equal(t.daemon.healthOf('dsl', 4)!.state, 'up');
    const text = t.kernel.render();
    assert.ok(text.includes('-6 default via fe80::2 dev eth2 proto 72 metric 1\n'), text);
    assert.ok(text.includes('default via 198.18.1.1 dev eth1 proto 72\n'), text);
    assert.ok(t.log.lines.some((l) => /switch: IPv6 default route dsl \(eth1 via fe80::1\) -> cable \(eth2 via fe80::2\): dsl is down/.test(l)), t.log.lines.join('\n'));
    assert.ok(!t.log.lines.some((l) => /switch: default route/.test(l) && /cable/.test(l)));
    const sw = t.hookEvents.filter((e) => e.event === 'switch');
    assert.deepEqual(
      sw.map((e) => `${e.family} ${e.link}`),
      ['4 dsl', '6 dsl', '6 cable'],
    );
    assert.ok(t.hookEvents.some((e) => e.event === 'link-down' && e.family === 6 && e.link === 'dsl'));
    t.prober.setDown(DSL6, false);
    for (let i = 0; i < 25; i++) await t.clock.advance(1000);
    assert.equal(t.daemon.activeLinkOf(6), 'dsl');
    assert.equal(t.daemon.activeLinkOf(4), 'dsl');
  });

  it('a foreign IPv6 default that would win over haip\'s is drift; the RA route at 1024 is left alone', async () => {
    const t = setup();
    await t.daemon.start();
    await t.clock.advance(0);
    t.kernel.addRawRoute({ dst: 'default', gateway: 'fe80::9', dev: 'eth2', protocol: 4, metric: 1, family: 6 }, { prepend: true });
    await t.daemon.sync('kernel event');
    const text = t.kernel.render();
    assert.ok(!text.includes('fe80::9'), text);
    assert.ok(text.includes('-6 default via fe80::2 dev eth2 proto 9 metric 1024\n'), text);
    assert.ok(text.includes('-6 default via fe80::1 dev eth1 proto 72 metric 1\n'), text);
  });

  it('without a router advertisement, a link with no gateway6 is unusable for IPv6 and says why; IPv4 is unaffected', async () => {
    const kernel = dualKernel();
    kernel.routes = kernel.routes.filter((r) => r.protocol !== 9);
    const t = setup(DUAL, kernel);
    await t.daemon.start();
    await t.clock.advance(0);
    assert.equal(t.daemon.healthOf('cable', 6)!.state, 'down');
    assert.match(t.daemon.healthOf('cable', 6)!.reason, /^gateway of eth2 unknown: no IPv6 default route/);
    assert.equal(t.daemon.healthOf('cable', 4)!.state, 'up');
    assert.ok(!t.kernel.render().includes('table 102 proto 72 metric 1024'));
  });
});

describe('IPv6: config', () => {
  const bad = (text: string): string[] => {
    try {
      parseConfigText(text, 'h.yaml');
    } catch (err) {
      return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    }
    return [];
  };

  it('targets of both families, gateway6 link-local and source6', () => {
    const c = parseConfigText(
      `probe: { targets: [203.0.113.1, "2001:db8:ff::1"] }\nlinks:\n  - { name: a, interface: eth1, gateway6: "fe80::1", source6: "2001:db8:1::2" }\n`,
      'h.yaml',
    );
    assert.equal(c.links[0].gateway6, 'fe80::1');
    assert.equal(c.links[0].source6, '2001:db8:1::2');
  });

  it('refuses IPv6 keys haip would not honour and addresses that cannot work', () => {
    assert.deepEqual(bad(`probe: { targets: [203.0.113.1] }\nlinks:\n  - { name: a, interface: eth1, gateway6: "fe80::1" }\n`), [
      'links[0].gateway6: link "a" has no IPv6 probe targets, so haip does not route IPv6 through it: add an IPv6 target or drop gateway6',
    ]);
    assert.deepEqual(bad(`probe: { targets: ["fe80::1"] }\nlinks:\n  - { name: a, interface: eth1 }\n`), [
      'probe.targets[0]: fe80::1 is link-local (fe80::/10): it names no interface and leaves no link: it cannot be a probe target',
    ]);
    assert.deepEqual(bad(`probe: { targets: ["::1"] }\nlinks:\n  - { name: a, interface: eth1 }\n`), ['probe.targets[0]: ::1 is ::1, the loopback address: it cannot be a probe target']);
    assert.deepEqual(bad(`probe: { targets: ["2001:db8::1"] }\nlinks:\n  - { name: a, interface: eth1, gateway6: "198.51.100.1" }\n`), [
      'links[0].gateway6: must be an IPv6 address such as 2001:db8::1 or fe80::1',
    ]);
    assert.deepEqual(bad(`probe: { targets: [203.0.113.1, 203.0.113.2, "2001:db8::1"], quorum: 2 }\nlinks:\n  - { name: a, interface: eth1 }\n`), [
      'probe.quorum: quorum 2 is more than the 1 IPv6 target(s) of link "a": each family is judged on its own',
    ]);
    assert.deepEqual(bad(`main_metric: 1024\nprobe: { targets: ["2001:db8::1"] }\nlinks:\n  - { name: a, interface: eth1 }\n`), [
      "main_metric: must be below 1024 with IPv6 targets: the kernel's router-advertisement routes sit at 1024, and haip would delete them as drift while the kernel puts them back",
    ]);
  });
});

describe('IPv6: events and sticky', () => {
  it('ip monitor lines about IPv6 only are told apart from link lines', () => {
    assert.ok(isIPv6Event('default via fe80::2 dev eth2 proto ra metric 1024 expires 1798sec hoplimit 64 pref medium'));
    assert.ok(isIPv6Event('Deleted 2001:db8:1::/64 dev eth1 table 101 proto 72 metric 1024 pref medium'));
    assert.ok(isIPv6Event('3: eth1    inet6 2001:db8:1::2/64 scope global'));
    assert.ok(isIPv6Event('10010:\tfrom 2001:db8:1::/64 lookup 101 proto 72'));
    assert.ok(!isIPv6Event('3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff'));
    assert.ok(!isIPv6Event('default via 198.18.1.1 dev eth1 proto 72'));
    assert.ok(!isIPv6Event('3: eth1    inet 198.18.1.2/24 brd 198.18.1.255 scope global eth1'));
  });

  it('a link whose IPv6 went down loses only its IPv6 connections (conntrack -f ipv6)', async () => {
    const config = parseConfigText(
      `sticky: true\nprobe: { targets: [203.0.113.1, "2001:db8:ff::1"] }\nlinks:\n  - { name: dsl, interface: eth1, table: 101, gateway: 198.18.1.1 }\n  - { name: cable, interface: eth2, table: 102, gateway: 198.18.2.1 }\n`,
      's.yaml',
    );
    const calls: string[][] = [];
    const conntrack = { run: async (argv: string[]): Promise<RunResult> => (calls.push(argv), { code: 0, stdout: '', stderr: '2 flow entries have been deleted.' }) };
    const nft = { run: async (): Promise<RunResult> => ({ code: 0, stdout: '', stderr: '' }) };
    const state: StickyState = { pendingFlush: new Set(), pendingFlush6: new Set(['dsl']), applied: haipTable(config) };
    const log = memoryLog();
    const health = (n: string, f: 4 | 6) => (n === 'dsl' && f === 6 ? 'down' : 'up');
    await syncSticky(state, 'probe', config, { log, nft, conntrack }, 'dsl', health, 'cable');
    assert.deepEqual(calls, [flushArgv(1, 0xff, 6)]);
    assert.deepEqual(flushArgv(1, 0xff, 6), ['-D', '-f', 'ipv6', '--mark', '0x1/0xff']);
    assert.match(log.lines.join('\n'), /sticky: dsl is down for IPv6: flushed its 2 IPv6 connection\(s\) \(mark 0x1\); their next packets take cable/);
  });
});

describe('IPv6: haip plan', () => {
  it('haip check names the links that take part in IPv6', () => {
    assert.equal(checkReport(DUAL), 'dual.yaml: ok, 2 links: dsl, cable; IPv6 too on dsl, cable');
  });

  it('prints the ip -6 commands and each family\'s links', async () => {
    const text = await planReport(DUAL, dualKernel());
    assert.match(text, /# IPv6 links \(assuming every usable link answers its probes\):/);
    assert.match(text, /#   cable \(eth2, weight 2, table 102\): usable, source 2001:db8:2::2, connected 2001:db8:2::\/64, gateway fe80::2 \(learned\); standby/);
    for (const line of [
      'ip -6 route replace default via fe80::1 dev eth1 proto 72 metric 1 table 254',
      'ip -6 route replace default via fe80::2 dev eth2 proto 72 table 102',
      'ip -6 rule add priority 10010 from 2001:db8:1::/64 lookup 101 protocol 72',
      'ip -4 rule add priority 10010 from 198.18.1.2 lookup 101 protocol 72',
    ])
      assert.ok(text.includes(line + '\n'), `${line}\n${text}`);
  });
});
