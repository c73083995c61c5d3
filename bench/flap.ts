// bench: Switches under random loss: the lab run and the model it is checked against.
import { sampling } from '../src/sys/pingStream';
import { Lab, sleep } from '../test/lab/lab';
import { Profile, startDaemon } from './labDriver';

// ---- switches under random loss --------------------------------------------------------------------

export interface FlapFigures {
  profile: string;
  loss_percent: number;
  seconds: number;
  switches: number;
  isp1_down: number;
  per_hour: number;
  model_per_hour: number;
}

/**
 * Expected switches per hour from independent loss. Rounds: a round fails when every echo of every target
 * is lost, and `down` failed rounds after a good one take the link down. Silence (streamed pings only): after
 * any answer, every echo of every target that could answer within `down x interval` is lost (about
 * window / gap - 1 per target from the booster, plus window / quiet gap from the quiet ping, both running
 * under random loss). Either takes the link down; it comes back, so two switches each.
 */
export function modelPerHour(p: Profile, lossPercent: number, targets = 2): number {
  const echoLost = 1 - (1 - lossPercent / 100) ** 2; // each way
  const streamed = p.method !== 'spawn';
  const { samples, gapMs, quietGapMs } = streamed ? sampling(p.intervalMs) : { samples: 1, gapMs: p.intervalMs, quietGapMs: p.intervalMs };
  const roundFails = echoLost ** (targets * samples);
  const rounds = (3_600_000 / p.intervalMs) * (1 - roundFails) * roundFails ** p.down;
  if (!streamed) return 2 * rounds;
  // Under random loss a miss comes far more often than the booster's hold runs out: the booster and the
  // quiet ping both run, and every echo of both must be lost for the window.
  const window = p.down * p.intervalMs;
  const quiet = quietGapMs > gapMs ? 1 : 0;
  const perTarget = Math.max(1, Math.floor(window / gapMs) + quiet * Math.floor(window / quietGapMs) - 1);
  const answersPerHour = targets * (3_600_000 / gapMs + (quiet * 3_600_000) / quietGapMs) * (1 - echoLost);
  return 2 * (rounds + answersPerHour * echoLost ** (targets * perTarget));
}

export async function flapRun(p: Profile, lossPercent: number, seconds: number): Promise<FlapFigures> {
  const lab = Lab.create();
  try {
    const { haip } = await startDaemon(lab, p);
    await lab.waitForDefault('eth1', 5000);
    const mark = haip.lines.length;
    lab.lossAtIsp(1, lossPercent);
    await sleep(seconds * 1000);
    const lines = haip.lines.slice(mark);
    await haip.stop();
    const switches = lines.filter((l) => /switch: default route /.test(l)).length;
    const down = lines.filter((l) => /link isp1 \(eth1\): up -> down/.test(l)).length;
    return {
      profile: p.name,
      loss_percent: lossPercent,
      seconds,
      switches,
      isp1_down: down,
      per_hour: Math.round((switches * 3600) / seconds),
      model_per_hour: modelPerHour(p, lossPercent),
    };
  } finally {
    lab.destroy();
  }
}
