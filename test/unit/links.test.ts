// Links in the field, as pure functions and on the fake kernel: gateways learned from the routes other
// programs install, which links may route without one, and rules and routes that keep each link's
// probes on that link (identical subnets, targets captured by main, a table that lost its default).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { InterfaceFacts, Route, routeToString } from '../../src/model';
import { desiredState, viewLink, viewLinks } from '../../src/net/desired';
import { LearnedGateway, learnGateways } from '../../src/net/gateways';
import { reconcile } from '../../src/net/plan';
import { applyCommands, observe, readScope } from '../../src/net/router';
import { FakeKernel } from './fakes';

/** Two uplinks without a gateway in the config, as a DHCP user writes them. */
const DHCP = parseConfigText(
  `probe: { targets: [203.0.113.1] }
tables: { T1: 101, T2: 102 }
links:
  - { name: cable, interface: eth1, weight: 1, table: T1 }
  - { name: lte, interface: eth2, weight: 2, table: T2 }
`,
  'dhcp.yaml',
);

const eth = (name: string, address: string, prefixlen = 24, pointToPoint = false): InterfaceFacts => ({ name, up: true, pointToPoint, addresses: [{ address, prefixlen }] });
const IFACES = new Map([
  ['eth1', eth('eth1', '198.18.1.2')],
  ['eth2', eth('eth2', '198.18.2.2')],
]);
const route = (r: Partial<Route> & { dev: string }): Route => ({ table: 254, dst: 'default', protocol: 16, ...r });

describe('learnGateways: the default route another program installed for the interface', () => {
  const learn = (routes: Route[], previous = new Map<string, LearnedGateway>(), ifaces = IFACES) =>
    Object.fromEntries([...learnGateways(DHCP.links, ifaces, routes, previous, 72, 254)].map(([k, v]) => [k, v.gateway]));
  const cases: [string, Route[], Record<string, string>][] = [
    ['dhcpcd: main at metric 200 + ifindex', [route({ dev: 'eth1', gateway: '198.18.1.1', metric: 202 })], { cable: '198.18.1.1' }],
    ['systemd-networkd into a table of its own', [route({ dev: 'eth2', gateway: '198.18.2.1', table: 200, metric: 1024 })], { lte: '198.18.2.1' }],
    [
      'the lowest metric wins, then main',
      [
        route({ dev: 'eth1', gateway: '198.18.1.9', metric: 600 }),
        route({ dev: 'eth1', gateway: '198.18.1.7', metric: 100, table: 300 }),
        route({ dev: 'eth1', gateway: '198.18.1.1', metric: 100 }),
      ],
      { cable: '198.18.1.1' },
    ],
    ['haip\'s own routes teach nothing', [route({ dev: 'eth1', gateway: '198.18.1.1', protocol: 72 }), route({ dev: 'eth1', gateway: '198.18.1.1', protocol: 72, table: 101 })], {}],
    ['a stale route from the old subnet is not a gateway', [route({ dev: 'eth1', gateway: '198.18.77.1' })], {}],
    ['another interface\'s route is not this one\'s', [route({ dev: 'eth3', gateway: '198.18.1.1' })], {}],
    ['a route without a gateway names none', [route({ dev: 'eth1', scope: 'link' })], {}],
    ['only default routes', [route({ dev: 'eth1', dst: '198.51.100.0/24', gateway: '198.18.1.1' })], {}],
  ];
  for (const [name, routes, want] of cases) it(name, () => assert.deepEqual(learn(routes), want));

  it('a configured gateway is never overridden', () => {
    const withGw = { ...DHCP, links: [{ ...DHCP.links[0], gateway: '198.18.1.254' }] };
    assert.equal(learnGateways(withGw.links, IFACES, [route({ dev: 'eth1', gateway: '198.18.1.1' })], new Map(), 72, 254).size, 0);
  });

  it('remembered while the client\'s route is gone (taken over in main, renewing), forgotten on a new subnet', () => {
    const first = learnGateways(DHCP.links, IFACES, [route({ dev: 'eth1', gateway: '198.18.1.1' })], new Map(), 72, 254);
    assert.equal(first.get('cable')?.from, 'default via 198.18.1.1 dev eth1 proto 16 table main');
    assert.deepEqual(learn([], first), { cable: '198.18.1.1' });
    const renumbered = new Map([...IFACES, ['eth1', eth('eth1', '198.18.11.2')]]);
    assert.deepEqual(learn([], first, renumbered), {});
    assert.deepEqual(learn([route({ dev: 'eth1', gateway: '198.18.11.1' })], first, renumbered), { cable: '198.18.11.1' });
  });
});

describe('viewLink: which links can route, and through what', () => {
  const link = DHCP.links[0];
  it('a broadcast link whose gateway is unknown is unusable, and says why', () => {
    assert.equal(
      viewLink(link, eth('eth1', '198.18.1.2')).unusable,
      'gateway of eth1 unknown: no default route through it in any table (none from a DHCP client) and no gateway in the config',
    );
  });
  it('a learned gateway makes it usable', () => {
    const v = viewLink(link, eth('eth1', '198.18.1.2'), { gateway: '198.18.1.1', from: 'default via 198.18.1.1 dev eth1 proto 16 metric 202 table main' });
    assert.equal(v.unusable, undefined);
    assert.equal(v.gateway, '198.18.1.1');
    assert.match(v.learnedFrom!, /metric 202/);
  });
  it('point-to-point (IFF_POINTOPOINT, or an address with a peer) needs no gateway', () => {
    assert.equal(viewLink(link, eth('eth1', '198.18.1.2', 32, true)).unusable, undefined);
    assert.equal(viewLink(link, { name: 'eth1', up: true, addresses: [{ address: '198.18.1.2', prefixlen: 32, peer: '198.18.1.1' }] }).unusable, undefined);
  });
  it('the original command line\'s `--route W/T/DEV` keeps meaning `default dev DEV`', () => {
    assert.equal(viewLink({ ...link, onLink: true }, eth('eth1', '198.18.1.2')).unusable, undefined);
  });
});

describe('desiredState: each link\'s table is closed and its probes stay in it', () => {
  const learned = new Map([['cable', { gateway: '198.18.1.1', from: 'x' }], ['lte', { gateway: '198.18.2.1', from: 'y' }]]);
  const d = desiredState(DHCP, viewLinks(DHCP, IFACES, learned), 'cable');
  it('the learned gateway in the link table and main', () => {
    assert.deepEqual(d.routes.map(routeToString), [
      '198.18.1.0/24 dev eth1 src 198.18.1.2 scope link proto 72 table 101',
      'default via 198.18.1.1 dev eth1 proto 72 table 101',
      'unreachable default proto 72 metric 4294967295 table 101',
      '198.18.2.0/24 dev eth2 src 198.18.2.2 scope link proto 72 table 102',
      'default via 198.18.2.1 dev eth2 proto 72 table 102',
      'unreachable default proto 72 metric 4294967295 table 102',
      'default via 198.18.1.1 dev eth1 proto 72 table main',
    ]);
  });
  it('oif rules after main\'s specific routes and before every source rule', () => {
    assert.deepEqual(
      d.rules.map((r) => `${r.priority} ${r.oif ?? r.from ?? 'main'}`),
      ['10000 main', '10005 eth1', '10010 198.18.1.2', '10005 eth2', '10020 198.18.2.2', '11010 main', '11020 main'],
    );
  });
});

describe('the fake kernel routes probes as the real one does', () => {
  /** Two identical home routers: the same subnet, gateway and address on eth1 and eth2. */
  async function identical(): Promise<FakeKernel> {
    const k = new FakeKernel().addInterface('eth1', [{ address: '198.18.100.100', prefixlen: 24 }]).addInterface('eth2', [{ address: '198.18.100.100', prefixlen: 24 }]);
    const config = { ...DHCP, links: DHCP.links.map((l) => ({ ...l, gateway: '198.18.100.1' })) };
    const obs = await observe(k, readScope(config));
    await applyCommands(k, reconcile(desiredState(config, viewLinks(config, obs.interfaces), 'cable'), obs.net, 72));
    return k;
  }

  it('identical subnets: a probe bound to eth2 leaves by eth2; unbound, the first source rule wins', async () => {
    const k = await identical();
    assert.deepEqual(k.routeGet('203.0.113.1', '198.18.100.100', 'eth2'), { dev: 'eth2', gateway: '198.18.100.1', table: 102 });
    assert.deepEqual(k.routeGet('203.0.113.1', '198.18.100.100', 'eth1'), { dev: 'eth1', gateway: '198.18.100.1', table: 101 });
    assert.equal(k.routeGet('203.0.113.1', '198.18.100.100')?.dev, 'eth1');
  });

  it('a route in main that covers the target does not capture the other link\'s probes', async () => {
    const k = await identical();
    k.addRawRoute({ dst: '203.0.113.0/24', gateway: '198.18.100.1', dev: 'eth1', protocol: 4 });
    assert.equal(k.routeGet('203.0.113.1', '198.18.100.100', 'eth2')?.dev, 'eth2');
  });

  it('a link table that lost its default ends at unreachable, never in main', async () => {
    const k = await identical();
    k.addRawRoute({ dst: 'default', gateway: '198.18.100.1', dev: 'eth1', protocol: 4 });
    k.removeRawRoute((r) => r.table === 102 && r.dst === 'default' && !r.type);
    assert.equal(k.routeGet('203.0.113.1', '198.18.100.100', 'eth2'), null);
    // Unbound traffic from eth1's source too: T1 without its default must not fall through to main.
    k.removeRawRoute((r) => r.table === 101 && r.dst === 'default' && !r.type);
    assert.equal(k.routeGet('203.0.113.1', '198.18.100.100'), null);
  });
});
