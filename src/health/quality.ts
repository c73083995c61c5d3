// Quality limits (`max_loss`, `max_rtt` over `quality_window`): a link that answers, but loses too much
// or answers too slowly, is `degraded`. Pure functions of the link's recent probes; the daemon keeps the
// window and calls stepQuality after each round. A degraded link comes back only well inside its limits
// (half of max_loss, 80 % of max_rtt), so a link hovering at a limit does not flap.
import { LinkHealth, ProbeSettings } from '../model';

/** One probe's worth of echoes: `sent` looked at, `lost` of them unanswered, the RTT of the answer. */
export interface QualitySample {
  at: number;
  sent: number;
  lost: number;
  rttMs?: number;
}

export interface QualityLimits {
  /** Percentage of echoes lost beyond which a link is degraded; absent: no limit. */
  maxLossPct?: number;
  /** Median RTT beyond which a link is degraded; absent: no limit. */
  maxRttMs?: number;
  windowMs: number;
}

export interface QualityStats {
  sent: number;
  lossPct: number;
  /** Median RTT of the answers in the window; undefined with none. */
  medianRttMs?: number;
}

/** Too few echoes say little: no judgement below this many in the window. */
export const MIN_SAMPLES = 20;
/** A degraded link is back when its loss is at most this share of max_loss... */
export const LOSS_RECOVERY = 0.5;
/** ...and its median RTT at most this share of max_rtt. */
export const RTT_RECOVERY = 0.8;

/** A link's limits as its probe settings give them. */
export function qualityLimits(l: { probe: ProbeSettings }): QualityLimits {
  return { maxLossPct: l.probe.maxLossPct, maxRttMs: l.probe.maxRttMs, windowMs: l.probe.qualityWindowMs };
}

export function hasLimits(l: QualityLimits): boolean {
  return l.maxLossPct !== undefined || l.maxRttMs !== undefined;
}

/** Drops samples older than the window (in place, oldest first) and returns what is left. */
export function trimWindow(samples: QualitySample[], now: number, windowMs: number): QualitySample[] {
  while (samples.length && samples[0].at <= now - windowMs) samples.shift();
  return samples;
}

export function windowStats(samples: QualitySample[]): QualityStats {
  let sent = 0;
  let lost = 0;
  const rtts: number[] = [];
  for (const s of samples) {
    sent += s.sent;
    lost += s.lost;
    if (s.rttMs !== undefined) rtts.push(s.rttMs);
  }
  rtts.sort((a, b) => a - b);
  const mid = rtts.length >> 1;
  const medianRttMs = rtts.length === 0 ? undefined : rtts.length % 2 ? rtts[mid] : (rtts[mid - 1] + rtts[mid]) / 2;
  return { sent, lossPct: sent ? (100 * lost) / sent : 0, medianRttMs };
}

const pct = (x: number) => `${x < 10 ? x.toFixed(1) : x.toFixed(0)}%`;
const msText = (x: number) => `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`;
const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

/** Which limit the stats break, in words; undefined when within (entering: the limits; leaving: the recovery marks). */
export function beyondLimits(s: QualityStats, l: QualityLimits, leaving: boolean): string | undefined {
  const why: string[] = [];
  if (l.maxLossPct !== undefined) {
    const mark = leaving ? l.maxLossPct * LOSS_RECOVERY : l.maxLossPct;
    if (leaving ? s.lossPct > mark : s.lossPct > l.maxLossPct) why.push(`loss ${pct(s.lossPct)} > ${leaving ? `${pct(mark)} (half of max_loss)` : `max_loss ${pct(l.maxLossPct)}`}`);
  }
  if (l.maxRttMs !== undefined && s.medianRttMs !== undefined) {
    const mark = leaving ? l.maxRttMs * RTT_RECOVERY : l.maxRttMs;
    if (s.medianRttMs > mark) why.push(`median RTT ${msText(s.medianRttMs)} > ${leaving ? `${msText(mark)} (80% of max_rtt)` : `max_rtt ${msText(l.maxRttMs)}`}`);
  }
  return why.length ? why.join(', ') : undefined;
}

/**
 * Moves an UP link to DEGRADED when its window breaks a limit, and a DEGRADED one back to UP once it is
 * inside the recovery marks. Other states, an empty limit set and a thin window change nothing.
 */
export function stepQuality(h: LinkHealth, samples: QualitySample[], l: QualityLimits, now: number): LinkHealth {
  if ((h.state !== 'up' && h.state !== 'degraded') || !hasLimits(l)) return h;
  const s = windowStats(samples);
  if (s.sent < MIN_SAMPLES) return h;
  const over = `over the last ${secs(l.windowMs)}`;
  if (h.state === 'up') {
    const why = beyondLimits(s, l, false);
    return why ? { state: 'degraded', streak: 0, since: now, reason: `${why} ${over}` } : h;
  }
  if (beyondLimits(s, l, true)) return h;
  const within = [`loss ${pct(s.lossPct)}`, ...(s.medianRttMs !== undefined ? [`median RTT ${msText(s.medianRttMs)}`] : [])].join(', ');
  return { state: 'up', streak: 0, since: now, reason: `back within quality limits: ${within} ${over}` };
}
