// Delegated prefixes against the real kernel: isp2 delegated 2001:db8:2:100::/56, which numbers the LAN;
// both ISPs drop foreign IPv6 sources. With IPv6's default on isp1, a LAN host in isp2's prefix reaches
// the internet only because haip's `from 2001:db8:2:100::/56 lookup T2` sends it out by isp2.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { Lab, sleep } from './lab';

const PROBE = '{ targets: [203.0.113.1, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

function pingFromLan(lab: Lab, target: string): boolean {
  try {
    lab.exec(lab.lan, 'ping', '-n', '-c', '1', '-W', '1', target);
    return true;
  } catch {
    return false;
  }
}

test('prefixes6: a LAN host in isp2\'s delegated prefix leaves by isp2 while IPv6\'s default is on isp1', async (t) => {
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  lab.enableIPv6();
  // isp2 delegated 2001:db8:2:100::/56 to the router (routed to its WAN address) and accepts it as a source.
  lab.ip(lab.isp(2), '-6', 'route', 'add', '2001:db8:2:100::/56', 'via', '2001:db8:2::2', 'dev', 'wan');
  lab.ip(lab.inet, '-6', 'route', 'add', '2001:db8:2:100::/56', 'via', '2001:db8:f02::1');
  lab.exec(lab.isp(2), 'nft', 'delete', 'table', 'inet', 'haiplabbcp38');
  lab.nft(lab.isp(2), 'table inet haiplabbcp38 { chain forward { type filter hook forward priority -10; policy accept; iifname "wan" ip6 saddr != { 2001:db8:2::/64, 2001:db8:2:100::/56 } counter drop; }; }\n');
  lab.ip(lab.r, '-6', 'addr', 'add', '2001:db8:2:100::1/64', 'dev', 'lan0', 'nodad');
  lab.ip(lab.lan, '-6', 'addr', 'add', '2001:db8:2:100::2/64', 'dev', 'eth0', 'nodad');
  lab.ip(lab.lan, '-6', 'route', 'add', 'default', 'via', '2001:db8:2:100::1');

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
  await sleep(300);
  assert.doesNotMatch(lab.ip(lab.r, '-6', 'rule', 'show'), /2001:db8:2:100::\/56/);
  assert.equal(pingFromLan(lab, '2001:db8:ff::1'), false, 'without the rule, isp1 drops the foreign source');
  assert.ok(lab.bcp38Drops6(1) > drops);
  assert.equal(await haip.stop(), 0);
});
