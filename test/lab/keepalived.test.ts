// A router pair: routers a and b, each with two uplinks and haip, share the LAN's gateway address
// 198.18.200.1 by VRRP (Debian's keepalived, tracking haip's STATE_DIR/healthy with track_file). When
// every uplink of the master dies, the gateway moves to the backup and the LAN host's traffic gets out
// again; when they return, it moves back. The timings are printed: uplinks dead -> health file 0 ->
// address on b -> the LAN host's first answer from the internet.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { HAIP_JS, Haip, Lab, SERVER, sleep } from './lab';

const VIP = '198.18.200.1';
const HOST = '198.18.200.10';
const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const RUNS = 3;

interface Router {
  name: string;
  ns: string;
  isps: [number, number];
  lanAddress: string;
  priority: number;
  dir: string;
  haip?: Haip;
  keepalived?: Haip;
}

function keepalivedConf(r: Router): string {
  return `global_defs {
  router_id haip-lab-${r.name}
}
track_file haip {
  file "${r.dir}/state/healthy"
  weight 50
}
vrrp_instance lan {
  state BACKUP
  interface lan0
  virtual_router_id 51
  priority ${r.priority}
  advert_int 1
  track_file {
    haip
  }
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

function haipConf(lab: Lab, r: Router): string {
  const [i, j] = r.isps;
  return `probe: ${FAST}
tables: { T1: 101, T2: 102 }
links:
  - { name: isp${i}, interface: eth1, weight: 1, table: T1, gateway: ${lab.gateway(i)} }
  - { name: isp${j}, interface: eth2, weight: 2, table: T2, gateway: ${lab.gateway(j)} }
state_dir: ${r.dir}/state
hooks_dir: ${r.dir}/hooks.d
rt_tables_file: ${r.dir}/rt_tables.d/haip.conf
rt_protos_file: ${r.dir}/rt_protos.d/haip.conf
`;
}

/** Two routers, each on two ISPs of its own (a: isp1, isp2; b: isp3, isp4), and a LAN bridge with a host. */
function buildPair(lab: Lab): Router[] {
  const routers: Router[] = [
    { name: 'a', ns: lab.r, isps: [1, 2], lanAddress: '198.18.200.2', priority: 100, dir: `${lab.dir}/a` },
    { name: 'b', ns: lab.name('rb'), isps: [3, 4], lanAddress: '198.18.200.3', priority: 90, dir: `${lab.dir}/b` },
  ];
  lab.addNs(routers[1].ns);
  lab.addUplink(3, true, routers[1].ns, 'eth1');
  lab.addUplink(4, true, routers[1].ns, 'eth2');
  // The LAN segment: a bridge in a namespace of its own, one port per router and one for the host.
  const br = lab.name('lanbr');
  lab.addNs(br);
  lab.ip(br, 'link', 'add', 'br0', 'type', 'bridge');
  lab.ip(br, 'link', 'set', 'br0', 'up');
  const port = (ns: string, dev: string, portName: string) => {
    lab.ip(ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', portName, 'netns', br);
    lab.ip(br, 'link', 'set', portName, 'master', 'br0');
    lab.ip(br, 'link', 'set', portName, 'up');
    lab.ip(ns, 'link', 'set', dev, 'up');
  };
  for (const r of routers) {
    port(r.ns, 'lan0', `p${r.name}`);
    lab.ip(r.ns, 'addr', 'add', `${r.lanAddress}/24`, 'dev', 'lan0');
    // The lab's NAT, as the admin would have it: the LAN masqueraded out of either uplink.
    lab.nft(r.ns, 'table ip haiplabnat { chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname { "eth1", "eth2" } ip saddr 198.18.200.0/24 masquerade; }; }\n');
    mkdirSync(`${r.dir}/state`, { recursive: true });
  }
  lab.addNs(lab.lan);
  port(lab.lan, 'eth0', 'ph');
  lab.ip(lab.lan, 'addr', 'add', `${HOST}/24`, 'dev', 'eth0');
  lab.ip(lab.lan, 'route', 'add', 'default', 'via', VIP);
  return routers;
}

const hasVip = (lab: Lab, r: Router) => lab.ip(r.ns, '-4', '-o', 'addr', 'show', 'dev', 'lan0').includes(` ${VIP}/24 `);
const health = (r: Router) => {
  try {
    return readFileSync(`${r.dir}/state/healthy`, 'utf8').trim();
  } catch {
    return 'missing';
  }
};
const mac = (lab: Lab, ns: string, dev: string) => JSON.parse(lab.ip(ns, '-j', 'link', 'show', 'dev', dev))[0].address as string;
/** The MAC the LAN host sends its gateway traffic to. */
const gatewayMac = (lab: Lab) => (JSON.parse(lab.ip(lab.lan, '-j', 'neigh', 'show', VIP))[0]?.lladdr as string | undefined) ?? '';

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (cond()) return Date.now();
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Wall-clock ms of each echo reply the LAN host got (ping -D), in order. */
function replies(ping: Haip): number[] {
  return ping.lines.flatMap((l) => {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from /.exec(l);
    return m ? [Math.round(Number(m[1]) * 1000)] : [];
  });
}

async function firstReplyAfter(ping: Haip, t: number, timeoutMs: number): Promise<number> {
  let at = 0;
  await until('the LAN host\'s traffic gets out', () => (at = replies(ping).find((r) => r > t) ?? 0) > 0, timeoutMs);
  return at;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('keepalived moves the LAN gateway to the backup router when every uplink of the master dies, and back when they return', async (t) => {
  const lab = Lab.create({ uplinks: 4, createUplinks: [1, 2] });
  const routers = buildPair(lab);
  const [a, b] = routers;
  t.after(async () => {
    // keepalived takes its address away and its VRRP child with it on SIGTERM.
    await Promise.all(routers.map((r) => r.keepalived?.stop()));
    await Promise.all(routers.map((r) => r.haip?.stop()));
    lab.destroy();
  });
  for (const r of routers) {
    const cfg = `${r.dir}/haip.yaml`;
    writeFileSync(cfg, haipConf(lab, r));
    r.haip = lab.spawnIn(r.ns, [process.execPath, HAIP_JS, 'run', '-c', cfg]);
  }
  for (const r of routers) await r.haip!.waitFor(/ready:/, 10_000);
  await until('both health files say 1', () => health(a) === '1' && health(b) === '1', 3000);
  for (const r of routers) {
    writeFileSync(`${r.dir}/keepalived.conf`, keepalivedConf(r));
    r.keepalived = lab.spawnIn(r.ns, [
      'keepalived', '--dont-fork', '--log-console', '--log-detail', '--no-syslog', '--vrrp',
      '-f', `${r.dir}/keepalived.conf`, '-p', `${r.dir}/keepalived.pid`, '-r', `${r.dir}/vrrp.pid`,
    ]);
  }
  await until('a holds the gateway address', () => hasVip(lab, a) && !hasVip(lab, b), 15_000);
  const ping = lab.spawnIn(lab.lan, ['ping', '-n', '-D', '-i', '0.1', '-W', '1', SERVER]);
  t.after(() => ping.stop());
  await firstReplyAfter(ping, Date.now(), 5000);
  assert.equal(gatewayMac(lab), mac(lab, a.ns, 'lan0'), 'the LAN host reaches the internet through a');

  const failover: { health: number; moved: number; out: number }[] = [];
  const failback: { health: number; moved: number }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const dead = Date.now();
    lab.dropAtIsp(1);
    lab.dropAtIsp(2);
    const h0 = await until('a\'s health file says 0', () => health(a) === '0', 10_000);
    const moved = await until('the gateway address moves to b', () => hasVip(lab, b) && !hasVip(lab, a), 15_000);
    const out = await firstReplyAfter(ping, h0, 10_000);
    assert.equal(health(b), '1');
    assert.equal(gatewayMac(lab), mac(lab, b.ns, 'lan0'), 'the LAN host now sends through b');
    failover.push({ health: h0 - dead, moved: moved - dead, out: out - dead });

    const back = Date.now();
    lab.healIsp(1);
    lab.healIsp(2);
    const h1 = await until('a\'s health file says 1 again', () => health(a) === '1', 10_000);
    const home = await until('the gateway address moves back to a (preempt)', () => hasVip(lab, a) && !hasVip(lab, b), 15_000);
    await until('the LAN host sends through a again', () => gatewayMac(lab) === mac(lab, a.ns, 'lan0'), 5000);
    await firstReplyAfter(ping, home, 5000);
    failback.push({ health: h1 - back, moved: home - back });
    process.stderr.write(
      `  run ${run}: uplinks dead -> health 0 ${h0 - dead} ms -> address on b ${moved - dead} ms -> LAN traffic out ${out - dead} ms;` +
        ` uplinks back -> health 1 ${h1 - back} ms -> address on a ${home - back} ms\n`,
    );
    await sleep(1500);
  }
  process.stderr.write(
    `  median of ${RUNS}: dead -> health 0 ${median(failover.map((f) => f.health))} ms, -> address on b ${median(failover.map((f) => f.moved))} ms,` +
      ` -> LAN traffic out ${median(failover.map((f) => f.out))} ms; back -> address on a ${median(failback.map((f) => f.moved))} ms\n`,
  );
  for (const f of failover) assert.ok(f.out < 10_000, `LAN traffic out after ${f.out} ms`);

  // haip stopping says 0: a router whose haip is not watching its uplinks gives the address away.
  await a.haip!.stop();
  assert.equal(health(a), '0');
  await until('the gateway address moves to b when haip on a stops', () => hasVip(lab, b) && !hasVip(lab, a), 15_000);
  assert.ok(existsSync(`${a.dir}/state/healthy`));
});
