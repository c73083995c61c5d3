// Links in the field, against the real kernel and real daemons: gateways learned from dnsmasq leases
// taken by dhcpcd, udhcpc and dhclient (with the exit hook the package ships), a renumbering followed,
// a broadcast link nobody gave a gateway; and probes that stay on their link with identical home
// routers, a main-table route that covers the probe targets, and a link table that lost its default.
import assert from 'node:assert/strict';
import { test, TestContext } from 'node:test';
import { ClientKind, dhcpUplinkLab } from './dhcp';
import { identicalRouters, Lab, sleep, within } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

interface JsonRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
  table?: string;
  type?: string;
}

/** `ip -j route show SEL` in the router; none for a table that does not exist (yet). */
function routes(lab: Lab, ...sel: string[]): JsonRoute[] {
  try {
    return JSON.parse(lab.ip(lab.r, '-4', '-j', '-N', 'route', 'show', ...sel) || '[]');
  } catch {
    return [];
  }
}

/** A default route through eth1 via `gw` that is not haip's (the client's), in any table. */
const clientRoute = (lab: Lab, gw: string) => routes(lab, 'table', 'all', 'dev', 'eth1').find((r) => r.dst === 'default' && r.gateway === gw && r.protocol !== '72');

/** haip's default route via `gw` in table 101, and its rule from eth1's address. */
function haipFollows(lab: Lab, gw: string, source?: RegExp): boolean {
  if (!routes(lab, 'table', '101').some((r) => r.dst === 'default' && r.gateway === gw && r.protocol === '72')) return false;
  return !source || source.test(lab.rules());
}

/** A lab whose eth1 has no address (a DHCP client gets one), isp1's dnsmasq, and haip with eth1's gateway omitted. */
async function dhcpLab(t: TestContext) {
  const { lab, dhcp } = dhcpUplinkLab(t);
  const yaml = lab.configYaml(FAST).replace(', gateway: 198.18.1.1', '');
  assert.doesNotMatch(yaml, /198\.18\.1\.1/);
  const cfg = lab.writeConfig(yaml);
  const server = dhcp.server(1, 1);
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth2 via 198.18.2.1');
  return { lab, dhcp, server, haip, cfg };
}

/** Polls every 10 ms: when the client's route shows, then when haip's table follows; the ms between. */
async function timeToFollow(lab: Lab, gw: string, source?: RegExp, timeoutMs = 20_000): Promise<number> {
  const start = Date.now();
  let seen = 0;
  await within(timeoutMs, `haip's table 101 via ${gw}`, () => {
    if (!seen && clientRoute(lab, gw)) seen = Date.now();
    return seen > 0 && haipFollows(lab, gw, source);
  }, start, 10);
  return Date.now() - seen;
}

for (const kind of ['dhcpcd', 'udhcpc', 'dhclient'] as ClientKind[]) {
  test(`gateway omitted: learned from ${kind}'s lease, the link joins and takes the default route`, async (t) => {
    const { lab, dhcp, haip, cfg } = await dhcpLab(t);
    await haip.waitFor(/link isp1 \(eth1\): unknown -> down: eth1 has no IPv4 address/);
    dhcp.client(kind, 'eth1');
    const ms = await timeToFollow(lab, '198.18.1.1', /from 198\.18\.1\.\d+ lookup 101/);
    console.log(`# figures: learn_gateway client=${kind} ms=${ms}`);
    assert.ok(ms < 1000, `learning took ${ms} ms`);
    await haip.waitFor(/isp1: gateway 198\.18\.1\.1, learned from default via 198\.18\.1\.1 dev eth1 /);
    // haip's own route, not udhcpc's duplicate beside it (which the drift rule removes).
    await within(5000, "haip's default route via eth1", () => {
      const first = routes(lab, 'table', 'main', 'default')[0];
      return first?.dev === 'eth1' && first.gateway === '198.18.1.1' && first.protocol === '72';
    });
    // The client's own route stays where its owner put it (udhcpc's duplicate at metric 0 in main is
    // the one haip's `replace` of main's default takes over).
    if (kind !== 'udhcpc') assert.ok(clientRoute(lab, '198.18.1.1'), `${kind}'s route is gone:\n${lab.ip(lab.r, 'route', 'show', 'table', 'all', 'dev', 'eth1')}`);
    if (kind === 'dhclient') {
      const ifindex = Number(JSON.parse(lab.ip(lab.r, '-j', 'link', 'show', 'eth1'))[0].ifindex);
      assert.equal(clientRoute(lab, '198.18.1.1')?.metric, 7200 + ifindex, 'the exit hook\'s route: main, metric 7200 + ifindex');
    }
    const doc = JSON.parse(lab.cli('status', '-c', cfg, '--json').stdout);
    assert.equal(doc.links[0].gateway, '198.18.1.1');
  });
}

test('renumbering: dnsmasq moves to a new subnet, dhcpcd renews; table, rule and main default follow within a second', async (t) => {
  const { lab, dhcp, server, haip } = await dhcpLab(t);
  const client = dhcp.client('dhcpcd', 'eth1');
  await lab.waitForDefault('eth1', 20_000);
  // The ISP renumbers: a new subnet and gateway on its side (the old address stays, so the rebinding
  // client gets a NAK rather than silence), dnsmasq restarted for it, the internet routing it back.
  lab.ip(lab.isp(1), 'addr', 'add', '198.18.11.1/24', 'dev', 'wan');
  lab.ip(lab.inet, 'route', 'add', '198.18.11.0/24', 'via', '198.19.1.1');
  await dhcp.stop(server);
  dhcp.server(1, 11);
  await sleep(300);
  const mark = haip.lines.length;
  client.signal('SIGHUP'); // dhcpcd: rebind now (what `dhcpcd -n eth1` sends); dnsmasq answers NAK, wrong network
  const ms = await timeToFollow(lab, '198.18.11.1', /from 198\.18\.11\.\d+ lookup 101/);
  const source = /from (198\.18\.11\.\d+) lookup 101/.exec(lab.rules())![1];
  const main = await within(3000, 'main default via the new gateway', () => lab.defaultRoute() === 'eth1 via 198.18.11.1');
  console.log(`# figures: renumbering client=dhcpcd table_and_rule_ms=${ms} main_default_ms_after=${main}`);
  assert.ok(ms < 1000, `following the renumbering took ${ms} ms`);
  assert.doesNotMatch(lab.rules(), /from 198\.18\.1\.\d+ lookup 101/, 'nothing of the old address is left');
  await haip.waitFor(/isp1: gateway 198\.18\.1\.1 -> 198\.18\.11\.1|isp1: gateway 198\.18\.11\.1, learned/, 2000, mark);
  // Probes from the new address leave by eth1: isp1 sees them, isp2 never does.
  const counters = [1, 2].map((i) => lab.countAtIsp(i, [`ip saddr ${source} icmp type echo-request`]));
  await sleep(1500);
  const seen = (i: number) => counters[i - 1]()[0];
  assert.ok(seen(1) > 0, 'isp1 saw the probes from the new address');
  assert.equal(seen(2), 0, 'isp2 saw none of them');
});

test('gateway omitted on a broadcast link without DHCP: unusable, the reason in the log and haip status, never `default dev`', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(FAST).replace(', gateway: 198.18.1.1', ''));
  const haip = lab.startHaip(['run', '-c', cfg]);
  await haip.waitFor(/ready:/, 10_000);
  const why = 'gateway of eth1 unknown: no default route through it in any table (none from a DHCP client) and no gateway in the config';
  await haip.waitFor(new RegExp(`link isp1 \\(eth1\\): unknown -> down: ${why.replace(/[()]/g, '\\$&')}`));
  assert.equal(lab.defaultRoute(), 'eth2 via 198.18.2.1');
  assert.deepEqual(routes(lab, 'table', '101'), [], 'nothing in table 101, no `default dev eth1`');
  const status = lab.cli('status', '-c', cfg, '--json');
  assert.equal(JSON.parse(status.stdout).links[0].reason, why);
  // An admin adds the route the DHCP client would have: the link joins.
  lab.ip(lab.r, 'route', 'add', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'metric', '500', 'proto', 'static');
  await lab.waitForDefault('eth1', 5000);
});

/** Counts the echo requests each ISP forwards from its customer. */
function countProbes(lab: Lab) {
  const counters = [1, 2].map((i) => lab.countAtIsp(i, ['icmp type echo-request']));
  return (i: number) => counters[i - 1]()[0];
}

test('identical home routers (same subnet, gateway and address): each link probed through its own interface; one fails, the other takes over', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  identicalRouters(lab);
  const probes = countProbes(lab);
  const yaml = lab.configYaml(FAST).replace(/gateway: 198\.18\.\d\.1/g, 'gateway: 198.18.100.1');
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(yaml)]);
  await haip.waitFor(/ready:.*isp1 up.*isp2 up/, 10_000);
  const [a1, a2] = [probes(1), probes(2)];
  await sleep(2000);
  const [b1, b2] = [probes(1) - a1, probes(2) - a2];
  console.log(`# figures: identical_subnets echo_requests_2s isp1=${b1} isp2=${b2}`);
  assert.ok(b1 > 0 && b2 > 0, `each ISP sees its own link's probes: isp1 ${b1}, isp2 ${b2}`);
  const t0 = Date.now();
  lab.dropAtIsp(1);
  const ms = await lab.waitForDefault('eth2', 6000, t0);
  console.log(`# figures: identical_subnets failover_ms=${ms}`);
  assert.equal(lab.defaultRoute(), 'eth2 via 198.18.100.1');
  await sleep(2000);
  assert.doesNotMatch(haip.output(), /link isp2 \(eth2\): up -> down/, 'isp2 stays up');
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
});

test('a main-table route that covers the probe targets does not capture the other link\'s probes', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  // An admin's static route (or DHCP option 121) for the targets' network, through eth1.
  lab.ip(lab.r, 'route', 'add', '203.0.113.0/24', 'via', '198.18.1.1', 'dev', 'eth1');
  const probes = countProbes(lab);
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:.*isp1 up.*isp2 up/, 10_000);
  const a2 = probes(2);
  await sleep(1500);
  const b2 = probes(2) - a2;
  console.log(`# figures: captured_target isp2_echo_requests_1500ms=${b2}`);
  assert.ok(b2 > 0, 'isp2 sees isp2\'s probes');
  const t0 = Date.now();
  lab.dropAtIsp(1);
  const ms = await lab.waitForDefault('eth2', 6000, t0);
  console.log(`# figures: captured_target failover_ms=${ms}`);
  await sleep(2000);
  assert.doesNotMatch(haip.output(), /link isp2 \(eth2\): up -> down/, 'isp2 stays up: its probes never went through isp1');
});

test('a link table that lost its default (gateway unreachable) ends in unreachable: nothing from its address falls through to main', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:.*isp1 up.*isp2 up/, 10_000);
  // eth2's address becomes a /32 and its gateway an address of the router itself: haip installs an
  // off-link gateway `onlink`, and the kernel refuses a local address as a next hop, so table 102's
  // default cannot be installed.
  lab.ip(lab.r, 'addr', 'add', '198.18.2.1/32', 'dev', 'lo');
  lab.ip(lab.r, 'addr', 'flush', 'dev', 'eth2');
  lab.ip(lab.r, 'addr', 'add', '198.18.2.2/32', 'dev', 'eth2');
  // If haip saw the flush on its own (the address gone), it removed the link's table and rules and puts
  // them back when it sees the /32. What the kernel held before haip looked (the old rule, the unreachable
  // route) satisfies a single look, and a lookup in the ms between the removal and the new pass goes
  // through main (CI saw it): wait for haip to have seen the end state, then for a lookup that fails,
  // then require every lookup for a second to fail.
  await haip.waitFor(/link isp2 \(eth2\): up -> down/, 6000);
  if (/isp2: eth2 has no IPv4 address/.test(haip.output())) await haip.waitFor(/isp2: eth2 is usable again for IPv4 \(source 198\.18\.2\.2\)/, 3000);
  const lookup = () => {
    try {
      return `leaves: ${lab.exec(lab.r, 'ip', 'route', 'get', '203.0.113.1', 'from', '198.18.2.2').trim()}`;
    } catch (e) {
      return String((e as Error).message);
    }
  };
  await within(3000, 'a lookup from eth2\'s address that ends in unreachable', () => /No route to host/.test(lookup()));
  assert.doesNotMatch(lab.ip(lab.r, 'route', 'show', 'table', '102'), /^default via/m, 'table 102 without its default');
  assert.match(lab.ip(lab.r, 'route', 'show', 'table', '102'), /unreachable default .*metric 4294967295/);
  assert.match(lab.rules(), /from 198\.18\.2\.2 lookup 102/, 'the source rule into table 102');
  for (const end = Date.now() + 1000; Date.now() < end; await sleep(25)) {
    const got = lookup();
    assert.match(got, /No route to host/, 'traffic from eth2\'s address must not leave by eth1');
  }
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
});

test('an interface deleted and created again under the same name (a USB modem replugged): probes follow the new one, the link takes the route back', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST, 'damping: { penalty: 0 }\n'))]);
  await haip.waitFor(/ready:.*isp1 up.*isp2 up/, 10_000);
  lab.ip(lab.r, 'link', 'del', 'eth1');
  await lab.waitForDefault('eth2', 3000);
  lab.addUplink(1);
  // Pings bound to the deleted eth1 stay bound to its dead ifindex: without starting them again the
  // link never answers (seen: still on eth2 after 45 s).
  await lab.waitForDefault('eth1', 6000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
});

test('a link whose own table refuses its default route is down and sends no probe: bound probes would leave on-link, and a proxy-ARP ISP would answer them', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  // isp1's router answers ARP for every address it routes (proxy ARP): a probe sent on-link to
  // 203.0.113.1, which the kernel does for a socket bound to eth1 whose lookup fails, would be answered.
  lab.exec(lab.isp(1), 'sysctl', '-qw', 'net.ipv4.conf.wan.proxy_arp=1');
  // The kernel refuses `default via 198.18.1.1` in isp1's table and in main: a foreign route in table 101
  // where haip's connected route goes (haip leaves it there; its nexthop is not eth1, so the check
  // falls through to the rules), and a foreign blackhole rule for the gateway there.
  lab.ip(lab.r, 'route', 'add', '198.18.1.0/24', 'dev', 'eth2', 'table', '101');
  lab.ip(lab.r, 'rule', 'add', 'priority', '9000', 'to', '198.18.1.1', 'blackhole');
  const echoes = lab.countAtIsp(1, ['ip saddr 198.18.1.2 icmp type echo-request']);
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:/, 10_000);
  await lab.waitForDefault('eth2', 3000);
  await sleep(1000);
  const before = echoes()[0];
  await sleep(3000);
  assert.equal(echoes()[0] - before, 0, 'no probe of isp1 leaves on-link past its table');
  await haip.waitFor(/isp1: the kernel refuses the default route in table 101 \(.*Nexthop has invalid gateway.*\); no probes until it takes it/, 1000);
  const doc = JSON.parse(lab.cli('status', '-c', `${lab.dir}/haip.yaml`, '--json').stdout);
  const isp1 = doc.links.find((l: { name: string }) => l.name === 'isp1');
  assert.equal(isp1.state, 'down', `isp1 is not up for selection: ${isp1.reason}`);
  assert.match(isp1.reason, /its route cannot be installed in table 101/);
  assert.equal(doc.active, 'isp2');
  // The obstacles go: haip installs the routes, probes isp1 again and moves the default route back.
  lab.ip(lab.r, 'route', 'del', '198.18.1.0/24', 'dev', 'eth2', 'table', '101');
  lab.ip(lab.r, 'rule', 'del', 'priority', '9000', 'to', '198.18.1.1', 'blackhole');
  await haip.waitFor(/isp1: the kernel took the default route in table 101; probing again/, 35_000);
  await lab.waitForDefault('eth1', 35_000);
  assert.ok(echoes()[0] > before, 'isp1 is probed again');
});
