// When a kernel event's pass runs: the first event after a quiet spell at once (a carrier loss moves the
// route without delay), the events that follow within the gap folded into one pass at its end, and the
// gap doubling while events keep coming, so a carrier bouncing 50 times a second costs an event pass every
// few seconds, not one per bounce. Pure: the reconciler keeps the value and arms the timer.

/** The gap after a quiet spell: the trailing pass of one change's several `ip monitor` lines. */
export const BURST_MIN_GAP_MS = 100;
/** A burst this long at the minimum gap (an uplink added, haip's own changes echoed) before the gap grows. */
export const BURST_GRACE_MS = 3000;
/** The longest gap: during a storm, an event pass every 10 s at most (the periodic pass and probes still run). */
export const BURST_MAX_GAP_MS = 10000;

export interface Burst {
  /** When the last event pass started. */
  lastAt: number;
  /** The least time from it to the next event pass. */
  gap: number;
  /** When the burst began. */
  since: number;
}

export const quietBurst = (): Burst => ({ lastAt: -Infinity, gap: BURST_MIN_GAP_MS, since: -Infinity });

/** When the pass for an event arriving at `now` is due: now after a quiet spell, else at the gap's end. */
export function eventPassAt(b: Burst, now: number): number {
  return Math.max(now, b.lastAt + b.gap);
}

/**
 * An event pass starting at `now`: a quiet spell of twice the gap since the last one ends the burst and
 * resets the gap; one sooner means the events keep coming, and once the burst has lasted
 * BURST_GRACE_MS the gap doubles up to BURST_MAX_GAP_MS.
 */
export function eventPassStarted(b: Burst, now: number): Burst {
  if (now - b.lastAt >= 2 * b.gap) return { lastAt: now, gap: BURST_MIN_GAP_MS, since: now };
  const gap = now - b.since < BURST_GRACE_MS ? BURST_MIN_GAP_MS : Math.min(2 * b.gap, BURST_MAX_GAP_MS);
  return { lastAt: now, gap, since: b.since };
}
