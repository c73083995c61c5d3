// Repeated log lines of one kind about one thing (a link's usability, the same `ip` command applied
// again and again during a carrier storm): the first few of a window are logged, the rest counted, and
// one summary says how many were not logged and the last of them. Pure: the state is a value, the
// caller logs what `admit` and `flush` return.

export interface LimitSettings {
  /** Lines logged per key and window before the rest are counted. */
  burst: number;
  windowMs: number;
}

export const LOG_LIMIT: LimitSettings = { burst: 3, windowMs: 60_000 };

interface Entry {
  since: number;
  logged: number;
  suppressed: number;
  last?: string;
}

export type LimitState = ReadonlyMap<string, Entry>;

export interface Verdict {
  state: LimitState;
  /** Log the line. */
  log: boolean;
  /** Summaries of windows that ended, to log before the line. */
  summaries: string[];
}

function summary(key: string, e: Entry, now: number): string {
  const secs = Math.max(1, Math.round((now - e.since) / 1000));
  return `${e.suppressed} more line${e.suppressed === 1 ? '' : 's'} like this not logged in the last ${secs} s (${key}); the last: ${e.last}`;
}

/** A line of kind `key` at `now`: the first `burst` of a window pass, the rest are counted. */
export function admit(state: LimitState, key: string, text: string, now: number, s: LimitSettings = LOG_LIMIT): Verdict {
  const next = new Map(state);
  const summaries: string[] = [];
  const e = next.get(key);
  if (!e || now - e.since >= s.windowMs) {
    if (e?.suppressed) summaries.push(summary(key, e, now));
    next.set(key, { since: now, logged: 1, suppressed: 0 });
    return { state: next, log: true, summaries };
  }
  if (e.logged < s.burst) {
    next.set(key, { ...e, logged: e.logged + 1 });
    return { state: next, log: true, summaries };
  }
  next.set(key, { ...e, suppressed: e.suppressed + 1, last: text });
  return { state: next, log: false, summaries };
}

/** Windows that ended: their summaries (those that counted lines), and the state without them. */
export function flush(state: LimitState, now: number, s: LimitSettings = LOG_LIMIT): { state: LimitState; summaries: string[] } {
  const next = new Map(state);
  const summaries: string[] = [];
  for (const [key, e] of state)
    if (now - e.since >= s.windowMs) {
      if (e.suppressed) summaries.push(summary(key, e, now));
      next.delete(key);
    }
  return { state: next, summaries };
}

type Level = 'error' | 'warning' | 'notice' | 'info';

/** The limiter with its state, for a module that logs: summaries at the level of the lines they count. */
export class LimitedLines {
  private state: LimitState = new Map();
  private levels = new Map<string, Level>();

  constructor(private readonly settings: LimitSettings = LOG_LIMIT) {}

  say(log: Record<Level, (msg: string) => void>, level: Level, key: string, text: string, now: number): void {
    const v = admit(this.state, key, text, now, this.settings);
    this.state = v.state;
    for (const s of v.summaries) log[this.levels.get(key) ?? level](s);
    this.levels.set(key, level);
    if (v.log) log[level](text);
  }

  /** Summaries of the windows that ended; called on every pass, so one comes at most a pass late. */
  flush(log: Record<Level, (msg: string) => void>, now: number): void {
    const f = flush(this.state, now, this.settings);
    for (const key of this.state.keys()) if (!f.state.has(key)) this.levels.delete(key);
    for (const s of f.summaries) log.notice(s);
    this.state = f.state;
  }
}
