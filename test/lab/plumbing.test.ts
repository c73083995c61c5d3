// Source routing owned by haip, against the real kernel: tables, rules and routes built from the config,
// put back when someone else changes them, following interfaces that come and go, never duplicated,
// and never touching what is not haip's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Lab, sleep, within } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

const haipRules = (lab: Lab) => lab.rules().split('\n').filter((l) => /proto (72|haip)\b/.test(l));

test('from a bare router: both tables, rules and the default route; foreign rules and routes untouched', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.ip(lab.r, 'rule', 'add', 'priority', '9000', 'from', '198.51.100.0/24', 'lookup', '200');
  lab.ip(lab.r, 'route', 'add', '198.51.100.0/24', 'via', '198.18.2.1', 'table', '101');
  const before = lab.rules();
  assert.equal(haipRules(lab).length, 0);
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:/, 10_000);
  assert.deepEqual(haipRules(lab).map((l) => l.replace(/\s+/g, ' ').replace(/proto haip/, 'proto 72')), [
    '10000: from all lookup main suppress_prefixlength 0 proto 72',
    '10005: from all oif eth1 lookup 101 proto 72',
    '10005: from all oif eth2 lookup 102 proto 72',
    '10010: from 198.18.1.2 lookup 101 proto 72',
    '10020: from 198.18.2.2 lookup 102 proto 72',
    '11010: from all fwmark 0x1/0xff lookup 101 proto 72',
    '11020: from all fwmark 0x2/0xff lookup 102 proto 72',
  ]);
  assert.match(lab.rules(), /9000:\s+from 198\.51\.100\.0\/24 lookup 200/);
  const t101 = lab.ip(lab.r, '-N', 'route', 'show', 'table', '101');
  assert.match(t101, /default via 198\.18\.1\.1 dev eth1 proto 72/);
  assert.match(t101, /198\.18\.1\.0\/24 dev eth1 proto 72 scope 253 src 198\.18\.1\.2/);
  assert.match(t101, /198\.51\.100\.0\/24 via 198\.18\.2\.1 dev eth2 \n/, 'a foreign route in a haip table stays');
  assert.match(lab.ip(lab.r, '-N', 'route', 'show', 'table', '102'), /default via 198\.18\.2\.1 dev eth2 proto 72/);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  // Table and protocol names go to the configured files (here: the lab's temp dir).
  assert.match(readFileSync(`${lab.dir}/rt_tables.d/haip.conf`, 'utf8'), /^101\tT1$/m);
  assert.match(readFileSync(`${lab.dir}/rt_protos.d/haip.conf`, 'utf8'), /^72\thaip$/m);
  // Each uplink's address routes out of its own uplink, whatever the main table says.
  assert.match(lab.exec(lab.r, 'ip', 'route', 'get', '203.0.113.9', 'from', '198.18.2.2'), /via 198\.18\.2\.1 dev eth2/);
  assert.match(lab.exec(lab.r, 'ip', 'route', 'get', '203.0.113.9', 'from', '198.18.1.2'), /via 198\.18\.1\.1 dev eth1/);
  await haip.stop();
  assert.ok(before.includes('9000:'));
});

test('a deleted haip rule and a default route replaced by someone else are put back within 2 s', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:/, 10_000);
  let t0 = Date.now();
  lab.ip(lab.r, 'rule', 'del', 'priority', '10020');
  const ruleBack = await within(2000, 'rule 10020 back', () => /10020:\s+from 198\.18\.2\.2 lookup 102/.test(lab.rules()), t0);
  await haip.waitFor(/warning: changed outside haip, putting back: missing rule priority 10020 from 198\.18\.2\.2 lookup 102/);
  t0 = Date.now();
  // What dhclient or pppd would do.
  lab.ip(lab.r, 'route', 'replace', 'default', 'via', '198.18.2.1', 'dev', 'eth2', 'proto', 'dhcp');
  const routeBack = await within(2000, 'default route back on eth1', () => lab.defaultRoute() === 'eth1 via 198.18.1.1', t0);
  await haip.waitFor(/warning: changed outside haip, putting back: default via 198\.18\.2\.1 dev eth2 proto 16 table main -> default via 198\.18\.1\.1 dev eth1 proto 72 table main/);
  t.diagnostic(`rule restored in ${ruleBack} ms, default route restored in ${routeBack} ms`);
  console.log(`# figures: drift rule_restore_ms=${ruleBack} route_restore_ms=${routeBack}`);
  assert.equal(haipRules(lab).length, 7, 'no duplicates after restoring (5 plus the fwmark rules for replies)');
});

test('an uplink that appears after start gets its table, rule and the default route; removing it moves the route at once', async (t) => {
  const lab = Lab.create({ uplinks: 3, createUplinks: [1, 2] });
  t.after(() => lab.destroy());
  // isp3 (eth3, a USB modem, say) is preferred but not there yet.
  const yaml = lab.configYaml(FAST).replace('weight: 3,', 'weight: 0,');
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(yaml), '-v']);
  await haip.waitFor(/ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  // Only its fwmark rule (replies by the arrival uplink) is there: it leads into an empty table.
  assert.doesNotMatch(lab.rules(), /(from \S+|oif \S+) lookup 103/);
  lab.addUplink(3, false);
  const t0 = Date.now();
  lab.ip(lab.r, 'addr', 'add', '198.18.3.2/24', 'dev', 'eth3');
  const ruleMs = await within(2000, 'rule for eth3', () => /from 198\.18\.3\.2 lookup 103/.test(lab.rules()), t0);
  const routeMs = await lab.waitForDefault('eth3', 2000, t0);
  assert.match(lab.ip(lab.r, 'route', 'show', 'table', '103'), /default via 198\.18\.3\.1 dev eth3/);
  t.diagnostic(`new uplink: rule after ${ruleMs} ms, default route after ${routeMs} ms`);
  const t1 = Date.now();
  lab.ip(lab.r, 'link', 'del', 'eth3');
  const goneMs = await lab.waitForDefault('eth1', 2000, t1);
  await within(1000, 'eth3 rule gone', () => !/(from \S+|oif \S+) lookup 103/.test(lab.rules()));
  t.diagnostic(`interface deleted: default route moved after ${goneMs} ms`);
  console.log(`# figures: new-uplink rule_ms=${ruleMs} route_ms=${routeMs}; interface-removal failover_ms=${goneMs}`);
  assert.ok(goneMs <= 300, `interface removal took ${goneMs} ms`);
  // Whichever the daemon sees first: the read without eth3, or the kernel refusing table 103's route
  // because eth3 is gone (a pass already under way); both move the route at once.
  await haip.waitFor(/isp3 \(eth3\): up -> down: (interface eth3 does not exist|its route cannot be installed in table 103: Cannot find device "eth3")/);
});

test('kill -9 and restart: exactly one rule per uplink, and the default route never left', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const first = lab.startHaip(['run', '-c', cfg]);
  await first.waitFor(/ready:/, 10_000);
  first.signal('SIGKILL');
  await first.exited;
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  // A stale duplicate, as a crash in the middle of an old version's apply could leave.
  lab.ip(lab.r, 'rule', 'add', 'priority', '10010', 'from', '198.18.1.2', 'lookup', '101', 'protocol', '72', 'tos', '0x10');
  const second = lab.startHaip(['run', '-c', cfg]);
  await second.waitFor(/ready:/, 10_000);
  await sleep(300);
  const rules = haipRules(lab);
  assert.equal(rules.filter((l) => /lookup 101\b/.test(l) && /from 198\.18\.1\.2/.test(l)).length, 1, rules.join('\n'));
  assert.equal(rules.filter((l) => /lookup 102\b/.test(l) && /from 198\.18\.2\.2/.test(l)).length, 1, rules.join('\n'));
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  await second.stop();
});

test('haip flush removes what haip owns and nothing else, and leaves the host online', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.ip(lab.r, 'rule', 'add', 'priority', '9000', 'from', '198.51.100.0/24', 'lookup', '200');
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const haip = lab.startHaip(['run', '-c', cfg]);
  await haip.waitFor(/ready:/, 10_000);
  await haip.stop();
  const flush = spawnSync('ip', ['netns', 'exec', lab.r, process.execPath, 'dist/src/main.js', 'flush', '-c', cfg], { encoding: 'utf8' });
  assert.equal(flush.status, 0, flush.stderr);
  assert.equal(flush.stdout, '', 'a one-shot command logs to stderr, so `haip flush 2>/dev/null` is quiet');
  assert.match(flush.stderr, /flush: ip -4 rule del priority 10010/);
  assert.equal(haipRules(lab).length, 0);
  assert.match(lab.rules(), /9000:\s+from 198\.51\.100\.0\/24 lookup 200/);
  assert.equal(lab.ip(lab.r, 'route', 'show', 'table', '101').trim(), '');
  assert.match(lab.ip(lab.r, '-N', 'route', 'show', 'default'), /default via 198\.18\.1\.1 dev eth1 proto 4/, 'the default route is handed over, not deleted');
});

test('the ip monitor child dying is noticed and restarted, and events flow again', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:/, 10_000);
  const children = readFileSync(`/proc/${haip.pid}/task/${haip.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const monitor = children.find((pid) => /\bmonitor\b/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')));
  assert.ok(monitor, 'haip runs ip monitor');
  process.kill(monitor!, 'SIGKILL');
  await haip.waitFor(/ip monitor exited \(SIGKILL\); restarting in 1 s/, 3000);
  await sleep(1500);
  const t0 = Date.now();
  lab.farEnd(1, false);
  const ms = await lab.waitForDefault('eth2', 2000, t0);
  assert.ok(ms < 1000, `carrier loss after the restart took ${ms} ms`);
});

test('a point-to-point uplink without a gateway (ppp0-like): `default dev`, and a redial with a new address is followed', async (t) => {
  const lab = Lab.create({ uplinks: 2, createUplinks: [1] });
  t.after(() => lab.destroy());
  const isp = lab.isp(2);
  // What pppd leaves behind: a /32 local address with the peer's address, no gateway.
  const dial = (local: string) => {
    lab.ip(isp, 'link', 'add', 'wan', 'type', 'veth', 'peer', 'name', 'ppp0', 'netns', lab.r);
    lab.exec(isp, 'sysctl', '-qw', 'net.ipv4.conf.wan.proxy_arp=1');
    lab.ip(isp, 'addr', 'add', '198.18.2.1', 'peer', `${local}/32`, 'dev', 'wan');
    lab.ip(isp, 'link', 'set', 'wan', 'up');
    lab.ip(lab.r, 'addr', 'add', local, 'peer', '198.18.2.1/32', 'dev', 'ppp0');
    lab.ip(lab.r, 'link', 'set', 'ppp0', 'up');
  };
  dial('198.18.2.2');
  const yaml = lab
    .configYaml(FAST)
    .replace('{ name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1 }', '{ name: lte, interface: ppp0, weight: 2, table: T2 }');
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(yaml)]);
  await haip.waitFor(/ready:/, 10_000);
  const t102 = () => lab.ip(lab.r, '-N', 'route', 'show', 'table', '102');
  assert.match(t102(), /default dev ppp0 proto 72 scope 253/);
  assert.match(t102(), /198\.18\.2\.1 dev ppp0 proto 72 scope 253 src 198\.18\.2\.2/);
  assert.match(lab.rules(), /from 198\.18\.2\.2 lookup 102/);
  // The backup really works through its own table.
  assert.match(lab.exec(lab.r, 'ping', '-c1', '-W1', '-I', '198.18.2.2', '203.0.113.1'), /1 received/);
  lab.dropAtIsp(1);
  await lab.waitForDefault('ppp0', 6000);
  // Redial: ppp0 goes away and comes back with another address.
  lab.ip(lab.r, 'link', 'del', 'ppp0');
  dial('198.18.2.6');
  await within(2000, 'rule follows the new address', () => /from 198\.18\.2\.6 lookup 102/.test(lab.rules()) && !/from 198\.18\.2\.2 /.test(lab.rules()));
  await lab.waitForDefault('ppp0', 3000);
  assert.match(t102(), /198\.18\.2\.1 dev ppp0 proto 72 scope 253 src 198\.18\.2\.6/);
  // Whether haip saw ppp0 gone and back, or (within one debounce) only its new address, depends on timing.
  await haip.waitFor(/lte: ppp0 is usable again (?:for IPv4 )?\(source 198\.18\.2\.6\)|lte: source address 198\.18\.2\.2 -> 198\.18\.2\.6/);
});

test('a DHCP renew with a new address moves the source rule; nothing of the old address is left', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
  await haip.waitFor(/ready:/, 10_000);
  const t0 = Date.now();
  // dhclient-script on a new lease: the old address goes, the new one comes.
  lab.ip(lab.r, 'addr', 'del', '198.18.2.2/24', 'dev', 'eth2');
  lab.ip(lab.r, 'addr', 'add', '198.18.2.7/24', 'dev', 'eth2');
  const ms = await within(2000, 'rule for the new address', () => /from 198\.18\.2\.7 lookup 102/.test(lab.rules()) && !/198\.18\.2\.2/.test(lab.rules()), t0);
  t.diagnostic(`source rule followed the new address in ${ms} ms`);
  assert.match(lab.ip(lab.r, 'route', 'show', 'table', '102'), /198\.18\.2\.0\/24 dev eth2 proto 72 scope link src 198\.18\.2\.7/);
  await haip.waitFor(/isp2: eth2 is usable again (?:for IPv4 )?\(source 198\.18\.2\.7\)|isp2: source address 198\.18\.2\.2 -> 198\.18\.2\.7/, 2000);
  // The backup still works from its new address.
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
});
