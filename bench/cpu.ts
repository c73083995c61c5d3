// bench: CPU (schedstat, reaped children) and memory (RSS, children's PSS) of the daemon and its pings.
import { Lab, sleep } from '../test/lab/lab';
import { Profile, median, startDaemon } from './labDriver';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';

// ---- CPU and memory --------------------------------------------------------------------------------

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(/\s+/).map(Number) : []) out.push(k, ...children(k));
    }
  } catch {}
  return out;
}

export function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Proportional set size (smaps_rollup): a child's share of the pages it shares with its siblings. */
export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Nanoseconds on a CPU, every thread of `pid` (/proc/PID/task/TID/schedstat): exact, not sampled at ticks. */
export function runNs(pid: number): number {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) || 0;
  } catch {}
  return ns;
}

/** cutime+cstime of `pid` in ticks: its reaped children (fields 16-17 of /proc/PID/stat). */
export function reapedTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

/** CPU seconds of the daemon and everything under it: live descendants exactly, reaped ones through cutime. */
export function treeSeconds(pid: number): number {
  const live = runNs(pid) + children(pid).reduce((a, c) => a + runNs(c), 0);
  return live / 1e9 + reapedTicks(pid) / CLK_TCK;
}

export interface CpuFigures {
  profile: string;
  node_options: string;
  uplinks: number;
  targets: number;
  seconds: number;
  cpu_percent_of_one_core: number;
  daemon_rss_mb_median: number;
  daemon_rss_mb_max: number;
  daemon_hwm_mb: number;
  children_rss_mb: number;
  /** The children's PSS: what they add to the machine's memory (RSS counts shared libraries once each). */
  children_pss_mb: number;
  children: number;
  /** Every run's CPU when the row is a median. */
  cpu_runs?: number[];
}

/** Several runs of one row: the median CPU with its range, the largest RSS. */
export function combineCpu(rs: CpuFigures[]): CpuFigures {
  const cpus = rs.map((r) => r.cpu_percent_of_one_core);
  const mid = rs.find((r) => r.cpu_percent_of_one_core === median(cpus)) ?? rs[0];
  return {
    ...mid,
    cpu_percent_of_one_core: median(cpus) ?? 0,
    cpu_runs: cpus,
    daemon_rss_mb_median: median(rs.map((r) => r.daemon_rss_mb_median)) ?? 0,
    daemon_rss_mb_max: Math.max(...rs.map((r) => r.daemon_rss_mb_max)),
    daemon_hwm_mb: Math.max(...rs.map((r) => r.daemon_hwm_mb)),
  };
}

export async function cpuRun(p: Profile, uplinks: number, seconds: number, nodeOptions = ''): Promise<CpuFigures> {
  const lab = Lab.create({ uplinks });
  try {
    if (p.targets) await lab.spawnNode(lab.inet, 'probeServers', ['203.0.113.1', '7000', '8080']).waitFor(/^listening/, 5000);
    const { haip } = await startDaemon(lab, p, nodeOptions);
    // Past start-up: V8's memory reducer gives back the start-up heap about 8 s in (VmHWM keeps that peak).
    await sleep(10_000);
    const pid = haip.pid;
    const t0 = Date.now();
    const c0 = treeSeconds(pid);
    const rss: number[] = [];
    let kidsRss = 0;
    let kidsPss = 0;
    let kids = 0;
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(Math.min(5000, seconds * 1000 - (Date.now() - t0)));
      rss.push(statusKb(pid, 'VmRSS'));
      const ks = children(pid);
      kids = ks.length;
      kidsRss = ks.reduce((a, k) => a + statusKb(k, 'VmRSS'), 0);
      kidsPss = ks.reduce((a, k) => a + pssKb(k), 0);
    }
    const c1 = treeSeconds(pid);
    const wall = (Date.now() - t0) / 1000;
    const hwm = statusKb(pid, 'VmHWM');
    await haip.stop();
    const mb = (kb: number) => Math.round(kb / 102.4) / 10;
    return {
      profile: p.name,
      node_options: nodeOptions,
      uplinks,
      targets: 2,
      seconds: Math.round(wall),
      cpu_percent_of_one_core: Math.round(((c1 - c0) / wall) * 10000) / 100,
      daemon_rss_mb_median: mb(median(rss) ?? 0),
      daemon_rss_mb_max: mb(Math.max(...rss)),
      daemon_hwm_mb: mb(hwm),
      children_rss_mb: mb(kidsRss),
      children_pss_mb: mb(kidsPss),
      children: kids,
    };
  } finally {
    lab.destroy();
  }
}
