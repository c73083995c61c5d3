// bench: the scaling curve. CPU and memory of the daemon and its children at 2, 8, 16 and 32 uplinks x 2
// ICMP targets at 1 s, with the ICMP helper and with one ping per target; the active link's silent death
// among 16 (the route moves, no other link changes state) and `haip status` at 16.
import { Lab, sleep } from '../test/lab/lab';
import { CpuFigures, combineCpu, cpuRun } from './cpu';
import { DEFAULT, Profile, log, median, pingOf, startDaemon } from './labDriver';

export const SCALE_UPLINKS = [2, 8, 16, 32];
export const SCALE_RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 3);
export const SCALE_S = Number(process.env.BENCH_SCALE_S ?? 40);
/** Runs per row of the ping-per-target comparison (the figures before the helper). */
export const SCALE_PING_RUNS = Number(process.env.BENCH_SCALE_PING_RUNS ?? SCALE_RUNS);

export interface ScaleRow extends CpuFigures {
  /** Daemon RSS (median of the samples) plus the children's PSS: what probing costs the machine. */
  memory_mb: number;
}

/** One row per engine and uplink count, `runs` daemons each (one at a time), CPU as a median with its range. */
export async function scaleRows(seconds = SCALE_S, runs = SCALE_RUNS, nodeOptions = ''): Promise<ScaleRow[]> {
  const out: ScaleRow[] = [];
  for (const p of [DEFAULT, pingOf(DEFAULT)])
    for (const n of SCALE_UPLINKS) {
      const rs: CpuFigures[] = [];
      for (let i = 0; i < (p.engine === 'ping' ? Math.min(runs, SCALE_PING_RUNS) : runs); i++) rs.push(await cpuRun(p, n, seconds, nodeOptions));
      const c = combineCpu(rs);
      const row = { ...c, children_pss_mb: median(rs.map((r) => r.children_pss_mb)) ?? 0, memory_mb: Math.round((c.daemon_rss_mb_median + (median(rs.map((r) => r.children_pss_mb)) ?? 0)) * 10) / 10 };
      log(`scale ${p.name} ${n} x 2: CPU ${row.cpu_percent_of_one_core} % [${row.cpu_runs?.join(', ')}], memory ${row.memory_mb} MB (daemon ${row.daemon_rss_mb_median} + children PSS ${row.children_pss_mb}, ${row.children} children)`);
      out.push(row);
    }
  return out;
}

export interface ManyFigures {
  profile: string;
  uplinks: number;
  failover_ms: (number | null)[];
  /** Links other than the failed one that changed state during each run (should be 0). */
  others_changed: number[];
  status_ms: number[];
}

const TRANSITION = /link (isp\d+) \([^)]*\): \w+ -> \w+/;

/** The active link (isp1) of `uplinks` dies silently `runs` times; `haip status` timed `runs` times. */
export async function manyUplinks(p: Profile = DEFAULT, uplinks = 16, runs = SCALE_RUNS): Promise<ManyFigures> {
  const lab = Lab.create({ uplinks });
  const out: ManyFigures = { profile: p.name, uplinks, failover_ms: [], others_changed: [], status_ms: [] };
  try {
    const { haip } = await startDaemon(lab, p);
    await lab.waitForDefault('eth1', 10_000);
    // Every link up before the first failure: a link still coming up is no change to count.
    const upCount = () => new Set(haip.lines.filter((l) => / -> up/.test(l)).map((l) => TRANSITION.exec(l)?.[1])).size;
    for (let waited = 0; upCount() < uplinks && waited < 20_000; waited += 250) await sleep(250);
    for (let i = 0; i < runs; i++) {
      const t = Date.now();
      const r = lab.cli('status');
      out.status_ms.push(Date.now() - t);
      if (r.status !== 0) log(`haip status exited ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
    }
    const limit = 10 * (p.down * Math.max(p.intervalMs, p.timeoutMs) + p.timeoutMs) + 5000;
    for (let run = 0; run < runs; run++) {
      await sleep(500 + Math.random() * Math.max(p.intervalMs, p.timeoutMs));
      const from = haip.lines.length;
      const t0 = Date.now();
      lab.dropAtIsp(1);
      let ms: number | null = null;
      try {
        ms = await lab.waitForDefault('eth2', limit, t0);
      } catch (err) {
        log(`${uplinks} uplinks, silent loss: ${(err as Error).message.split('\n')[0]}`);
      }
      out.failover_ms.push(ms);
      await sleep(500);
      lab.healIsp(1);
      await lab.waitForDefault('eth1', limit).catch(() => undefined);
      // isp1's own down and up are expected; anything from another link is not.
      const others = haip.lines.slice(from).map((l) => TRANSITION.exec(l)?.[1]).filter((l) => l && l !== 'isp1');
      out.others_changed.push(others.length);
      log(`${uplinks} uplinks run ${run + 1}/${runs}: failover ${ms} ms, other links changed ${others.length}`);
    }
    await haip.stop();
  } finally {
    lab.destroy();
  }
  return out;
}
