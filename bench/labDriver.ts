// bench: The shared lab driver: profiles, the probe YAML, a daemon started in a lab, medians.
import { Haip, Lab, REPO } from '../test/lab/lab';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const RUNS = Number(process.env.BENCH_RUNS ?? 7);
export const FLAP_S = Number(process.env.BENCH_FLAP_S ?? 180);
export const CPU_S = Number(process.env.BENCH_CPU_S ?? 60);
export const CPU_RUNS = Number(process.env.BENCH_CPU_RUNS ?? 3);
/** `make bench-loss`: how long each profile runs under 30 % random loss (BENCH_ONLY=loss). */
export const LOSS_S = Number(process.env.BENCH_LOSS_S ?? 1800);
/** BENCH_ONLY=ready,failover,flap,cpu,probes,scale runs only those parts (for a quick look; `make bench` runs all). */
export const ONLY = new Set((process.env.BENCH_ONLY ?? 'ready,failover,flap,cpu,probes,scale').split(','));
export const TARGETS = '[203.0.113.1, 203.0.113.2]';
/** The node options the packaged launcher runs the daemon with, read from it (test/unit/docs.test.ts checks bin/haip has the same). */
export const SEMI = (() => {
  const m = /exec \/usr\/bin\/node (.*?) \/usr\/lib\/haip\//.exec(readFileSync(join(REPO, 'debian/haip.sbin'), 'utf8'));
  if (!m) throw new Error('debian/haip.sbin: no `exec /usr/bin/node OPTIONS /usr/lib/haip/...` line to take the node options from');
  return m[1];
})();

export interface Profile {
  name: string;
  intervalMs: number;
  timeoutMs: number;
  down: number;
  up: number;
  method?: 'stream' | 'spawn';
  /** Probe targets other than the two ICMP ones (tcp://, http://: probeServers answers them). */
  targets?: string[];
  /** `ping`: ICMP through one ping per target (HAIP_ICMP=ping), not the ICMP helper. */
  engine?: 'ping';
}
export const DEFAULT: Profile = { name: 'default', intervalMs: 1000, timeoutMs: 1000, down: 3, up: 3 };
export const FAST: Profile = { name: 'fast', intervalMs: 200, timeoutMs: 300, down: 3, up: 3 };
/** The same profile with the ICMP engine before the helper: one `ping` per target. */
export const pingOf = (p: Profile): Profile => ({ ...p, name: `${p.name}/ping`, engine: 'ping' });
export const spawnOf = (p: Profile): Profile => ({ ...p, name: `${p.name}/spawn`, method: 'spawn' });
/** The same pace with a TCP connect and an HTTP GET per link instead of two pings. */
export const socketsOf = (p: Profile): Profile => ({ ...p, name: `${p.name}/tcp+http`, targets: ['tcp://203.0.113.1:7000', 'http://203.0.113.1:8080/ok'] });

export function probeYaml(p: Profile): string {
  return `{ targets: ${p.targets ? JSON.stringify(p.targets) : TARGETS}, interval: ${p.intervalMs}ms, timeout: ${p.timeoutMs}ms, down: ${p.down}, up: ${p.up}${p.method ? `, method: ${p.method}` : ''} }`;
}

export function describe(p: Profile): string {
  return `interval ${p.intervalMs}ms, timeout ${p.timeoutMs}ms, down ${p.down}, up ${p.up}, 2 targets${p.targets ? ` (${p.targets.join(', ')})` : ''}, quorum 1, ${p.targets ? 'one perl helper' : p.method === 'spawn' ? 'spawn' : p.engine === 'ping' ? 'stream (one ping per target)' : 'auto (stream, the ICMP helper)'}`;
}

export function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

// ---- a daemon in a lab -----------------------------------------------------------------------------

export async function startDaemon(lab: Lab, p: Profile, nodeOptions = process.env.BENCH_NODE_OPTIONS): Promise<{ haip: Haip; cfg: string; readyMs: number }> {
  // Damping off: the failover loop fails the same link again and again, and the default damping would
  // hold it back on purpose; the bench measures detection, and flap resistance without that help.
  const cfg = lab.writeConfig(lab.configYaml(probeYaml(p), 'damping: { penalty: 0 }\n'));
  const t0 = Date.now();
  const haip = lab.startHaip(['run', '-c', cfg, '-v'], { ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}), ...(p.engine === 'ping' ? { HAIP_ICMP: 'ping' } : {}) });
  await haip.waitFor(/notice: ready:/, 15_000);
  return { haip, cfg, readyMs: Date.now() - t0 };
}
