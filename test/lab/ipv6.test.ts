// Dual stack against the real kernel: two ISPs each give the router a /64 and drop foreign IPv6 sources
// (BCP 38); isp1's gateway is written in the config (link-local fe80::1), isp2's is learned from the
// router advertisements of a real radvd. IPv6 and IPv4 fail over and back independently, each prefix
// leaves by its own uplink, and haip's IPv6 routes and rules are put back when removed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Haip, Lab, SERVER6, sleep } from './lab';

const PROBE = '{ targets: [203.0.113.1, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

async function startDualStack(t: { after(fn: () => void): void }) {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.enableIPv6([2]);
  // isp2's gateway comes from its router advertisement: wait for the kernel's `proto ra` route.
  const t0 = Date.now();
  while (!/proto ra/.test(lab.ip(lab.r, '-6', 'route', 'show', 'default'))) {
    if (Date.now() - t0 > 10_000) throw new Error(`no router advertisement from isp2's radvd within 10 s:\n${lab.ip(lab.r, '-6', 'route')}`);
    await sleep(100);
  }
  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1 }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  await lab.waitForDefault6('eth1', 3000);
  return { lab, haip };
}

/** A TCP server at SERVER6:8080 in the internet, and haip with both gateway6 written, IPv6 on isp1. */
async function serveAndStart(lab: Lab, head: string): Promise<Haip> {
  const server = lab.spawnNode(lab.inet, 'tcpPeer', ['server', SERVER6, '8080']);
  await server.waitFor(/^listening$/, 5000);
  const cfg = lab.writeConfig(
    `${head}tables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault6('eth1', 3000);
  return haip;
}

/** ping from one of the router's addresses: true when the target answered. */
function pingFrom(lab: Lab, source: string, target: string): boolean {
  try {
    lab.exec(lab.r, 'ping', '-n', '-c', '1', '-W', '1', '-I', source, target);
    return true;
  } catch {
    return false;
  }
}

test('dual stack: a learned RA gateway, haip\'s IPv6 default below the RA route, each prefix leaving by its own uplink', async (t) => {
  const { lab, haip } = await startDualStack(t);
  await haip.waitFor(/isp2: IPv6 gateway fe80::[0-9a-f:]+, learned from the kernel's default route via fe80::[0-9a-f:]+ proto 9 metric 1024/);
  const defaults = lab.ip(lab.r, '-6', 'route', 'show', 'default');
  assert.match(defaults, /default via fe80::1 dev eth1 proto 72 metric 1 /);
  assert.match(defaults, /default via fe80::\S+ dev eth2 proto ra metric 1024 /, 'the kernel\'s RA route stays');
  assert.match(lab.ip(lab.r, '-6', 'route', 'show', 'table', '102'), /default via fe80::\S+ dev eth2 proto 72 metric 1024/);
  assert.match(lab.ip(lab.r, '-6', 'rule', 'show'), /10020:\s+from 2001:db8:2::\/64 lookup 102 proto 72/);
  // The source-routing check: from isp2's prefix, the target answers only through isp2 (isp1 drops it).
  const before = lab.bcp38Drops6(1);
  assert.ok(pingFrom(lab, '2001:db8:2::2', '2001:db8:ff::1'), 'a ping from isp2\'s prefix must leave by isp2');
  assert.ok(pingFrom(lab, '2001:db8:1::2', '2001:db8:ff::1'), 'a ping from isp1\'s prefix must leave by isp1');
  assert.equal(lab.bcp38Drops6(1), before, 'nothing from isp2\'s prefix reached isp1');
  assert.match(lab.exec(lab.r, 'ip', '-6', 'route', 'get', '2001:db8:ff::1', 'from', '2001:db8:2::2'), /dev eth2 table 102/);
  const status = JSON.parse(readFileSync(join(lab.dir, 'state', 'status.json'), 'utf8'));
  assert.equal(status.active6, 'isp1');
  assert.deepEqual(
    status.links.map((l: { name: string; family: number; state: string }) => `${l.name}/${l.family} ${l.state}`),
    ['isp1/4 up', 'isp2/4 up', 'isp1/6 up', 'isp2/6 up'],
  );
});

test('IPv6-only loss on isp1 moves IPv6 to isp2 and leaves IPv4 on isp1, and back; then the same for IPv4', async (t) => {
  const { lab, haip } = await startDualStack(t);
  const figures: string[] = [];
  for (const [family, other] of [
    [6, 4],
    [4, 6],
  ] as const) {
    const wait = (dev: string, ms: number, since: number) => (family === 6 ? lab.waitForDefault6(dev, ms, since) : lab.waitForDefault(dev, ms, since));
    const otherDev = () => (other === 6 ? lab.defaultRoute6() : lab.defaultRoute()).split(' ')[0];
    let t0 = Date.now();
    lab.dropFamilyAtIsp(1, family);
    const failover = await wait('eth2', 6000, t0);
    const label = family === 6 ? 'IPv6 ' : '';
    await haip.waitFor(new RegExp(`switch: ${label}default route isp1 .* -> isp2 .*isp1 is down`));
    // The other family never moved.
    for (let i = 0; i < 10; i++) {
      assert.equal(otherDev(), 'eth1', `IPv${other} must stay on isp1 while only IPv${family} fails`);
      await sleep(100);
    }
    t0 = Date.now();
    lab.healIsp(1);
    const failback = await wait('eth1', 6000, t0);
    await haip.waitFor(new RegExp(`switch: ${label}default route isp2 .* -> isp1 .*up and preferred`));
    assert.equal(otherDev(), 'eth1');
    figures.push(`IPv${family} failover_ms=${failover} failback_ms=${failback}`);
    assert.ok(failover <= 3000, `IPv${family} failover took ${failover} ms`);
    assert.ok(failback <= 3000, `IPv${family} failback took ${failback} ms`);
  }
  for (const f of figures) console.log(`# figures: ${f}`);
  // IPv6: the first choice, its failover and its failback; nothing more.
  const switches = haip.lines.filter((l) => / switch: /.test(l)).map((l) => l.replace(/^.*switch: /, ''));
  assert.equal(switches.filter((l) => l.startsWith('IPv6')).length, 3, switches.join('\n'));
  t.diagnostic(figures.join('; ') + ' (interval 500ms, timeout 500ms, down 3, up 3)');
});

test('IPv6 drift: haip\'s IPv6 default, link route and rule removed by hand are put back within a second', async (t) => {
  const { lab, haip } = await startDualStack(t);
  const mark = haip.lines.length;
  const t0 = Date.now();
  lab.ip(lab.r, '-6', 'route', 'del', 'default', 'via', 'fe80::1', 'dev', 'eth1', 'proto', '72', 'metric', '1');
  lab.ip(lab.r, '-6', 'rule', 'del', 'priority', '10010');
  lab.ip(lab.r, '-6', 'route', 'del', 'default', 'table', '101');
  for (;;) {
    const ok =
      /default via fe80::1 dev eth1 proto 72 metric 1 /.test(lab.ip(lab.r, '-6', 'route', 'show', 'default')) &&
      /10010:\s+from 2001:db8:1::\/64 lookup 101/.test(lab.ip(lab.r, '-6', 'rule', 'show')) &&
      /default via fe80::1 dev eth1/.test(lab.ip(lab.r, '-6', 'route', 'show', 'table', '101'));
    if (ok) break;
    if (Date.now() - t0 > 3000) throw new Error(`IPv6 state not put back within 3 s:\n${lab.ip(lab.r, '-6', 'rule')}\n${lab.ip(lab.r, '-6', 'route', 'show', 'table', 'all')}`);
    await sleep(20);
  }
  const ms = Date.now() - t0;
  await haip.waitFor(/warning: changed outside haip, putting back: .*-6 /, 3000, mark);
  console.log(`# figures: IPv6 drift put back in ${ms} ms`);
  assert.ok(ms <= 1000, `put back after ${ms} ms`);
  // A foreign IPv6 default beside haip's at its metric (IPv6 has nothing below 1: `append` makes it an
  // equal-cost sibling, carrying half the flows) is removed; the RA route stays.
  lab.ip(lab.r, '-6', 'route', 'append', 'default', 'via', 'fe80::2', 'dev', 'eth2', 'metric', '1', 'proto', 'static');
  const t1 = Date.now();
  while (/fe80::2 dev eth2[^\n]*metric 1 |nexthop/.test(lab.ip(lab.r, '-6', 'route', 'show', 'default'))) {
    if (Date.now() - t1 > 3000) throw new Error(`the foreign metric-1 default is still beside haip's:\n${lab.ip(lab.r, '-6', 'route', 'show', 'default')}`);
    await sleep(20);
  }
  assert.match(lab.ip(lab.r, '-6', 'route', 'show', 'default'), /proto ra metric 1024/);
  assert.equal(lab.defaultRoute6(), 'eth1 via fe80::1');
});

test('sticky for IPv6: a LAN connection opened on the backup keeps its uplink across the IPv6 fail-back', async (t) => {
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  lab.enableIPv6([]);
  lab.enableLan6();
  const haip = await serveAndStart(lab, `sticky: true\nprobe: ${PROBE}\n`);
  assert.match(lab.ip(lab.r, '-6', 'rule', 'show'), /11020:\s+from all fwmark 0x2\/0xff lookup 102/);
  const connect = async () => {
    const c = lab.spawnNode(lab.lan, 'tcpPeer', ['client', SERVER6, '8080']);
    await c.waitFor(/^connected \d+$/, 3000);
    return c;
  };
  const say = async (c: Haip, word: string) => {
    const from = c.lines.length;
    c.send(word);
    const line = await c.waitFor(new RegExp(`^reply ${word} from |^error |^closed$`), 2000, from);
    const m = /^reply \S+ from (.+):\d+$/.exec(line);
    if (!m) throw new Error(`${word}: ${line}`);
    return m[1];
  };
  lab.dropFamilyAtIsp(1, 6);
  await lab.waitForDefault6('eth2', 6000);
  const old = await connect();
  assert.equal(await say(old, 'before'), '2001:db8:2::2', 'opened while isp2 carries IPv6');
  lab.healIsp(1);
  await lab.waitForDefault6('eth1', 6000);
  await haip.waitFor(/switch: IPv6 default route isp2 .* -> isp1 /);
  assert.equal(await say(old, 'after'), '2001:db8:2::2', 'the old connection still leaves by isp2');
  const fresh = await connect();
  assert.equal(await say(fresh, 'new'), '2001:db8:1::2', 'a new connection takes isp1');
  assert.equal(lab.bcp38Drops6(1) + lab.bcp38Drops6(2), 0, 'nothing left by the wrong uplink');
  // IPv6 going down on isp2 flushes only its IPv6 connections.
  lab.dropFamilyAtIsp(2, 6);
  await haip.waitFor(/sticky: isp2 is down for IPv6: flushed its \d+ IPv6 connection/, 6000);
});

test('a TCP probe to an IPv6 target (tcp://[ADDR]:PORT) judges IPv6 on its own', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.enableIPv6([]);
  lab.ip(lab.inet, 'addr', 'add', `${SERVER6}/128`, 'dev', 'lo');
  await serveAndStart(lab, `probe: { targets: [203.0.113.1, "tcp://[${SERVER6}]:8080"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }\n`);
  const status = () => JSON.parse(readFileSync(join(lab.dir, 'state', 'status.json'), 'utf8'));
  assert.deepEqual(
    status().links.filter((l: { family: number }) => l.family === 6).map((l: { name: string; state: string }) => `${l.name} ${l.state}`),
    ['isp1 up', 'isp2 up'],
  );
  // Only TCP over IPv6 dies on isp1 (ICMPv6 still passes): IPv6 moves, IPv4 stays.
  lab.nft(lab.isp(1), 'table inet haiplab { chain forward_drop { type filter hook forward priority 0; policy accept; meta nfproto ipv6 meta l4proto tcp drop; }; }\n');
  await lab.waitForDefault6('eth2', 6000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  lab.healIsp(1);
  await lab.waitForDefault6('eth1', 6000);
});

test('rules: an IPv6 rule from the config is an ip -6 rule: installed, obeyed by the router\'s traffic, put back when removed', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.enableIPv6();
  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n` +
      `rules:\n  - { priority: 500, to: "2001:db8:ff::2", table: T2 }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault6('eth1', 3000);
  assert.match(lab.ip(lab.r, '-6', 'rule', 'show'), /^500:\s+from all to 2001:db8:ff::2 lookup 102 proto 72/m);
  assert.match(lab.exec(lab.r, 'ip', '-6', 'route', 'get', '2001:db8:ff::2'), /dev eth2/);
  assert.match(lab.exec(lab.r, 'ip', '-6', 'route', 'get', '2001:db8:ff::1'), /dev eth1/);
  assert.ok(pingFrom(lab, '2001:db8:2::2', '2001:db8:ff::2'), 'the rule\'s traffic reaches its target through isp2');
  lab.ip(lab.r, '-6', 'rule', 'del', 'priority', '500');
  const t0 = Date.now();
  while (!/^500:/m.test(lab.ip(lab.r, '-6', 'rule', 'show'))) {
    if (Date.now() - t0 > 3000) throw new Error('the IPv6 rule was not put back within 3 s');
    await sleep(50);
  }
});
