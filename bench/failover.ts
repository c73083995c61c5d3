// bench: Failover and failback times for each way a link can fail.
import { Lab, sleep } from '../test/lab/lab';
import { Profile, describe, log, startDaemon } from './labDriver';

// ---- failover and failback -------------------------------------------------------------------------

export type Failure = 'silent loss' | 'unreachable' | 'far-end carrier loss' | 'interface removal';
export const FAILURES: Failure[] = ['silent loss', 'unreachable', 'far-end carrier loss', 'interface removal'];

export function breakIt(lab: Lab, f: Failure) {
  if (f === 'silent loss') lab.dropAtIsp(1);
  else if (f === 'unreachable') lab.unreachableAtIsp(1, true);
  else if (f === 'far-end carrier loss') lab.farEnd(1, false);
  else lab.ip(lab.r, 'link', 'del', 'eth1');
}

export function healIt(lab: Lab, f: Failure) {
  if (f === 'silent loss') lab.healIsp(1);
  else if (f === 'unreachable') lab.unreachableAtIsp(1, false);
  else if (f === 'far-end carrier loss') lab.farEnd(1, true);
  else lab.addUplink(1);
}

export interface FailoverFigures {
  profile: string;
  settings: string;
  failures: Record<string, { failover_ms: (number | null)[]; failback_ms: (number | null)[] }>;
}

export async function failoverRuns(p: Profile, failures: Failure[], runs: number): Promise<FailoverFigures> {
  const lab = Lab.create();
  const out: FailoverFigures = { profile: p.name, settings: describe(p), failures: {} };
  try {
    const { haip } = await startDaemon(lab, p);
    await lab.waitForDefault('eth1', 5000);
    const limit = 10 * (p.down * Math.max(p.intervalMs, p.timeoutMs) + p.timeoutMs) + 5000;
    for (let run = 0; run < runs; run++) {
      for (const f of failures) {
        const figs = (out.failures[f] ??= { failover_ms: [], failback_ms: [] });
        // A random phase against the probe rounds, as a real failure has.
        await sleep(500 + Math.random() * Math.max(p.intervalMs, p.timeoutMs));
        let t0 = Date.now();
        breakIt(lab, f);
        let ms: number | null = null;
        try {
          ms = await lab.waitForDefault('eth2', limit, t0);
        } catch (err) {
          log(`${p.name} ${f}: ${(err as Error).message.split('\n')[0]}`);
        }
        figs.failover_ms.push(ms);
        // Let the failed link settle as down before healing it.
        await sleep(300 + Math.random() * Math.max(p.intervalMs, p.timeoutMs));
        t0 = Date.now();
        healIt(lab, f);
        ms = null;
        try {
          ms = await lab.waitForDefault('eth1', limit, t0);
        } catch (err) {
          log(`${p.name} ${f} (failback): ${(err as Error).message.split('\n')[0]}`);
          healIt(lab, f);
          await lab.waitForDefault('eth1', limit).catch(() => undefined);
        }
        figs.failback_ms.push(ms);
        log(`${p.name} run ${run + 1}/${runs} ${f}: failover ${figs.failover_ms.at(-1)} ms, failback ${ms} ms`);
      }
    }
    await haip.stop();
  } finally {
    lab.destroy();
  }
  return out;
}
