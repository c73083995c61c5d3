// bench: Time from start to ready.
import { Lab } from '../test/lab/lab';
import { Profile, startDaemon } from './labDriver';

// ---- time to ready ---------------------------------------------------------------------------------

export async function readyRuns(p: Profile, runs: number): Promise<number[]> {
  const lab = Lab.create();
  const out: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { haip, cfg, readyMs } = await startDaemon(lab, p);
      out.push(readyMs);
      await haip.stop();
      // Start each run from a bare router, as at boot.
      await lab.startHaip(['flush', '-c', cfg]).exited;
    }
  } finally {
    lab.destroy();
  }
  return out;
}
