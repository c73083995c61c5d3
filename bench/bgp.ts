// A router that also carries a full BGP table: 1M routes in a foreign table (200) of the lab router,
// loaded with `ip -batch`. Measures, with and without those routes: time to READY=1 (start to the
// "ready:" line), haip's idle CPU over 30 s (its own and its finished children's: every `ip` it ran),
// and the failover time after silent loss on the preferred uplink. Run under the lab lock:
//   flock /tmp/haip-lab.lock node dist/bench/bgp.js
// BGP_ROUTES sets the count (default 1000000), BGP_IDLE_S the idle window (default 30).
// The routes are blackholes inside 198.18.0.0/15 at 8 metrics each, so no address outside the lab's
// ranges is ever routed, and no packet follows them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, sleep } from '../test/lab/lab';

const ROUTES = Number(process.env.BGP_ROUTES ?? 1_000_000);
const IDLE_S = Number(process.env.BGP_IDLE_S ?? 30);
const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const TICK = 100; // USER_HZ
/** systemd's default start timeout is 90 s. */
const READY_LIMIT_MS = Number(process.env.BGP_READY_LIMIT_S ?? 90) * 1000;

function cpuTicks(pid: number): number {
  // Fields after the command name: utime stime cutime cstime are 14-17 (1-based) of the whole line.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((a, i) => a + Number(rest[i]), 0);
}

function loadRoutes(lab: Lab, n: number): number {
  const file = join(lab.dir, 'bgp.batch');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const host = i % 131072;
    const metric = Math.floor(i / 131072) + 1;
    lines.push(`route add blackhole 198.${18 + (host >> 16)}.${(host >> 8) & 255}.${host & 255}/32 table 200 metric ${metric}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const t0 = Date.now();
  lab.ip(lab.r, '-batch', file);
  return Date.now() - t0;
}

async function measure(n: number) {
  const lab = Lab.create();
  try {
    const loadMs = n ? loadRoutes(lab, n) : 0;
    const count = n ? Number(lab.exec(lab.r, 'sh', '-c', 'ip -4 route show table 200 | wc -l').trim()) : 0;
    const t0 = Date.now();
    const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))]);
    try {
      await haip.waitFor(/ready:/, READY_LIMIT_MS);
    } catch {
      await haip.stop();
      return { routes: count, loadMs, readyMs: Infinity, idleCpuPct: NaN, failoverMs: NaN };
    }
    const readyMs = Date.now() - t0;
    await sleep(2000);
    const c0 = cpuTicks(haip.pid);
    const w0 = Date.now();
    await sleep(IDLE_S * 1000);
    const idleCpu = (cpuTicks(haip.pid) - c0) / TICK / ((Date.now() - w0) / 1000);
    const f0 = Date.now();
    lab.dropAtIsp(1);
    const failoverMs = await lab.waitForDefault('eth2', 60_000, f0);
    await haip.stop();
    return { routes: count, loadMs, readyMs, idleCpuPct: Math.round(idleCpu * 1000) / 10, failoverMs };
  } finally {
    lab.destroy();
  }
}

async function main() {
  for (const n of [0, ROUTES]) {
    const r = await measure(n);
    const head = `bgp: ${r.routes} routes in table 200${n ? ` (loaded in ${(r.loadMs / 1000).toFixed(1)} s)` : ''}`;
    if (r.readyMs === Infinity) console.log(`${head}: not ready within ${READY_LIMIT_MS / 1000} s`);
    else console.log(`${head}: ready in ${r.readyMs} ms, idle CPU ${r.idleCpuPct}% over ${IDLE_S} s, failover in ${r.failoverMs} ms`);
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
