// The LAN side of an IPv6 failover (`lan6`) against the real kernel: isp1 and isp2 each delegate a /56
// and drop foreign sources (BCP 38); the router numbers lan0 from a /64 of each, and haip's own router
// advertisements are all the LAN host (a namespace with the kernel's SLAAC, accept_ra as a fresh host
// has it) hears. The host holds an address in each prefix and, while both are preferred, reaches the
// server from isp1's (RFC 6724 rule 8: the server's address shares more bits with it). isp1's IPv6
// dies: haip's verdict deprecates isp1's /64 on the LAN, and the host's new connections come from
// isp2's prefix (`ip -6 route get` and a real TCP connection, whose source the server reports); isp1
// returns and they move back. Both times are measured from the event and printed.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, TestContext } from 'node:test';
import { Haip, Lab, within } from './lab';

const PROBE = '{ targets: [203.0.113.1, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
/** In the internet, reached by either ISP; 2001:db8:1:ff::/64 puts isp1's LAN prefix first by rule 8. */
const SERVER = '2001:db8:1:ff::10';
const LAN1 = '2001:db8:1:100:';
const LAN2 = '2001:db8:2:100:';

/** isp<i> delegates 2001:db8:<i>:100::/56, routed to the router's WAN address; lan0 holds its first /64's ::1. */
function delegate(lab: Lab, i: number) {
  const prefix = `2001:db8:${i}:100::/56`;
  lab.ip(lab.isp(i), '-6', 'route', 'add', prefix, 'via', `2001:db8:${i}::2`, 'dev', 'wan');
  lab.ip(lab.inet, '-6', 'route', 'add', prefix, 'via', `2001:db8:f0${i}::1`);
  lab.exec(lab.isp(i), 'nft', 'delete', 'table', 'inet', 'haiplabbcp38');
  lab.nft(lab.isp(i), `table inet haiplabbcp38 { chain forward { type filter hook forward priority -10; policy accept; iifname "wan" ip6 saddr != { 2001:db8:${i}::/64, ${prefix} } counter drop; }; }\n`);
  lab.ip(lab.r, '-6', 'addr', 'add', `2001:db8:${i}:100::1/64`, 'dev', 'lan0', 'nodad');
}

/** The source address the LAN host's kernel picks for a new connection to the server. */
function hostSource(lab: Lab): string {
  return /\bsrc (\S+)/.exec(lab.ip(lab.lan, '-6', 'route', 'get', SERVER))?.[1] ?? '';
}

/** A real TCP connection from the LAN host: the source address the server saw. */
async function connectFromLan(lab: Lab): Promise<string> {
  const c = lab.spawnNode(lab.lan, 'tcpPeer', ['client', SERVER, '8080']);
  try {
    await c.waitFor(/^connected /, 5000);
    c.send('hello');
    const reply = await c.waitFor(/^reply hello from /, 5000);
    return /from \[?([0-9a-f:]+?)\]?:\d+$/.exec(reply)?.[1] ?? reply;
  } finally {
    c.signal('SIGTERM');
  }
}

/** The two delegating ISPs, the server, and haip with both prefixes written and `lan6` as given, ready. */
async function start(t: TestContext, lan6: string): Promise<{ lab: Lab; haip: Haip; cfg: string }> {
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  lab.enableIPv6();
  for (const i of [1, 2]) delegate(lab, i);
  lab.ip(lab.inet, '-6', 'addr', 'add', `${SERVER}/128`, 'dev', 'lo');
  const server = lab.spawnNode(lab.inet, 'tcpPeer', ['server', SERVER, '8080']);
  await server.waitFor(/listening/, 5000);
  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1", prefixes6: ["2001:db8:1:100::/56"] }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2", prefixes6: ["2001:db8:2:100::/56"] }\n` +
      `lan6: ${lan6}\nmetrics_file: ${join(lab.dir, 'haip.prom')}\n${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  t.after(() => haip.stop());
  await haip.waitFor(/notice: ready:/, 10_000);
  return { lab, haip, cfg };
}

test('lan6: a LAN host moves its new connections to the live prefix when an uplink\'s IPv6 dies, and back', async (t) => {
  const { lab, haip, cfg } = await start(t, '{ interface: lan0, deprecate: true }');
  await haip.waitFor(/lan6: 2001:db8:2:100::\/64 of isp2 advertised on lan0/, 5000);
  // SLAAC: the host forms an address in each prefix (no DAD in the lab) and a default route via the router's link-local.
  const addrs = () => lab.ip(lab.lan, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global');
  await within(8000, 'SLAAC addresses in both prefixes', () => [LAN1, LAN2].every((p) => new RegExp(`inet6 ${p}\\S+ scope global (?!.*(tentative|deprecated))`).test(addrs())), Date.now(), 100);
  assert.match(lab.ip(lab.lan, '-6', 'route', 'show', 'default'), /default via fe80::\S+ dev eth0 proto ra/);
  assert.ok(hostSource(lab).startsWith(LAN1), `while both are preferred the host picks isp1's prefix for ${SERVER}: ${hostSource(lab)}`);
  assert.ok((await connectFromLan(lab)).startsWith(LAN1), 'a real connection leaves from isp1\'s prefix, by isp1');

  // isp1's IPv6 dies (silent loss at the ISP): from that moment to the host's first new connection from isp2's prefix.
  let since = Date.now();
  lab.dropFamilyAtIsp(1, 6);
  const away = await within(10_000, 'the host picks isp2\'s prefix', () => hostSource(lab).startsWith(LAN2), since);
  assert.match(addrs(), new RegExp(`inet6 ${LAN1}\\S+ scope global deprecated`), 'isp1\'s address stays, deprecated');
  const seen = await connectFromLan(lab);
  assert.ok(seen.startsWith(LAN2), `a new connection leaves from isp2's prefix and reaches the server: ${seen}`);
  const status = JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout);
  assert.deepEqual(
    status.lan6.prefixes.map((p: { prefix: string; state: string }) => `${p.prefix} ${p.state}`),
    ['2001:db8:1:100::/64 deprecated', '2001:db8:2:100::/64 preferred'],
  );
  assert.match(haip.output(), /lan6: 2001:db8:1:100::\/64 of isp1 deprecated on lan0 \(isp1's IPv6 is down\)/);
  const prom = readFileSync(join(lab.dir, 'haip.prom'), 'utf8');
  assert.match(prom, /^haip_lan6_prefix_preferred\{interface="lan0",prefix="2001:db8:1:100::\/64",link="isp1"\} 0$/m, prom);
  assert.match(prom, /^haip_lan6_prefix_preferred\{interface="lan0",prefix="2001:db8:2:100::\/64",link="isp2"\} 1$/m);
  assert.match(prom, /^haip_lan6_ra_failing\{interface="lan0"\} 0$/m);

  // isp1 returns: its prefix is preferred again, and rule 8 brings the host's new connections back to it.
  since = Date.now();
  lab.exec(lab.isp(1), 'nft', 'delete', 'table', 'inet', 'haiplab');
  const back = await within(10_000, 'the host picks isp1\'s prefix again', () => hostSource(lab).startsWith(LAN1), since);
  assert.ok((await connectFromLan(lab)).startsWith(LAN1), 'a new connection leaves from isp1\'s prefix again');
  console.log(`lan6: a LAN host's new connections left isp1's prefix ${away} ms after its IPv6 died, and came back ${back} ms after it returned (probes every 500 ms, down 3, up 3)`);

  // A host that joins (its interface down, which drops its SLAAC addresses, and up) solicits: haip
  // answers at once instead of at the next periodic RA, minutes away. Once the change's repeats (3 s
  // apart) are over: an answer comes at most one RA per 3 s.
  const lastSent = () => Date.parse(JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout).lan6.sent);
  await within(10_000, 'the repeats over', () => Date.now() - lastSent() > 3300, Date.now(), 200);
  lab.ip(lab.lan, 'link', 'set', 'eth0', 'down');
  const from = haip.lines.length;
  since = Date.now();
  lab.ip(lab.lan, 'link', 'set', 'eth0', 'up');
  const joined = await within(6000, 'addresses after a router solicitation', () => [LAN1, LAN2].every((p) => addrs().includes(`inet6 ${p}`)), since, 50);
  const rs = await haip.waitFor(/lan6: router solicitation on lan0: answering/, 1000, from);
  const heard = Date.parse(rs.split(' ')[0]) - since;
  console.log(`lan6: a joining host had its addresses ${joined} ms after its interface came up (its router solicitation heard after ${heard} ms and answered)`);
  assert.equal(await haip.stop(), 0);
});

test('lan6 with deprecate: false (the control): the host stays on the dead prefix, and its connections fail', async (t) => {
  const { lab, haip } = await start(t, '{ interface: lan0, deprecate: false }');
  await within(8000, 'SLAAC addresses in both prefixes', () => [LAN1, LAN2].every((p) => lab.ip(lab.lan, '-6', 'addr', 'show', 'dev', 'eth0').includes(`inet6 ${p}`)), Date.now(), 100);
  lab.dropFamilyAtIsp(1, 6);
  await lab.waitForDefault6('eth2', 6000);
  await haip.waitFor(/isp1 .*IPv6.*down|IPv6 default route isp1 .* -> isp2/, 3000);
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(hostSource(lab).startsWith(LAN1), 'the host still picks isp1\'s prefix');
  const c = lab.spawnNode(lab.lan, 'tcpPeer', ['client', SERVER, '8080']);
  await assert.rejects(c.waitFor(/^connected /, 2000), 'its new connection goes nowhere: isp1 is dead, isp2 drops the foreign source');
  c.signal('SIGTERM');
  assert.equal(await haip.stop(), 0);
});

test('refused delegated prefixes: named in haip status --json with the reason, and never advertised', async (t) => {
  const lab = Lab.create({ lan: true, uplinks: 3 });
  t.after(() => lab.destroy());
  lab.enableIPv6();
  for (const i of [1, 2]) delegate(lab, i);
  // isp2 (which learns) gets a record as dhcpcd's hook writes it, for a /32 no ISP delegates; isp3's
  // config lists isp1's prefix too, and isp1 (first) keeps it.
  const eth2 = JSON.parse(lab.ip(lab.r, '-j', 'link', 'show', 'eth2'))[0].ifindex as number;
  lab.ip(lab.r, '-6', 'route', 'add', 'unreachable', '2001:db8::/32', 'dev', 'lo', 'proto', 'dhcp', 'metric', String(7200 + eth2));
  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102, T3: 103 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1", prefixes6: ["2001:db8:1:100::/56"] }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n` +
      `  - { name: isp3, interface: eth3, weight: 3, table: T3, gateway: 198.18.3.1, gateway6: "fe80::3", prefixes6: ["2001:db8:1:100::/56"] }\n` +
      `lan6: { interface: lan0 }\n${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  t.after(() => haip.stop());
  await haip.waitFor(/notice: ready:/, 10_000);
  await haip.waitFor(/lan6: 2001:db8:1:100::\/64 of isp1 advertised on lan0/, 5000);
  const status = JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout);
  const row = (name: string) => status.links.find((l: { name: string; family: number }) => l.name === name && l.family === 6);
  assert.deepEqual(row('isp2').prefixes6_refused, [{ prefix: '2001:db8::/32', learned: true, why: '/32 is not a delegation (/48 to /64)' }]);
  assert.deepEqual(row('isp3').prefixes6_refused, [{ prefix: '2001:db8:1:100::/56', learned: false, why: 'link "isp1" owns it (or a prefix overlapping it) first: no source rule' }]);
  assert.equal(row('isp3').prefixes6, undefined, 'isp3 routes none of it');
  assert.deepEqual(status.lan6.prefixes.map((p: { prefix: string; link: string }) => `${p.prefix} ${p.link}`), ['2001:db8:1:100::/64 isp1'], 'only isp1\'s /64; isp2 learned nothing it may route');
  const text = lab.cli('status', '-c', cfg).stdout;
  assert.match(text, /isp2 does not route learned delegated prefix 2001:db8::\/32: \/32 is not a delegation/);
  assert.match(text, /isp3 does not route configured delegated prefix 2001:db8:1:100::\/56: link "isp1" owns it/);
  assert.match(lab.cli('plan', '-c', cfg).stdout, /# lan6: router advertisements on lan0 .*\n#   2001:db8:1:100::\/64 of isp1: preferred/);
  assert.equal(await haip.stop(), 0);
});

test('lan6: a /64 that leaves the LAN is withdrawn (both lifetimes 0), the new one advertised', async (t) => {
  const { lab, haip, cfg } = await start(t, '{ interface: lan0 }');
  const addrs = () => lab.ip(lab.lan, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global');
  await within(8000, 'SLAAC addresses in both prefixes', () => [LAN1, LAN2].every((p) => addrs().includes(`inet6 ${p}`)), Date.now(), 100);
  // The router's LAN address moves to another /64 of isp1's delegation, as dhcpcd does when the ISP renumbers.
  const since = Date.now();
  lab.ip(lab.r, '-6', 'addr', 'del', '2001:db8:1:100::1/64', 'dev', 'lan0');
  lab.ip(lab.r, '-6', 'addr', 'add', '2001:db8:1:101::1/64', 'dev', 'lan0', 'nodad');
  const ms = await within(5000, 'the host numbered from the new /64, the old one deprecated', () => {
    const a = addrs();
    return a.includes('inet6 2001:db8:1:101:') && new RegExp(`inet6 ${LAN1}\\S+ scope global deprecated`).test(a);
  }, since, 50);
  // RFC 4862's two-hour rule: a valid lifetime of 0 leaves the old address at most 2 h.
  const left = Number(new RegExp(`inet6 ${LAN1}\\S+[^\\n]*\\n\\s+valid_lft (\\d+)sec`).exec(addrs())?.[1]);
  assert.ok(left <= 7200, `the old address expires within 2 h: ${left} s`);
  await haip.waitFor(/lan6: 2001:db8:1:100::\/64 of isp1 withdrawn on lan0/, 1000);
  const status = JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout);
  assert.deepEqual(status.lan6.prefixes.map((p: { prefix: string; state: string }) => `${p.prefix} ${p.state}`), ['2001:db8:1:101::/64 preferred', '2001:db8:2:100::/64 preferred', '2001:db8:1:100::/64 withdrawn']);
  console.log(`lan6: a renumbered LAN /64: the host had the new address and the old one deprecated ${ms} ms after the router's address moved`);
  assert.equal(await haip.stop(), 0);
});

test('lan6 lifetimes: at most RFC 9096\'s limits, and a leased /64 no longer than its lease (cut short: preferred at once)', async (t) => {
  const { lab, haip, cfg } = await start(t, '{ interface: lan0 }');
  const addrs = () => lab.ip(lab.lan, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global');
  /** The host's SLAAC address in a prefix: its lifetimes left, in seconds. */
  const life = (p: string) => {
    const m = new RegExp(`inet6 ${p}\\S+[^\\n]*\\n\\s+valid_lft (\\d+)sec preferred_lft (\\d+)sec`).exec(addrs());
    return m ? { valid: Number(m[1]), preferred: Number(m[2]) } : undefined;
  };
  await within(8000, 'SLAAC addresses in both prefixes', () => !!life(LAN1) && !!life(LAN2), Date.now(), 100);
  for (const p of [LAN1, LAN2]) {
    const l = life(p)!;
    assert.ok(l.valid <= 5400 && l.preferred <= 2700, `${p}: valid ${l.valid} s, preferred ${l.preferred} s (ND_VALID_LIMIT 5400, ND_PREFERRED_LIMIT 2700)`);
  }
  // dhcpcd numbers the LAN from the delegation with the lease's lifetimes; the ISP cuts this one short.
  const since = Date.now();
  lab.ip(lab.r, '-6', 'addr', 'change', '2001:db8:2:100::1/64', 'dev', 'lan0', 'nodad', 'valid_lft', '600', 'preferred_lft', '300');
  const ms = await within(5000, 'the host\'s address in isp2\'s prefix preferred no longer than the lease', () => (life(LAN2)?.preferred ?? Infinity) <= 300, since, 50);
  await haip.waitFor(/lan6: the delegation behind 2001:db8:2:100::\/64 was renewed or cut short/, 1000);
  const row = JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout).lan6.prefixes.find((p: { prefix: string }) => p.prefix === '2001:db8:2:100::/64');
  assert.ok(row.valid_s <= 600 && row.preferred_s <= 300, `status shows what went out: ${JSON.stringify(row)}`);
  assert.match(lab.cli('plan', '-c', cfg).stdout, /#   2001:db8:2:100::\/64 of isp2: preferred \(isp2's IPv6 is up\); valid (5\d\d|600) s, preferred (2\d\d|300) s/);
  // RFC 4862 5.5.3 keeps a known address's valid lifetime when an RA would shorten it below 2 h; a host
  // that joins now takes the lease's.
  lab.ip(lab.lan, 'link', 'set', 'eth0', 'down');
  lab.ip(lab.lan, 'link', 'set', 'eth0', 'up');
  await within(6000, 'a joining host numbered again', () => !!life(LAN2), Date.now(), 50);
  const joined = life(LAN2)!;
  assert.ok(joined.valid <= 600 && joined.preferred <= 300, `a joining host: valid ${joined.valid} s, preferred ${joined.preferred} s`);
  console.log(`lan6: a lease cut to 600/300 s reached the LAN host's address in ${ms} ms; a joining host got valid ${joined.valid} s, preferred ${joined.preferred} s`);
  assert.equal(await haip.stop(), 0);
});

test('lan6: radvd advertising one of the delegated /64s on the LAN too is named (hosts would flip back)', async (t) => {
  const { lab, haip } = await start(t, '{ interface: lan0 }');
  const conf = join(lab.dir, 'radvd-lan0.conf');
  writeFileSync(conf, 'interface lan0 {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  prefix 2001:db8:1:100::/64 {};\n};\n', { mode: 0o644 });
  lab.spawnIn(lab.r, ['radvd', '-C', conf, '-p', join(lab.dir, 'radvd-lan0.pid'), '-n', '-m', 'stderr']);
  await haip.waitFor(/warning: lan6: fe80::\S+ also advertises 2001:db8:1:100::\/64 on lan0 \(preferred lifetime \d+ s\)/, 8000);
  assert.ok(!/also advertises 2001:db8:2:100::\/64/.test(haip.output()), 'only the prefix radvd advertises');
  assert.equal(await haip.stop(), 0);
});
