// Route-flap damping (as BGP does it, RFC 2439): each failure of a link adds a penalty that halves every
// `halfLifeMs`; a link that answers again is trusted only once its penalty has decayed to `reuse`, and
// never held back longer than `maxHoldMs`. One failure now and then costs nothing; a link that keeps
// failing waits longer each time. Pure functions of data.

export interface DampingSettings {
  /** Added per failure; 0 turns damping off. */
  penalty: number;
  halfLifeMs: number;
  /** A link whose penalty is above this is held back. */
  reuse: number;
  maxHoldMs: number;
}

export const DAMPING_DEFAULTS: DampingSettings = { penalty: 1000, halfLifeMs: 60_000, reuse: 2000, maxHoldMs: 600_000 };

export interface DampingState {
  /** The penalty as of `at`. */
  penalty: number;
  at: number;
  /** When recent failures happened (within maxHoldMs), for people. */
  failures: number[];
}

export const undamped = (now: number): DampingState => ({ penalty: 0, at: now, failures: [] });

export function penaltyAt(d: DampingState, now: number, s: DampingSettings): number {
  if (d.penalty <= 0) return 0;
  return d.penalty * Math.pow(0.5, Math.max(0, now - d.at) / s.halfLifeMs);
}

/** The most a penalty can be: what decays to `reuse` in exactly `maxHoldMs`. */
export function ceiling(s: DampingSettings): number {
  return s.reuse * Math.pow(2, s.maxHoldMs / s.halfLifeMs);
}

export function recordFailure(d: DampingState, now: number, s: DampingSettings): DampingState {
  if (s.penalty <= 0) return d;
  return {
    penalty: Math.min(penaltyAt(d, now, s) + s.penalty, ceiling(s)),
    at: now,
    failures: [...d.failures.filter((t) => t > now - s.maxHoldMs), now],
  };
}

/** Until when the link is held back, or null when it may be trusted now. */
export function heldUntil(d: DampingState, now: number, s: DampingSettings): number | null {
  const p = penaltyAt(d, now, s);
  if (s.penalty <= 0 || p <= s.reuse) return null;
  const wait = s.halfLifeMs * Math.log2(p / s.reuse);
  return now + Math.min(Math.ceil(wait), s.maxHoldMs);
}

/** "held back 20 s: 4 failures in 10 min", for the log and `haip status`. */
export function describeHold(d: DampingState, until: number, now: number, s: DampingSettings): string {
  const n = d.failures.filter((t) => t > now - s.maxHoldMs).length;
  return `held back ${Math.ceil((until - now) / 1000)} s: ${n} failure${n === 1 ? '' : 's'} in ${minutes(s.maxHoldMs)}`;
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}
