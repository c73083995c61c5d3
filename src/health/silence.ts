// Judging a link by how long it has been silent: DOWN once fewer than `quorum` targets have answered for
// `down x interval`. A streamed ICMP target knows when it last answered within `timeout`; a target that
// cannot tell (spawned ping, tcp/http/dns) counts as answering, so it never makes a link silent and
// round judging stays the only judge for it. Pure functions of data.

/** When each target last answered (ms); `undefined`: this target cannot tell; -Infinity: not yet. */
export type LastAnswers = (number | undefined)[];

/**
 * Since when fewer than `quorum` targets have answered: the quorum-th most recent answer.
 * +Infinity when the targets that cannot tell could make the quorum (never silent).
 */
export function silentSince(lastAnswers: LastAnswers, quorum: number): number {
  const times = lastAnswers.map((t) => (t === undefined ? Infinity : t)).sort((a, b) => b - a);
  if (quorum < 1) return Infinity;
  return quorum <= times.length ? times[quorum - 1] : -Infinity;
}

export interface SilenceVerdict {
  /** Silent for at least the window. */
  silent: boolean;
  /** How long the link has been silent (ms), 0 when it answers. */
  forMs: number;
  /** When to look again: the moment the current silence would reach the window. */
  checkAt: number;
}

/**
 * `watchingSince` is when answers could first have been seen (the watch started): silence is never
 * counted from before it.
 */
export function judgeSilence(lastAnswers: LastAnswers, quorum: number, windowMs: number, watchingSince: number, now: number): SilenceVerdict {
  const since = Math.max(silentSince(lastAnswers, quorum), watchingSince);
  if (since === Infinity) return { silent: false, forMs: 0, checkAt: now + windowMs };
  const forMs = Math.max(0, now - since);
  return { silent: forMs >= windowMs, forMs, checkAt: since + windowMs };
}
