// Health as a value: a probe round, a silence and a failure's damping penalty folded into a link's
// record by pure functions. The daemon stores what they return and schedules the times they give.
import { LinkConfig, LinkHealth } from '../model';
import { DampingSettings, DampingState, recordFailure } from './damping';
import { forceDown, stepHealth } from './hysteresis';
import { RoundResult, Silence } from './monitor';
import { QualitySample, qualityLimits, stepQuality } from './quality';

const answering = (h: LinkHealth) => h.state === 'up' || h.state === 'degraded';

/** "2/3 targets answered (why)", as the log and the health reason say it. */
export function roundDetail(r: RoundResult): string {
  return `${r.answered}/${r.total} target${r.total === 1 ? '' : 's'} answered${r.error ? ` (${r.error})` : ''}`;
}

/**
 * A round folded into health: down at once while the link cannot be probed (`cannot`), else hysteresis;
 * quality is judged while the link answers (an outage is the business of down/up, not of max_loss).
 */
export function foldRound(health: LinkHealth, r: RoundResult, link: LinkConfig, samples: QualitySample[], cannot: string | undefined, now: number): LinkHealth {
  const next = cannot ? forceDown(health, cannot, now) : stepHealth(health, r.ok, link.probe, now, roundDetail(r));
  if (!cannot && next.state === 'down' && next !== health && answering(health)) return withMtuHint(next, link);
  return answering(next) ? stepQuality(next, samples, qualityLimits(link), now) : next;
}

/** A link probing with full-size echoes that goes down may be a path-MTU black hole: say so. */
function withMtuHint(h: LinkHealth, link: LinkConfig): LinkHealth {
  const { size } = link.probe;
  return size === undefined ? h : { ...h, reason: `${h.reason}; ${size}-byte echoes sent unfragmented: path MTU below ${size + 28}?` };
}

/** No answer for `down x interval`: an answering link goes down now; null when there is nothing to do. */
export function foldSilence(health: LinkHealth, link: LinkConfig, silence: Silence): LinkHealth | null {
  if (!answering(health)) return null;
  const { quorum, targets } = link.probe;
  const who = quorum > 1 ? `fewer than ${quorum} of ${targets.length} targets answered` : `no answer from ${targets.length > 1 ? 'any target' : 'its target'}`;
  return withMtuHint(forceDown(health, `${who} for ${(silence.forMs / 1000).toFixed(1)} s`, silence.at), link);
}

/** An answering link going down is a failure that damping counts. */
export function foldDamping(d: DampingState, from: LinkHealth, to: LinkHealth, now: number, s: DampingSettings): DampingState {
  return answering(from) && to.state === 'down' ? recordFailure(d, now, s) : d;
}
