// Replies by the arrival uplink against the real kernel (issue 20): connections from the internet to the
// standby uplink (isp2) while the primary (isp1) carries the default route, with strict reverse-path
// filtering (rp_filter=1) in the router and ISPs that drop every source that is not their customer's
// (BCP 38). A service on the router itself (on the uplink's address and on a second address of the
// ISP's subnet) and a port forward to a LAN host (the test's own DNAT, as an admin writes it), IPv4 and
// IPv6, sticky off and on; and a long inbound connection across the primary's failure and recovery.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Haip, LAN_HOST6, Lab, sleep } from './lab';

const PROBE = '{ targets: [203.0.113.1, 203.0.113.2, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const SERVICE = '7000';
const FORWARDED = '8022';
const SRC_VALID_MARK = 'net.ipv4.conf.all.src_valid_mark';

type T = { after(fn: () => void): void; diagnostic(s: string): void };

/** Where a client in the internet connects to, through isp2, and what answers there. */
const TARGETS: { name: string; host: string; port: string }[] = [
  { name: 'router service on isp2\'s address', host: '198.18.2.2', port: SERVICE },
  { name: 'router service on a second address of isp2\'s subnet', host: '198.18.2.3', port: SERVICE },
  { name: 'router service over IPv6', host: '2001:db8:2::2', port: SERVICE },
  { name: 'port forward to the LAN host', host: '198.18.2.2', port: FORWARDED },
  { name: 'port forward to the LAN host over IPv6', host: '2001:db8:2::2', port: FORWARDED },
];

async function startLab(t: T, sticky: boolean) {
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  lab.enableIPv6([]);
  lab.enableLan6();
  // Strict reverse-path filtering, as hardening guides want it; per network namespace, the router's only.
  for (const k of ['net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.default.rp_filter=1', `${SRC_VALID_MARK}=0`]) lab.exec(lab.r, 'sysctl', '-qw', k);
  lab.ip(lab.r, 'addr', 'add', '198.18.2.3/24', 'dev', 'eth2');
  // The services: one on the router (both families), one on the LAN host behind port forwards on eth2.
  const servers = [lab.spawnNode(lab.r, 'tcpPeer', ['server', '::', SERVICE]), lab.spawnNode(lab.lan, 'tcpPeer', ['server', '::', '8080'])];
  for (const s of servers) await s.waitFor(/^listening$/, 5000);
  lab.portForward(2, Number(FORWARDED), 8080);
  lab.nft(lab.r, `table ip6 haiplabdnat6 { chain prerouting { type nat hook prerouting priority dstnat; policy accept; iifname "eth2" tcp dport ${FORWARDED} dnat to [${LAN_HOST6}]:8080; }; }\n`);
  const cfg = lab.writeConfig(
    `sticky: ${sticky}\nprobe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const check = lab.cli('check', '-c', cfg);
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault('eth1', 3000);
  await lab.waitForDefault6('eth1', 3000);
  return { lab, haip, cfg, check: check.stdout + check.stderr };
}

/** A client in the internet connected to host:port (through isp2); rejects when the handshake never completes. */
async function connect(lab: Lab, host: string, port: string): Promise<Haip> {
  const c = lab.spawnNode(lab.inet, 'tcpPeer', ['client', host, port]);
  await c.waitFor(/^connected \d+$|^error /, 3000).then((line) => {
    if (line.startsWith('error')) throw new Error(`${host} port ${port}: ${line}`);
  });
  return c;
}

/** Sends a word and waits for its echo; the address the server saw. */
async function say(c: Haip, word: string, timeoutMs = 2000): Promise<string> {
  const from = c.lines.length;
  c.send(word);
  const line = await c.waitFor(new RegExp(`^reply ${word} from |^error |^closed$`), timeoutMs, from);
  const m = /^reply \S+ from (.+):\d+$/.exec(line);
  if (!m) throw new Error(`${word}: ${line}`);
  return m[1];
}

/** Each target: connected and answered; the first failure's reason, or null. */
async function reachEach(lab: Lab, t: T): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  for (const { name, host, port } of TARGETS) {
    try {
      const c = await connect(lab, host, port);
      await say(c, 'hello');
      t.diagnostic(`${name}: answered`);
    } catch (err) {
      failed.set(name, (err as Error).message);
      t.diagnostic(`${name}: ${(err as Error).message}`);
    }
  }
  return failed;
}

function forgedDrops(lab: Lab): number {
  return lab.spoofDrops(1) + lab.bcp38Drops6(1);
}

/** The long connection: opened through the standby, carried across isp1's failure and its recovery. */
async function acrossFailover(lab: Lab, haip: Haip, t: T) {
  const longs = [
    { name: 'port forward', c: await connect(lab, '198.18.2.2', FORWARDED) },
    { name: 'router service', c: await connect(lab, '198.18.2.3', SERVICE) },
    { name: 'port forward over IPv6', c: await connect(lab, '2001:db8:2::2', FORWARDED) },
  ];
  for (const { c } of longs) await say(c, 'before');
  const sayAll = async (word: string) => {
    for (const { name, c } of longs) {
      const t0 = Date.now();
      await say(c, word, 3000).catch((err: Error) => assert.fail(`${name}, ${word}: ${err.message}`));
      t.diagnostic(`${name} answered ${word} in ${Date.now() - t0} ms`);
    }
  };
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
  await haip.waitFor(/switch: default route isp1 .* -> isp2 /, 3000);
  await sayAll('failedover');
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
  await haip.waitFor(/switch: default route isp2 .* -> isp1 /, 3000);
  await sayAll('back');
  assert.match(lab.exec(lab.r, 'conntrack', '-L', '-p', 'tcp', '--orig-port-dst', FORWARDED), /mark=2\b/, 'marked for the uplink it arrived on');
}

for (const sticky of [false, true])
  test(`sticky: ${sticky}, rp_filter=1: connections through the standby uplink are answered through it, and survive a failover and back`, async (t) => {
    const { lab, haip, cfg, check } = await startLab(t, sticky);
    const failed = await reachEach(lab, t);
    assert.deepEqual([...failed], [], 'every service reached through the standby answers');
    assert.equal(forgedDrops(lab), 0, 'nothing was sent by isp1 from isp2\'s addresses');
    await acrossFailover(lab, haip, t);
    assert.equal(forgedDrops(lab), 0);

    // haip set what strict filtering needs, said so once, and haip check told it beforehand.
    assert.match(check, /rp_filter: 1 on eth1 \(isp1\), eth2 \(isp2\): strict \(1\) drops marked replies while net\.ipv4\.conf\.all\.src_valid_mark=0; haip sets/);
    assert.equal(lab.exec(lab.r, 'sysctl', '-n', SRC_VALID_MARK).trim(), '1');
    assert.equal(haip.lines.filter((l) => l.includes(`set ${SRC_VALID_MARK}=1 (was 0)`)).length, 1, haip.output());
    const mark = haip.lines.length;
    haip.signal('SIGHUP');
    await haip.waitFor(/reload/i, 5000, mark);
    await sleep(500);
    assert.equal(haip.lines.slice(mark).filter((l) => l.includes(SRC_VALID_MARK)).length, 0, 'a reload with it set says nothing');
    assert.match(lab.cli('check', '-c', cfg).stdout, /rp_filter: 1 on .*: src_valid_mark is on, so replies by the arrival uplink pass/);

    // Stop keeps it (routing keeps working); flush sets it back with the rest.
    assert.equal(await haip.stop(), 0);
    const flush = lab.cli('flush', '-c', cfg);
    assert.equal(flush.status, 0, flush.stderr);
    assert.match(flush.stdout + flush.stderr, /flush: net\.ipv4\.conf\.all\.src_valid_mark=0 \(set back\)/);
    assert.equal(lab.exec(lab.r, 'sysctl', '-n', SRC_VALID_MARK).trim(), '0');
  });
