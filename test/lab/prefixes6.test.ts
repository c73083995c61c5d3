// Delegated prefixes against the real kernel; both ISPs drop foreign IPv6 sources.
// 1. isp2 delegated 2001:db8:2:100::/56, which numbers the LAN: with IPv6's default on isp1, a LAN host
//    in it reaches the internet only because haip's `from 2001:db8:2:100::/56 lookup T2` sends it by isp2.
// 2. An unnumbered WAN (RFC 7084's usual case): isp1 gives eth1 no global address, only routes the
//    delegated 2001:db8:1:100::/56 to the router's link-local address. haip probes isp1 from the router's
//    LAN address inside that prefix and judges and switches it like any link: IPv6 fails over and back.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { Lab, pingFromLan, within } from './lab';

const PROBE = '{ targets: [203.0.113.1, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

/**
 * isp<i> delegates `prefix` (a /56) to the router: routed to `via` on its WAN, accepted as a source
 * (besides the WAN's /64 when `wan64`), and the LAN numbered from its first /64 (router ::1, host ::2).
 */
function delegate(lab: Lab, i: number, prefix: string, via: string, wan64: boolean) {
  const lan64 = prefix.replace('::/56', '');
  lab.ip(lab.isp(i), '-6', 'route', 'add', prefix, 'via', via, 'dev', 'wan');
  lab.ip(lab.inet, '-6', 'route', 'add', prefix, 'via', `2001:db8:f0${i}::1`);
  lab.exec(lab.isp(i), 'nft', 'delete', 'table', 'inet', 'haiplabbcp38');
  const allowed = wan64 ? `{ 2001:db8:${i}::/64, ${prefix} }` : prefix;
  lab.nft(lab.isp(i), `table inet haiplabbcp38 { chain forward { type filter hook forward priority -10; policy accept; iifname "wan" ip6 saddr != ${allowed} counter drop; }; }\n`);
  lab.ip(lab.r, '-6', 'addr', 'add', `${lan64}::1/64`, 'dev', 'lan0', 'nodad');
  lab.ip(lab.lan, '-6', 'addr', 'add', `${lan64}::2/64`, 'dev', 'eth0', 'nodad');
  lab.ip(lab.lan, '-6', 'route', 'add', 'default', 'via', `${lan64}::1`);
}

test('prefixes6: a LAN host in isp2\'s delegated prefix leaves by isp2 while IPv6\'s default is on isp1', async (t) => {
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  lab.enableIPv6();
  delegate(lab, 2, '2001:db8:2:100::/56', '2001:db8:2::2', true);
  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2", prefixes6: ["2001:db8:2:100::/56"] }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  t.after(() => haip.stop());
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault6('eth1', 3000);
  assert.match(lab.ip(lab.r, '-6', 'rule', 'show'), /10020:\s+from 2001:db8:2:100::\/56 lookup 102 proto 72/);
  const drops = lab.bcp38Drops6(1);
  assert.ok(pingFromLan(lab, '2001:db8:ff::1'), 'the LAN host in isp2\'s prefix reaches the internet');
  assert.match(lab.ip(lab.r, '-6', 'route', 'get', '2001:db8:ff::1', 'from', '2001:db8:2:100::2', 'iif', 'lan0'), /dev eth2 .*table 102/);
  assert.equal(lab.bcp38Drops6(1), drops, 'nothing from isp2\'s prefix went to isp1');
  // The control: the same config without prefixes6 (reloaded) sends the LAN host by isp1, which drops it.
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(', prefixes6: ["2001:db8:2:100::/56"]', ''));
  const from = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/reloaded /, 5000, from);
  // The reload's pass follows its log line.
  await within(3000, 'the prefix rule gone', () => !/2001:db8:2:100::\/56/.test(lab.ip(lab.r, '-6', 'rule', 'show')));
  assert.equal(pingFromLan(lab, '2001:db8:ff::1'), false, 'without the rule, isp1 drops the foreign source');
  assert.ok(lab.bcp38Drops6(1) > drops);
  assert.equal(await haip.stop(), 0);
});

test('unnumbered WAN: probed from the LAN address in its delegated prefix, carries IPv6, fails over and back', async (t) => {
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  lab.enableIPv6();
  lab.ip(lab.r, '-6', 'addr', 'del', '2001:db8:1::2/64', 'dev', 'eth1');
  const ll: { addr_info: { local: string }[] }[] = JSON.parse(lab.ip(lab.r, '-j', '-6', 'addr', 'show', 'dev', 'eth1', 'scope', 'link'));
  delegate(lab, 1, '2001:db8:1:100::/56', ll[0].addr_info[0].local, false);
  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1", prefixes6: ["2001:db8:1:100::/56"] }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  t.after(() => haip.stop());
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault6('eth1', 5000);
  const rules = lab.ip(lab.r, '-6', 'rule', 'show');
  assert.match(rules, /10010:\s+from 2001:db8:1:100::1 lookup 101 proto 72/);
  assert.match(rules, /10010:\s+from 2001:db8:1:100::\/56 lookup 101 proto 72/);
  assert.ok(pingFromLan(lab, '2001:db8:ff::1'), 'the LAN host in isp1\'s prefix reaches the internet by the unnumbered uplink');
  const status = lab.cli('status', '-c', cfg);
  assert.match(status.stdout, /IPv6 default route: isp1/, status.stdout + status.stderr);
  assert.match(status.stdout, /\*\s+isp1\s+IPv6\s+eth1\s+UP/, status.stdout);

  // IPv6 dies at isp1 only: IPv6 moves to isp2, IPv4 stays.
  lab.dropFamilyAtIsp(1, 6);
  const down = await lab.waitForDefault6('eth2', 6000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  lab.exec(lab.isp(1), 'nft', 'delete', 'table', 'inet', 'haiplab');
  const back = await lab.waitForDefault6('eth1', 8000);
  console.log(`unnumbered isp1: IPv6 over to isp2 in ${down} ms, back in ${back} ms`);
  assert.ok(pingFromLan(lab, '2001:db8:ff::1'));
  assert.equal(await haip.stop(), 0);
});
