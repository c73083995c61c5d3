// `rules:` with IPv6 addresses against the real kernel: an IPv6 `to` rule becomes an `ip -6 rule` that
// steers the router's traffic to one server through isp2 while IPv6's default is on isp1, haip puts it
// back when removed, and a mixed rule (IPv4 from, IPv6 to) is refused at its line and column before
// anything reaches the kernel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab, SERVER6, sleep } from './lab';

const PROBE = '{ targets: [203.0.113.1, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const LINKS =
  `tables: { T1: 101, T2: 102 }\nlinks:\n` +
  `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
  `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n`;

test('rules: an IPv6 `to` rule is installed with -6, routes by its table, is put back; a mixed rule is refused at FILE:LINE:COL', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.enableIPv6();
  const bad = lab.writeConfig(`probe: ${PROBE}\n${LINKS}${lab.pathsYaml()}\nrules:\n  - { priority: 5001, table: T2, from: 198.18.0.0/15, to: "${SERVER6}" }\n`, 'mixed.yaml');
  const r = lab.cli('check', '-c', bad);
  assert.equal(r.status, 78, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /mixed\.yaml:\d+:\d+: rules\[0\]\.to: to 2001:db8:ff::10 is IPv6 but from 198\.18\.0\.0\/15 is IPv4: a rule matches one family/);

  const cfg = lab.writeConfig(`probe: ${PROBE}\n${LINKS}${lab.pathsYaml()}\nrules:\n  - { priority: 5001, table: T2, to: "${SERVER6}/128" }\n`);
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  t.after(() => haip.stop());
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault6('eth1', 3000);
  const rule = /5001:\s+from all to 2001:db8:ff::10 lookup 102 proto 72/;
  assert.match(lab.ip(lab.r, '-6', 'rule', 'show'), rule);
  assert.doesNotMatch(lab.ip(lab.r, '-4', 'rule', 'show'), /5001:/, 'an IPv6 rule is no IPv4 rule');
  // The kernel routes by it: the server through isp2, the other target through isp1 (IPv6's default).
  assert.match(lab.ip(lab.r, '-6', 'route', 'get', SERVER6), /dev eth2 .*table 102/);
  assert.match(lab.ip(lab.r, '-6', 'route', 'get', '2001:db8:ff::1'), /dev eth1/);
  // Removed by hand, put back like haip's own rules.
  lab.ip(lab.r, '-6', 'rule', 'del', 'priority', '5001');
  const t0 = Date.now();
  while (!rule.test(lab.ip(lab.r, '-6', 'rule', 'show'))) {
    if (Date.now() - t0 > 5000) assert.fail(`rule 5001 not put back within 5 s:\n${lab.ip(lab.r, '-6', 'rule', 'show')}`);
    await sleep(50);
  }
  console.log(`IPv6 rule put back in ${Date.now() - t0} ms`);
  assert.equal(await haip.stop(), 0);
});
