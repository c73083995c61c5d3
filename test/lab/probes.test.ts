// Probes that see what users see, against the real kernel: an ISP that drops ICMP is judged by TCP, HTTP
// and DNS probes to real servers (a node TCP/HTTP server and dnsmasq in the lab's internet), and every
// kind leaves by its own link even when a route in main would take it elsewhere, or when both links
// have the same address behind identical home routers.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Haip, identicalRouters, Lab, sleep } from './lab';
import type { StatusDoc } from '../../src/status';

const WEB = '203.0.113.1';
const DNS = '203.0.113.2';
const KINDS = [`tcp://${WEB}:7000`, `http://${WEB}:8080/ok host=probe.example`, `dns://${DNS}/probe.example`];
const probeYaml = (targets: string[], quorum = targets.length, extra = '') =>
  `{ targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}], quorum: ${quorum}, interval: 500ms, timeout: 500ms, down: 3, up: 3${extra} }`;

/** The TCP/HTTP server and dnsmasq in the internet namespace; their logs say who asked. */
async function startServices(lab: Lab): Promise<{ web: Haip; dns: Haip }> {
  const web = lab.spawnNode(lab.inet, 'probeServers', [WEB, '7000', '8080']);
  await web.waitFor(/^listening/, 5000);
  // dnsmasq inside the namespace only: no config file, no daemonising, its pid file in the lab's dir.
  const dns = lab.spawnIn(lab.inet, [
    'dnsmasq', '-k', '--conf-file=/dev/null', `--pid-file=${join(lab.dir, 'dnsmasq.pid')}`, '--log-facility=-', '--log-queries',
    `--listen-address=${DNS}`, '--bind-interfaces', '--port=53', '--no-resolv', '--no-hosts', '--address=/probe.example/198.51.100.77',
  ]);
  await dns.waitFor(/started, version/, 5000);
  return { web, dns };
}

/** The ISP forwards everything but ICMP, as some LTE and business lines do. */
function dropIcmpAtIsp(lab: Lab, i: number) {
  lab.nft(lab.isp(i), 'table inet haiplabicmp { chain forward { type filter hook forward priority -5; policy accept; meta l4proto icmp drop; }; }\n');
}

function status(lab: Lab): StatusDoc {
  return JSON.parse(readFileSync(join(lab.dir, 'state', 'status.json'), 'utf8'));
}

function linkState(lab: Lab, name: string): string {
  return status(lab).links.find((l) => l.name === name)!.state;
}

test('an ISP that drops ICMP: pings keep it down, TCP, HTTP and DNS probes bring it up, and still see it die', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const { web, dns } = await startServices(lab);
  dropIcmpAtIsp(lab, 1);

  // What admins get today: the link works for every user but never comes up.
  const icmp = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probeYaml(['203.0.113.1', '203.0.113.2'], 1)), 'icmp.yaml'), '-v']);
  await icmp.waitFor(/notice: ready:/, 10_000);
  await sleep(1500);
  assert.equal(linkState(lab, 'isp1'), 'down');
  assert.equal(lab.defaultRoute(), 'eth2 via 198.18.2.1');
  await icmp.stop();

  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probeYaml(KINDS))), '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  await sleep(1500);
  const doc = status(lab);
  const isp1 = doc.links.find((l) => l.name === 'isp1')!;
  assert.equal(isp1.state, 'up', JSON.stringify(isp1));
  for (const target of isp1.targets) assert.ok(target.rtt_ms !== null && target.rtt_ms < 500, `${target.address}: ${JSON.stringify(target)}`);
  // Every kind reached its server from isp1's address (and isp2's from its own).
  for (const src of ['198.18.1.2', '198.18.2.2']) {
    await web.waitFor(new RegExp(`^tcp ${src.replace(/\./g, '\\.')}$`), 2000);
    await web.waitFor(new RegExp(`^http ${src.replace(/\./g, '\\.')} /ok probe\\.example$`), 2000);
    await dns.waitFor(new RegExp(`query\\[A\\] probe\\.example from ${src.replace(/\./g, '\\.')}`), 2000);
  }

  let t0 = Date.now();
  lab.dropAtIsp(1);
  const failover = await lab.waitForDefault('eth2', 6000, t0);
  await haip.waitFor(/link isp1 \(eth1\): up -> down: 3 failed probe rounds in a row: 0\/3 targets answered/);
  t0 = Date.now();
  lab.healIsp(1);
  const failback = await lab.waitForDefault('eth1', 6000, t0);
  t.diagnostic(`ICMP-filtered ISP on TCP/HTTP/DNS probes: failover ${failover} ms, failback ${failback} ms (interval 500ms, timeout 500ms, down 3, up 3)`);
  console.log(`# figures: icmp-filtered failover_ms=${failover} failback_ms=${failback}`);
  assert.ok(failover <= 3000, `failover took ${failover} ms`);
  assert.ok(failback <= 3000, `failback took ${failback} ms`);
  assert.equal(await haip.stop(), 0);
});

test('HTTP must answer 2xx or 3xx, and DNS must answer with records: a 503 and NXDOMAIN are failures', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  await startServices(lab);
  const yaml = lab.configYaml(probeYaml([`http://${WEB}:8080/moved`, `dns://${DNS}/probe.example`]), '').replace(
    'gateway: 198.18.2.1 }',
    `gateway: 198.18.2.1, probe: ${probeYaml([`http://${WEB}:8080/broken`, `dns://${DNS}/nothing.invalid`], 1)} }`,
  );
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(yaml), '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await sleep(1500);
  assert.equal(linkState(lab, 'isp1'), 'up');
  assert.equal(linkState(lab, 'isp2'), 'down');
  await haip.waitFor(/probe isp2: 0\/2 targets answered/);
});

test('each kind leaves by its own link: a route in main that covers the targets does not take the probes along', async (t) => {
  // The ISPs drop what comes from an address that is not their customer's (lan: true), so a probe from
  // isp1's address that leaves by eth2 is lost, as it is in the field.
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  const { web } = await startServices(lab);
  // An admin's static route (or DHCP option 121) in main: `lookup main suppress_prefixlength 0` sees it first.
  lab.ip(lab.r, 'route', 'add', '203.0.113.0/24', 'via', '198.18.2.1', 'dev', 'eth2');
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probeYaml(KINDS))), '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await sleep(2000);
  assert.equal(linkState(lab, 'isp1'), 'up', haip.output());
  assert.equal(linkState(lab, 'isp2'), 'up');
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  assert.ok(lab.spoofDrops(2) === 0, `isp2 dropped ${lab.spoofDrops(2)} packets from isp1's address`);
  await web.waitFor(/^http 198\.18\.1\.2 \/ok/, 1000);
  // And it still sees isp1 die, instead of probing through isp2.
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
});

test('each kind leaves by its own link with identical home routers (same subnet, gateway and address): both ISPs see their own TCP, HTTP and DNS probes', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  await startServices(lab);
  identicalRouters(lab);
  // What each ISP forwards from its customer, per kind: TCP connects to 7000, to 8080, DNS queries.
  const kinds = ['tcp dport 7000 tcp flags syn', 'tcp dport 8080 tcp flags syn', 'udp dport 53'];
  const isps = [lab.countAtIsp(1, kinds), lab.countAtIsp(2, kinds)];
  const counts = (i: number) => isps[i - 1]();
  const yaml = lab.configYaml(probeYaml(KINDS)).replace(/gateway: 198\.18\.\d\.1/g, 'gateway: 198.18.100.1');
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(yaml), '-vv']);
  await haip.waitFor(/notice: ready:.*isp1 up.*isp2 up/, 10_000);
  const [a1, a2] = [counts(1), counts(2)];
  await sleep(2000);
  const [b1, b2] = [counts(1).map((n, k) => n - a1[k]), counts(2).map((n, k) => n - a2[k])];
  console.log(`# figures: identical_subnets tcp/http/dns probes in 2 s: isp1 ${b1.join('/')}, isp2 ${b2.join('/')}`);
  for (const [i, b] of [[1, b1], [2, b2]] as const) assert.ok(b.every((n) => n > 0), `isp${i} sees every kind of its own link's probes (tcp/http/dns): ${b.join('/')}`);
  const from = haip.lines.length;
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
  assert.equal(lab.defaultRoute(), 'eth2 via 198.18.100.1');
  await sleep(2000);
  assert.doesNotMatch(haip.lines.slice(from).join('\n'), /link isp2 \(eth2\): up -> down/, 'isp2 stays up');
  assert.equal(linkState(lab, 'isp2'), 'up');
});

/**
 * Queueing delay at isp<i> without netem: what the customer sends is routed into a tun device whose
 * reader (delayRelay.ts) writes each packet back `ms` later. Node cannot attach a tun device (no ioctl),
 * so perl opens it and execs node with the descriptor.
 */
async function delayAtIsp(lab: Lab, i: number, ms: number): Promise<Haip> {
  const attach = 'use Fcntl; open(my $t, "+<", "/dev/net/tun") or die "tun: $!"; my $ifr = pack("Z16 s", "tdelay", 0x1001); ioctl($t, 0x400454ca, $ifr) or die "TUNSETIFF: $!"; fcntl($t, F_SETFD, 0); exec(map { $_ eq "FD" ? fileno($t) : $_ } @ARGV) or die "exec: $!";';
  const relay = lab.spawnIn(lab.isp(i), ['perl', '-e', attach, process.execPath, join(__dirname, 'delayRelay.js'), 'FD', String(ms)]);
  await relay.waitFor(/^relaying/, 5000);
  lab.ip(lab.isp(i), 'link', 'set', 'tdelay', 'up');
  lab.ip(lab.isp(i), 'route', 'add', 'default', 'dev', 'tdelay', 'table', '100');
  lab.ip(lab.isp(i), 'rule', 'add', 'iif', 'wan', 'lookup', '100', 'priority', '100');
  return relay;
}

/** A hook that writes each event it sees to DIR/hooks.log. */
function recordingHook(lab: Lab): string {
  const dir = join(lab.dir, 'hooks.d');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'record'), `#!/bin/sh\necho "$HAIP_EVENT $HAIP_LINK $HAIP_STATE $HAIP_PREVIOUS" >> ${lab.dir}/hooks.log\n`);
  chmodSync(join(dir, 'record'), 0o755);
  return join(lab.dir, 'hooks.log');
}

const hookLines = (file: string) => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n');
  } catch {
    return [];
  }
};

test('queueing delay beyond max_rtt: the link is degraded, the route moves, and comes back when the queue drains', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const hooks = recordingHook(lab);
  const relay = await delayAtIsp(lab, 1, 10);
  const probe = `{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 1s, down: 3, up: 3, max_rtt: 150ms, quality_window: 5s }`;
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probe)), '-v']);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  await sleep(3000);
  assert.equal(linkState(lab, 'isp1'), 'up');

  let t0 = Date.now();
  relay.send('delay 400');
  const moved = await lab.waitForDefault('eth2', 10_000, t0);
  const line = await haip.waitFor(/link isp1 \(eth1\): up -> degraded: /);
  assert.match(line, /warning: link isp1 \(eth1\): up -> degraded: median RTT \d+ ms > max_rtt 150 ms over the last 5 s$/);
  await haip.waitFor(/warning: switch: default route isp1 .* -> isp2 .*: isp1 is degraded \(median RTT/);
  const doc = status(lab).links.find((l) => l.name === 'isp1')!;
  assert.equal(doc.state, 'degraded');
  assert.ok(doc.quality && doc.quality.median_rtt_ms! > 150 && doc.quality.max_rtt_ms === 150, JSON.stringify(doc.quality));
  // Degraded, not down: the backup dying leaves the slow link better than none.
  lab.dropAtIsp(2);
  await lab.waitForDefault('eth1', 6000);
  await haip.waitFor(/switch: default route isp2 .* -> isp1 .*no link is within its quality limits; isp1 is degraded/);
  lab.healIsp(2);
  await lab.waitForDefault('eth2', 6000);

  t0 = Date.now();
  relay.send('delay 10');
  const back = await lab.waitForDefault('eth1', 10_000, t0);
  await haip.waitFor(/notice: link isp1 \(eth1\): degraded -> up: back within quality limits: loss .*, median RTT .* over the last 5 s/);
  t.diagnostic(`queueing delay 400 ms (max_rtt 150ms, quality_window 5s, interval 500ms): degraded and moved in ${moved} ms; back ${back} ms after the queue drained`);
  console.log(`# figures: max-rtt degraded_ms=${moved} back_ms=${back}`);
  assert.ok(moved <= 4000, `degrading took ${moved} ms`);
  assert.ok(back <= 6000, `recovery took ${back} ms`);
  await sleep(300);
  const events = hookLines(hooks);
  assert.ok(events.includes('link-degraded isp1 degraded up'), events.join('\n'));
  assert.ok(events.includes('link-up isp1 up degraded'), events.join('\n'));
});

test('random loss beyond max_loss: degraded, not down, and back once the loss stops', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const probe = `{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3, max_loss: 20%, quality_window: 5s }`;
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probe)), '-v']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await sleep(3000);
  assert.equal(linkState(lab, 'isp1'), 'up');
  let t0 = Date.now();
  lab.lossAtIsp(1, 30); // each way: about half the echoes lost
  const moved = await lab.waitForDefault('eth2', 10_000, t0);
  const line = await haip.waitFor(/link isp1 \(eth1\): up -> degraded: /);
  assert.match(line, /degraded: loss \d+% > max_loss 20% over the last 5 s$/);
  assert.ok(!haip.lines.some((l) => /isp1 \(eth1\): .* -> down/.test(l)), 'random loss must not take the link down');
  t0 = Date.now();
  lab.healIsp(1);
  const back = await lab.waitForDefault('eth1', 10_000, t0);
  t.diagnostic(`30% loss each way (max_loss 20%, quality_window 5s, interval 500ms): degraded and moved in ${moved} ms; back ${back} ms after the loss stopped`);
  console.log(`# figures: max-loss degraded_ms=${moved} back_ms=${back}`);
  assert.ok(moved <= 5000, `degrading took ${moved} ms`);
  assert.ok(back <= 6000, `recovery took ${back} ms`);
});

/**
 * isp1 turns into a captive portal: its upstream is gone, and its box answers the probe targets itself,
 * HTTP with a 302 to a login page and DNS with its own address for every name.
 */
async function captivePortal(lab: Lab) {
  const isp = lab.isp(1);
  const portal = lab.spawnNode(isp, 'portal', ['198.18.1.1', '8080']);
  await portal.waitFor(/^listening/, 5000);
  const dns = lab.spawnIn(isp, [
    'dnsmasq', '-k', '--conf-file=/dev/null', `--pid-file=${join(lab.dir, 'portal-dnsmasq.pid')}`, '--log-facility=-', '--log-queries',
    '--listen-address=198.18.1.1', '--bind-interfaces', '--port=53', '--no-resolv', '--no-hosts', '--address=/#/198.18.1.1',
  ]);
  await dns.waitFor(/started, version/, 5000);
  lab.nft(isp, `table ip haiplabportal { chain pre { type nat hook prerouting priority -100; policy accept;
    iifname "wan" tcp dport 8080 dnat to 198.18.1.1:8080
    iifname "wan" udp dport 53 dnat to 198.18.1.1:53
  }
}
`);
  lab.dropAtIsp(1);
  return { portal, dns };
}

test('a captive portal (HTTP 302, a lying DNS) keeps a dead link up without expectations, and takes it down with them', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  await startServices(lab);
  const plain = [`http://${WEB}:8080/ok`, `dns://${DNS}/probe.example`];
  const strict = [`http://${WEB}:8080/ok status=204`, `dns://${DNS}/probe.example answer=198.51.100.77`];
  const check = lab.cli('check', '-c', lab.writeConfig(lab.configYaml(probeYaml(strict, 1)), 'strict.yaml'));
  assert.match(check.stdout, /status=204: HTTP GET \/ok; counts when the status is 204/, check.stdout + check.stderr);
  assert.match(check.stdout, /counts only when one of them is 198\.51\.100\.77/);

  // What admins got before: the portal's answers count, and the dead link keeps the route.
  const before = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probeYaml(plain, 1)), 'plain.yaml'), '-vv']);
  await before.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault('eth1', 3000);
  const { portal } = await captivePortal(lab);
  await portal.waitFor(/^portal \/ok$/, 5000);
  await sleep(3000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1', 'without expectations the portal keeps isp1 up');
  await before.stop();

  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probeYaml(strict, 1)), 'strict.yaml'), '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault('eth2', 4000);
  const line = await haip.waitFor(/probe isp1: 0\/2 targets answered/, 3000);
  await sleep(600);
  const failures = status(lab).links.find((l) => l.name === 'isp1')!.targets.map((x) => x.failure);
  assert.deepEqual(failures, ['HTTP 302, expected 204', 'DNS answered 198.18.1.1, expected 198.51.100.77'], line);
  assert.equal(linkState(lab, 'isp1'), 'down');
  assert.equal(linkState(lab, 'isp2'), 'up');
});
