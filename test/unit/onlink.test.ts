// Gateways outside the interface's prefixes: a hoster's /32, DHCP option 121, netplan's on-link.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load';
import { InterfaceFacts, Route, routeToString } from '../../src/model';
import { defaultRouteFor, desiredState, viewLink, viewLinks } from '../../src/net/desired';
import { learnGateways } from '../../src/net/gateways';
import { parseRoutes } from '../../src/net/iproute';
import { reconcile } from '../../src/net/plan';
import { applyCommands, observe, readScope } from '../../src/net/router';
import { FakeKernel } from './fakes';

const config = (gateway = '') =>
  parseConfigText(
    `probe: { targets: [203.0.113.1] }
tables: { T1: 101, T2: 102 }
links:
  - { name: host, interface: eth1, weight: 1, table: T1${gateway ? `, gateway: ${gateway}` : ''} }
  - { name: backup, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1 }
`,
    'onlink.yaml',
  );
const slash32: InterfaceFacts = { name: 'eth1', up: true, pointToPoint: false, addresses: [{ address: '198.18.1.2', prefixlen: 32 }] };
const route = (r: Partial<Route> & { dev: string }): Route => ({ table: 254, dst: 'default', protocol: 16, ...r });

describe('on-link gateways', () => {
  it('a written gateway outside the /32 is installed onlink, in the link table and in main', () => {
    const c = config('198.18.1.1');
    const view = viewLink(c.links[0], slash32);
    assert.equal(view.onlink, true);
    assert.equal(view.unusable, undefined);
    assert.equal(routeToString(defaultRouteFor(c, view, 101)), 'default via 198.18.1.1 dev eth1 onlink proto 72 table 101');
  });

  it('a gateway inside the prefix stays a plain route', () => {
    const c = config('198.18.1.1');
    const view = viewLink(c.links[0], { ...slash32, addresses: [{ address: '198.18.1.2', prefixlen: 24 }] });
    assert.equal(view.onlink, undefined);
    assert.equal(routeToString(defaultRouteFor(c, view, 101)), 'default via 198.18.1.1 dev eth1 proto 72 table 101');
  });

  it('a gateway that is the interface\'s own address makes the link unusable, and says why', () => {
    const view = viewLink(config('198.18.1.2').links[0], slash32);
    assert.equal(view.unusable, "gateway 198.18.1.2 is eth1's own address");
  });

  const learn = (routes: Route[]) => [...learnGateways(config().links, new Map([['eth1', slash32]]), routes, new Map(), 72, 254)].map(([k, v]) => [k, v.gateway, v.onlink]);
  it('learned from a client\'s onlink route (networkd GatewayOnLink, netplan on-link)', () => {
    assert.deepEqual(learn([route({ dev: 'eth1', gateway: '198.18.1.1', onlink: true })]), [['host', '198.18.1.1', true]]);
  });
  it('learned from option 121 as dhcpcd installs it (a host route to the gateway, then the default)', () => {
    assert.deepEqual(learn([route({ dev: 'eth1', dst: '198.18.1.1', scope: 'link' }), route({ dev: 'eth1', gateway: '198.18.1.1' })]), [['host', '198.18.1.1', true]]);
  });
  it('a route with an unreachable gateway and nothing making it on-link teaches nothing', () => {
    assert.deepEqual(learn([route({ dev: 'eth1', gateway: '198.18.77.1' })]), []);
  });

  it('ip -j route: the onlink flag is read back, so a pass does not replace it again', () => {
    const [r] = parseRoutes('[{"dst":"default","gateway":"198.18.1.1","dev":"eth1","protocol":"72","flags":["onlink"]}]', 101);
    assert.equal(r.onlink, true);
  });

  it('the kernel takes it and a second pass changes nothing', async () => {
    const c = config('198.18.1.1');
    const k = new FakeKernel().addInterface('eth1', [{ address: '198.18.1.2', prefixlen: 32 }]).addInterface('eth2', [{ address: '198.18.2.2', prefixlen: 24 }]);
    let obs = await observe(k, readScope(c));
    const { errors } = await applyCommands(k, reconcile(desiredState(c, viewLinks(c, obs.interfaces), 'host'), obs.net, 72));
    assert.deepEqual(errors, []);
    assert.match(k.render(), /default via 198\.18\.1\.1 dev eth1 onlink table 101 proto 72/);
    obs = await observe(k, readScope(c));
    assert.deepEqual(reconcile(desiredState(c, viewLinks(c, obs.interfaces), 'host'), obs.net, 72), []);
  });
});
