// An upstream that writes into the router's routing state (issue 21), against the real kernel and real
// daemons: DHCP option 121 split routes from dnsmasq taken by dhcpcd, and an RFC 4191 route from radvd
// accepted by the router's kernel. Neither may keep the router's traffic on a dead link, and the moved
// routes still serve that link's own source.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, TestContext } from 'node:test';
import { dhcpUplinkLab } from './dhcp';
import { Lab, sleep, within } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

interface Fib {
  dst: string;
  dev?: string;
  table?: string;
  protocol?: string;
}

/** The route the router's kernel picks for `dst` (from `src`), as `ip route get fibmatch` tells it. */
function fib(lab: Lab, dst: string, src?: string): Fib | undefined {
  try {
    return JSON.parse(lab.ip(lab.r, '-j', '-N', 'route', 'get', 'fibmatch', dst, ...(src ? ['from', src] : [])))[0];
  } catch {
    return undefined;
  }
}

/** Both uplinks in both families, isp2's link with `extra` keys (prefixes6). */
function dualStack(lab: Lab, extra = ''): string {
  return lab.writeConfig(
    `probe: { targets: [203.0.113.1, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2"${extra} }\n` +
      `${lab.pathsYaml()}\n`,
  );
}

const SAMPLE = ['1.0.0.1', '97.0.0.1', '129.0.0.1', '203.0.113.1', '223.0.0.1'];

test('DHCP option 121 (0.0.0.0/1 + 128.0.0.0/1 via isp1) from dnsmasq to dhcpcd: moved into isp1\'s table; when isp1 dies every lookup goes by isp2, isp1\'s own source still by isp1', async (t) => {
  const { lab, dhcp } = dhcpUplinkLab(t);
  const cfg = lab.writeConfig(lab.configYaml(FAST).replace(', gateway: 198.18.1.1', ''));
  dhcp.server(1, 1, ['--dhcp-option=121,0.0.0.0/1,198.18.1.1,128.0.0.0/1,198.18.1.1,0.0.0.0/0,198.18.1.1']);
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/ready:/, 10_000);
  dhcp.client('dhcpcd', 'eth1', ['classless_static_routes']);
  await lab.waitForDefault('eth1', 20_000);
  const line = await haip.waitFor(/moved "0\.0\.0\.0\/1 via 198\.18\.1\.1 dev eth1 .*proto 16/, 5000);
  assert.match(line, /installed by proto 16\) into table 101/);
  await within(3000, 'both halves in table 101, none in main', () => {
    const main = lab.ip(lab.r, '-4', 'route', 'show', 'table', 'main');
    const t101 = lab.ip(lab.r, '-4', 'route', 'show', 'table', '101');
    return !/\/1 /.test(main) && /^0\.0\.0\.0\/1 via 198\.18\.1\.1/m.test(t101) && /^128\.0\.0\.0\/1 via 198\.18\.1\.1/m.test(t101);
  });
  const src1 = /from (198\.18\.1\.\d+) lookup 101/.exec(lab.rules())![1];
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 10_000);
  await sleep(1500);
  for (const dst of SAMPLE) {
    assert.equal(fib(lab, dst)?.dev, 'eth2', `the router's traffic to ${dst}: ${JSON.stringify(fib(lab, dst))}`);
    assert.equal(fib(lab, dst, '198.18.2.2')?.dev, 'eth2', `isp2's source to ${dst}`);
    const own = fib(lab, dst, src1);
    assert.equal(own?.dev, 'eth1', `isp1's own source to ${dst}`);
    if (dst !== '203.0.113.1') assert.equal(own?.table, '101');
  }
  assert.equal(haip.lines.filter((l) => l.includes('moved "')).length, 2, 'each route logged once');
  const doc = JSON.parse(lab.cli('status', '-c', cfg, '--json').stdout);
  assert.deepEqual(doc.problems, []);
  assert.equal(readFileSync(join(lab.dir, 'state', 'healthy'), 'utf8').trim(), '1');
  const plan = lab.cli('plan', '-c', cfg).stdout;
  assert.doesNotMatch(plan, /# problem:/, plan);
});

test('an RFC 4191 route (radvd route information 2000::/3 on isp1, accepted by the router\'s kernel): moved into isp1\'s table; when isp1 dies IPv6 goes by isp2, isp1\'s own prefix still by isp1', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.enableIPv6([]);
  // Inside the router's namespace only: accept route information options up to /64 on eth1.
  for (const k of ['accept_ra=2', 'accept_ra_rt_info_max_plen=64']) lab.exec(lab.r, 'sysctl', '-qw', `net.ipv6.conf.eth1.${k}`);
  const conf = join(lab.dir, 'radvd-rio.conf');
  writeFileSync(conf, 'interface wan {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  AdvDefaultLifetime 0;\n  route 2000::/3 {\n    AdvRouteLifetime 1800;\n  };\n};\n', { mode: 0o644 });
  lab.spawnIn(lab.isp(1), ['radvd', '-C', conf, '-p', join(lab.dir, 'radvd-rio.pid'), '-n', '-m', 'stderr']);
  await within(10_000, 'the kernel\'s proto ra route 2000::/3', () => /2000::\/3 via fe80::1 dev eth1 proto ra/.test(lab.ip(lab.r, '-6', 'route', 'show')));
  const cfg = dualStack(lab);
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/moved "-6 2000::\/3 via fe80::1 dev eth1 proto 9 .*into table 101/, 10_000);
  lab.dropAtIsp(1);
  await lab.waitForDefault6('eth2', 10_000);
  // radvd advertises again every 3-4 s and the kernel puts the route back into main each time; haip
  // takes it out again within a pass (logged once): every lookup must agree once that pass is done.
  const wrong = () =>
    ['2001:db8:ff::1', '2400::1', '3ffe::1'].flatMap((dst) => {
      const out: string[] = [];
      if (fib(lab, dst)?.dev !== 'eth2') out.push(`${dst}: ${JSON.stringify(fib(lab, dst))}`);
      if (fib(lab, dst, '2001:db8:2::2')?.dev !== 'eth2') out.push(`${dst} from isp2's prefix: ${JSON.stringify(fib(lab, dst, '2001:db8:2::2'))}`);
      const own = fib(lab, dst, '2001:db8:1::2');
      if (own?.dev !== 'eth1' || own.table !== '101') out.push(`${dst} from isp1's prefix: ${JSON.stringify(own)}`);
      return out;
    });
  let last: string[] = [];
  await within(5000, 'every IPv6 lookup agrees with haip', () => (last = wrong()).length === 0).catch((err) => assert.fail(`${err.message}: ${last.join('; ')}`));
  await sleep(5000); // at least one more advertisement
  await within(2000, 'still agreeing after the next advertisement', () => (last = wrong()).length === 0).catch((err) => assert.fail(`${err.message}: ${last.join('; ')}`));
  assert.equal(haip.lines.filter((l) => l.includes('moved "')).length, 1, 'logged once however often the RA puts it back');
  assert.equal(readFileSync(join(lab.dir, 'state', 'healthy'), 'utf8').trim(), '1');
});

test('an address collision from a lease: isp1\'s dnsmasq renumbers the router to isp2\'s own address; isp2\'s traffic stays on isp2, one warning names both links', async (t) => {
  const { lab, dhcp } = dhcpUplinkLab(t);
  // isp1's box claims isp2's subnet and hands out exactly isp2's address (198.18.2.2).
  lab.ip(lab.isp(1), 'addr', 'add', '198.18.2.1/24', 'dev', 'wan');
  // A host reservation: dnsmasq hands out addresses outside its range to a MAC it knows.
  const mac = JSON.parse(lab.ip(lab.r, '-j', 'link', 'show', 'eth1'))[0].address;
  dhcp.server(1, 2, [`--dhcp-host=${mac},198.18.2.2`]);
  const cfg = lab.writeConfig(lab.configYaml(FAST).replace(', gateway: 198.18.1.1', ''));
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/ready:/, 10_000);
  dhcp.client('dhcpcd', 'eth1');
  await within(20_000, 'eth1 leased isp2\'s address', () => /inet 198\.18\.2\.2\//.test(lab.ip(lab.r, '-4', 'addr', 'show', 'dev', 'eth1')));
  await haip.waitFor(/isp1 and isp2 both claim the address 198\.18\.2\.2: it stays isp2's/, 5000);
  lab.dropAtIsp(1);
  await sleep(3000);
  assert.doesNotMatch(lab.rules(), /from 198\.18\.2\.2 lookup 101/);
  const f = fib(lab, '203.0.113.1', '198.18.2.2');
  assert.equal(f?.dev, 'eth2', `isp2's address still leaves by isp2: ${JSON.stringify(f)}`);
  assert.equal(haip.lines.filter((l) => l.includes('both claim')).length, 1, 'warned once');
});

/** isp1's radvd advertises `prefix` (autonomous) to the router's eth1, whose own IPv6 address is gone. */
async function rogueRA(t: TestContext, prefix: string, isp2Extra = '') {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.enableIPv6([]);
  lab.ip(lab.r, '-6', 'addr', 'del', '2001:db8:1::2/64', 'dev', 'eth1');
  const haip = lab.startHaip(['run', '-c', dualStack(lab, isp2Extra), '-v']);
  await haip.waitFor(/ready:/, 10_000);
  lab.exec(lab.r, 'sysctl', '-qw', 'net.ipv6.conf.eth1.accept_ra=2');
  const conf = join(lab.dir, 'radvd-prefix.conf');
  writeFileSync(conf, `interface wan {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  AdvDefaultLifetime 0;\n  prefix ${prefix} {\n    AdvOnLink on;\n    AdvAutonomous on;\n  };\n};\n`, { mode: 0o644 });
  lab.spawnIn(lab.isp(1), ['radvd', '-C', conf, '-p', join(lab.dir, 'radvd-prefix.pid'), '-n', '-m', 'stderr']);
  const net = prefix.replace(/::\/64$/, '');
  await within(10_000, `a SLAAC address in ${prefix} on eth1`, () => new RegExp(`inet6 ${net}:[0-9a-f:]+/64 scope global`).test(lab.ip(lab.r, '-6', 'addr', 'show', 'dev', 'eth1')));
  return { lab, haip };
}

test('a prefix collision from an RA: isp1\'s radvd advertises isp2\'s prefix, the router takes an address in it on eth1; isp2\'s prefix still leaves by isp2', async (t) => {
  const { lab, haip } = await rogueRA(t, '2001:db8:2::/64');
  await haip.waitFor(/isp1 and isp2 both claim 2001:db8:2:[0-9a-f:]+ inside 2001:db8:2::\/64: it stays isp2's/, 5000);
  lab.dropAtIsp(1);
  await sleep(3000);
  assert.doesNotMatch(lab.ip(lab.r, '-6', 'rule', 'show'), /from 2001:db8:2::\/64 lookup 101/);
  const f = fib(lab, '2001:db8:ff::1', '2001:db8:2::2');
  assert.equal(f?.dev, 'eth2', `isp2's prefix still leaves by isp2: ${JSON.stringify(f)}`);
  assert.equal(haip.lines.filter((l) => l.includes('both claim')).length, 1, 'warned once');
});

test('a delegated prefix from an RA: isp1\'s radvd advertises a /64 of the prefix delegated to isp2 (prefixes6); the LAN\'s hosts in it still leave by isp2', async (t) => {
  const { lab, haip } = await rogueRA(t, '2001:db8:2:100::/64', ', prefixes6: ["2001:db8:2:100::/56"]');
  await haip.waitFor(/isp1 and isp2 both claim 2001:db8:2:100:[0-9a-f:]+ and the delegated prefix 2001:db8:2:100::\/56, which overlap: it stays isp2's \(delegated to it in the config\)/, 5000);
  await sleep(1000);
  const rules = lab.ip(lab.r, '-6', 'rule', 'show');
  assert.doesNotMatch(rules, /from 2001:db8:2:100::\/64 lookup 101/, rules);
  assert.match(rules, /from 2001:db8:2:100::\/56 lookup 102/, rules);
  // A LAN host in the delegated prefix, as the router's rules see it: by isp2, isp1 up and carrying the default.
  const f = fib(lab, '2001:db8:ff::1', '2001:db8:2:100::10');
  assert.equal(f?.table, '102', `the delegated prefix still leaves by isp2: ${JSON.stringify(f)}`);
  assert.equal(haip.lines.filter((l) => l.includes('both claim')).length, 1, 'warned once');
});
