// Traffic policies against the real kernel: a LAN of 16 hosts behind the haip router, masquerade per
// uplink, ISPs that drop what is not from their customer. `spread` balances the hosts over both uplinks
// and keeps each on its own; a dead uplink's hosts move within the detection time and exactly they come
// back; `voip` prefers isp2 (the standby for the default route) and fails over and back; `no-lte` never
// leaks through isp2; the router's own traffic obeys a rule. Each host's uplink is read from the
// router's conntrack: the reply goes to the masqueraded address of the uplink its connection left by.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Haip, Lab, SERVER, sleep, within } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
/** down x interval: silence takes a link down this long after its last answer. */
const DETECTION_MS = 1500;
const HOSTS = Array.from({ length: 16 }, (_, i) => `198.18.200.${10 + i}`);
const NO_LTE_HOST = '198.18.200.70';
/** Only the no-lte host sends here: any packet to it at isp2 is a leak. */
const NO_LTE_DEST = '198.51.100.66';
/** Only the router itself sends here. */
const ROUTER_DEST = '198.51.100.77';
const UPLINK: Record<string, 1 | 2> = { '198.18.1.2': 1, '198.18.2.2': 2 };

const POLICIES = `damping: { penalty: 0 }
policies:
  - { name: spread, balance: [isp1, isp2] }
  - { name: voip, prefer: [isp2, isp1], failback: move }
  - { name: no-lte, prefer: [isp1] }
  - { name: own, prefer: [isp2] }
traffic:
  - { proto: udp, dport: 5060-5061, policy: voip }
  - { from: ${NO_LTE_HOST}, policy: no-lte }
  - { to: ${ROUTER_DEST}, policy: own }
  - { from: 198.18.200.0/24, policy: spread }
`;

describe('traffic policies (lab)', () => {
  let lab: Lab;
  let haip: Haip;
  let round = 0;
  /** Packets each ISP forwards from its customer to [NO_LTE_DEST, ROUTER_DEST]. */
  let at: Record<1 | 2, () => number[]>;

  before(async () => {
    lab = Lab.create({ lan: true });
    for (const h of [...HOSTS, NO_LTE_HOST]) lab.ip(lab.lan, 'addr', 'add', `${h}/24`, 'dev', 'eth0');
    // A fresh destination per round: each round's pings are new connections, told apart in conntrack.
    for (let d = 100; d < 200; d++) lab.ip(lab.inet, 'addr', 'add', `198.51.100.${d}/32`, 'dev', 'lo');
    for (const d of [NO_LTE_DEST, ROUTER_DEST]) lab.ip(lab.inet, 'addr', 'add', `${d}/32`, 'dev', 'lo');
    // The admin's NAT for the router's own traffic that a policy sends out of the other uplink.
    lab.nft(lab.r, 'table ip haiplabown { chain post { type nat hook postrouting priority srcnat; policy accept; oifname "eth2" ip saddr 198.18.1.2 masquerade; }; }\n');
    at = { 1: lab.countAtIsp(1, [`ip daddr ${NO_LTE_DEST}`, `ip daddr ${ROUTER_DEST}`]), 2: lab.countAtIsp(2, [`ip daddr ${NO_LTE_DEST}`, `ip daddr ${ROUTER_DEST}`]) };
    const cfg = lab.writeConfig(lab.configYaml(FAST, `${POLICIES}metrics_file: ${lab.dir}/state/haip.prom\nmetrics_interval: 1s\n`));
    haip = lab.startHaip(['run', '-c', cfg, '-vv']);
    await haip.waitFor(/notice: ready:/, 10_000);
    await haip.waitFor(/policy spread: /, 5000).catch(() => undefined);
  });
  after(() => lab?.destroy());

  /** Every host pings this round's destination once; each host's uplink (1, 2) or 0 when it got no answer. */
  function pingRound(hosts = HOSTS): Map<string, number> {
    const dest = `198.51.100.${100 + (round++ % 100)}`;
    const script = hosts.map((h) => `(ping -n -q -c1 -W0.5 -I ${h} ${dest} >/dev/null 2>&1 && echo ok ${h}) &`).join(' ') + ' wait';
    const out = lab.exec(lab.lan, 'sh', '-c', script);
    const answered = new Set([...out.matchAll(/^ok (\S+)$/gm)].map((m) => m[1]));
    const ct = lab.exec(lab.r, 'conntrack', '-L', '-f', 'ipv4', '-p', 'icmp', '-d', dest);
    const result = new Map<string, number>();
    for (const h of hosts) {
      const line = ct.split('\n').find((l) => l.includes(`src=${h} `));
      const masq = line && /src=\S+ dst=(\S+) type=0/.exec(line)?.[1];
      result.set(h, answered.has(h) && masq ? (UPLINK[masq] ?? -1) : 0);
    }
    return result;
  }

  const onLink = (m: Map<string, number>, i: number) => [...m].filter(([, l]) => l === i).map(([h]) => h);
  let first: Map<string, number>;

  it('spread puts 4 to 12 of 16 hosts on each uplink, each host keeps its uplink, and haip which agrees', () => {
    first = pingRound();
    assert.deepEqual(onLink(first, 0), [], 'every host answered');
    const n1 = onLink(first, 1).length;
    assert.ok(n1 >= 4 && n1 <= 12, `isp1 carries ${n1} hosts, isp2 ${16 - n1}`);
    for (let r = 0; r < 3; r++) assert.deepEqual(pingRound(), first, `round ${r + 2}`);
    for (const h of HOSTS.slice(0, 6)) {
      const which = lab.cli('which', '--state-dir', `${lab.dir}/state`, '--from', h, '--to', SERVER, '--proto', 'tcp', '--dport', '443');
      assert.equal(which.status, 0, which.stderr);
      assert.match(which.stdout, new RegExp(`^uplink: isp${first.get(h)} `, 'm'), which.stdout);
    }
  });

  /** Each test starts where the config puts things: both ISPs forwarding, the default route on isp1. */
  async function baseline() {
    lab.healIsp(1);
    lab.healIsp(2);
    lab.farEnd(1, true);
    await lab.waitForDefault('eth1', 15_000);
  }

  it('a dead uplink\'s hosts move within the detection time, and exactly they come back when it returns', async (t) => {
    t.after(baseline);
    const on1 = onLink(first, 1);
    const since = Date.now();
    lab.dropAtIsp(1);
    let moved = -1;
    // The default route is on isp1 too: its switch is the detection time the hosts are measured against.
    let switched = -1;
    const watch = setInterval(() => {
      if (switched < 0 && lab.defaultDev() === 'eth2') switched = Date.now() - since;
    }, 20);
    for (;;) {
      // A round's pings leave when it starts (each one packet): that is when its answers were asked for.
      const start = Date.now();
      const now = pingRound();
      // A host on isp2 never moves because isp1 failed.
      for (const h of onLink(first, 2)) assert.equal(now.get(h), 2, `${h} stayed on isp2`);
      if (on1.every((h) => now.get(h) === 2)) {
        moved = start - since;
        break;
      }
      assert.ok(Date.now() - since < DETECTION_MS + 3000, `isp1's hosts still not on isp2: ${JSON.stringify([...now])}`);
      await sleep(100);
    }
    const seen = haip.output();
    assert.match(seen, /link isp1 \(eth1\): up -> down/);
    clearInterval(watch);
    assert.ok(switched > 0 && moved <= switched + 1000, `hosts moved after ${moved} ms, the default route after ${switched} ms`);
    const back = Date.now();
    lab.healIsp(1);
    for (;;) {
      const now = pingRound();
      for (const h of onLink(first, 2)) assert.equal(now.get(h), 2, `${h} stayed on isp2 while isp1 returned`);
      if (on1.every((h) => now.get(h) === 1)) break;
      assert.ok(Date.now() - back < 8000, `isp1's hosts not back: ${JSON.stringify([...now])}`);
      await sleep(100);
    }
    assert.deepEqual(pingRound(), first, 'exactly the hosts that left came back');
    process.stderr.write(`# spread: ${on1.length} hosts on isp1 answered through isp2 ${moved} ms after its silent loss began (the default route moved after ${switched} ms; timed from the start of the first round answered through isp2)\n`);
  });

  it('voip prefers isp2 (the standby for the default route), fails over to isp1, and moves back (failback: move)', async (t) => {
    t.after(baseline);
    // An RTP-like stream: one UDP packet every 50 ms from a fixed port, one conntrack entry.
    const sender = lab.spawnIn(lab.lan, [
      process.execPath,
      '-e',
      `const s = require('node:dgram').createSocket('udp4'); s.bind(40000, '${HOSTS[0]}', () => setInterval(() => s.send('rtp', 5060, '${SERVER}'), 50));`,
    ]);
    try {
      const uplink = () => {
        const ct = lab.exec(lab.r, 'conntrack', '-L', '-f', 'ipv4', '-p', 'udp', '--dport', '5060');
        const masq = /sport=40000 dport=5060 (?:\[UNREPLIED\] )?src=\S+ dst=(\S+)/.exec(ct)?.[1];
        return masq ? UPLINK[masq] : 0;
      };
      await within(3000, 'the voip flow on isp2', () => uplink() === 2);
      assert.equal(lab.defaultDev(), 'eth1', 'the default route stays on isp1');
      const since = Date.now();
      lab.dropAtIsp(2);
      const over = await within(DETECTION_MS + 3000, 'the voip flow on isp1', () => uplink() === 1, since);
      lab.healIsp(2);
      const healed = Date.now();
      const backAfter = await within(8000, 'the voip flow back on isp2', () => uplink() === 2, healed);
      await haip.waitFor(/policy voip: isp2 is back \(failback: move\): flushed its \d+ connection\(s\) on isp1/, 2000);
      process.stderr.write(`# voip: on isp1 ${over} ms after isp2's loss began; back on isp2 ${backAfter} ms after it healed\n`);
    } finally {
      sender.signal('SIGKILL');
    }
  });

  it('no-lte never leaks through isp2 while isp1 is down, and resumes on isp1', async (t) => {
    t.after(baseline);
    const count1 = at[1];
    const count2 = at[2];
    const pinger = lab.spawnIn(lab.lan, ['ping', '-n', '-i', '0.1', '-I', NO_LTE_HOST, NO_LTE_DEST]);
    try {
      await within(3000, 'no-lte pings at isp1', () => count1()[0] > 5);
      // Carrier loss: haip empties isp1's table at once, the hardest case for a leak.
      lab.farEnd(1, false);
      await haip.waitFor(/link isp1 \(eth1\): up -> down/, 5000, haip.lines.length - 1).catch(() => undefined);
      await lab.waitForDefault('eth2', 5000);
      await sleep(3000);
      assert.equal(count2()[0], 0, 'no packet of no-lte reached isp2');
      const refused = lab.exec(lab.r, 'ip', 'rule', 'show');
      assert.match(refused, /fwmark 0x[0-9a-f]+\/0xff unreachable proto 72/);
      lab.farEnd(1, true);
      const before1 = count1()[0];
      await within(10_000, 'no-lte pings at isp1 again', () => count1()[0] > before1 + 5);
      assert.equal(count2()[0], 0, 'still nothing at isp2');
    } finally {
      pinger.signal('SIGKILL');
    }
  });

  it('the router\'s own traffic obeys a rule: pings to the own policy\'s destination leave by isp2', async () => {
    await lab.waitForDefault('eth1', 10_000);
    lab.exec(lab.r, 'ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1', ROUTER_DEST);
    assert.equal(at[2]()[1], 3, 'three echoes through isp2');
    assert.equal(at[1]()[1], 0, 'none through isp1, which carries the default route');
  });

  it('haip status shows each policy, its usable links and connections per link; the metrics carry them', async () => {
    const st = lab.cli('status', '--state-dir', `${lab.dir}/state`);
    assert.match(st.stdout, /^policy spread \(balance by source, last resort default\): buckets isp1 32, isp2 32; usable: isp1, isp2$/m, st.stdout);
    assert.match(st.stdout, /^policy voip \(prefer, last resort default\): uses isp2; usable: isp2, isp1$/m);
    assert.match(st.stdout, /^ {2}connections: isp1 \d+, isp2 \d+$/m);
    const json = JSON.parse(lab.cli('status', '--json', '--state-dir', `${lab.dir}/state`).stdout);
    assert.equal(json.policies.policies.length, 4);
    const prom = readFileSync(`${lab.dir}/state/haip.prom`, 'utf8');
    assert.match(prom, /^haip_policy_link_connections\{policy="spread",link="isp1"\} \d+$/m);
  });

  it('a reload with bad policies is refused at FILE:LINE:COL and keeps the running table and rules', async () => {
    const before = lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip');
    const rules = lab.rules();
    const cfg = `${lab.dir}/haip.yaml`;
    lab.writeConfig(readFileSync(cfg, 'utf8').replace('balance: [isp1, isp2]', 'balance: [isp1, isp3]').replace('dport: 5060-5061', 'dport: 5061-5060'));
    const from = haip.lines.length;
    haip.signal('SIGHUP');
    await haip.waitFor(/reload refused, keeping the running config: 2 problem/, 5000, from);
    await haip.waitFor(/haip\.yaml:\d+:\d+: policies\[0\]\.balance\[1\]: unknown link "isp3"/, 1000, from);
    await haip.waitFor(/haip\.yaml:\d+:\d+: traffic\[0\]\.dport: the range 5061-5060 is upside down/, 1000, from);
    await sleep(500);
    assert.equal(lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip'), before);
    assert.equal(lab.rules(), rules);
  });
});

describe('traffic policies for IPv6 (lab)', () => {
  const HOSTS6 = Array.from({ length: 16 }, (_, i) => `fd00:200::${(0x10 + i).toString(16)}`);
  const UPLINK6: Record<string, 1 | 2> = { '2001:db8:1::2': 1, '2001:db8:2::2': 2 };
  let lab: Lab;
  let haip: Haip;
  let round = 0;

  before(async () => {
    lab = Lab.create({ lan: true });
    lab.enableIPv6([]);
    lab.enableLan6();
    for (const h of HOSTS6) lab.ip(lab.lan, '-6', 'addr', 'add', `${h}/64`, 'dev', 'eth0', 'nodad');
    for (let d = 0x100; d < 0x140; d++) lab.ip(lab.inet, '-6', 'addr', 'add', `2001:db8:ff::${d.toString(16)}/128`, 'dev', 'lo');
    const probe = '{ targets: [203.0.113.1, 203.0.113.2, "2001:db8:ff::1", "2001:db8:ff::2"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
    const cfg = lab.writeConfig(
      lab
        .configYaml(probe, 'damping: { penalty: 0 }\npolicies:\n  - { name: spread, balance: [isp1, isp2] }\ntraffic:\n  - { from: "fd00:200::/64", policy: spread }\n')
        .replace('gateway: 198.18.1.1 }', 'gateway: 198.18.1.1, gateway6: "fe80::1" }')
        .replace('gateway: 198.18.2.1 }', 'gateway: 198.18.2.1, gateway6: "fe80::2" }'),
    );
    haip = lab.startHaip(['run', '-c', cfg, '-vv']);
    await haip.waitFor(/notice: ready:/, 10_000);
  });
  after(() => lab?.destroy());

  function pingRound6(): Map<string, number> {
    const dest = `2001:db8:ff::${(0x100 + (round++ % 0x40)).toString(16)}`;
    const script = HOSTS6.map((h) => `(ping -6 -n -q -c1 -W0.5 -I ${h} ${dest} >/dev/null 2>&1 && echo ok ${h}) &`).join(' ') + ' wait';
    const answered = new Set([...lab.exec(lab.lan, 'sh', '-c', script).matchAll(/^ok (\S+)$/gm)].map((m) => m[1]));
    const ct = lab.exec(lab.r, 'conntrack', '-L', '-f', 'ipv6', '-p', 'icmpv6', '-d', dest);
    return new Map(
      HOSTS6.map((h) => {
        const masq = ct.split('\n').find((l) => l.includes(`src=${h} `))?.match(/src=\S+ dst=(\S+) type=129/)?.[1];
        return [h, answered.has(h) && masq ? (UPLINK6[masq] ?? -1) : 0];
      }),
    );
  }

  it('spreads IPv6 hosts over both uplinks and moves only a dead uplink\'s hosts, per family', async () => {
    const first = pingRound6();
    const on = (i: number) => [...first].filter(([, l]) => l === i).map(([h]) => h);
    assert.deepEqual(on(0), [], 'every IPv6 host answered');
    assert.ok(on(1).length >= 4 && on(1).length <= 12, `isp1 carries ${on(1).length} IPv6 hosts`);
    assert.deepEqual(pingRound6(), first, 'each host keeps its uplink');
    const since = Date.now();
    lab.dropFamilyAtIsp(1, 6);
    await within(6000, 'isp1\'s IPv6 hosts on isp2', () => {
      const now = pingRound6();
      for (const h of on(2)) assert.equal(now.get(h), 2, `${h} stayed on isp2`);
      return on(1).every((h) => now.get(h) === 2);
    }, since, 100);
    const moved = Date.now() - since;
    assert.match(haip.output(), /policy spread \(IPv6\): isp1 32\/64, isp2 32\/64 -> isp2 64\/64/);
    assert.doesNotMatch(haip.output(), /policy spread: isp1 32\/64, isp2 32\/64 -> /, 'IPv4\'s decision did not change');
    lab.healIsp(1);
    await within(8000, 'isp1\'s IPv6 hosts back', () => {
      const now = pingRound6();
      return [...first].every(([h, l]) => now.get(h) === l);
    }, Date.now(), 100);
    process.stderr.write(`# spread IPv6: ${on(1).length} hosts on isp1 answered through isp2 ${moved} ms after its IPv6 loss began, and came back\n`);
  });
});
