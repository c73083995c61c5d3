// The pacing policy: a quiet ping once a round while every echo is answered, and a booster at the full
// pace from the first sign of a miss until a hold passes without one.
import { ProbeResult } from './prober';
import { Pinger } from './pingStreamProcess';
import { EchoOutcome } from './pingStreamReply';

/** Echoes sent per round interval: more samples per round make random loss unlikely to fail a round. */
export const MAX_SAMPLES = 4;
/**
 * While every echo is answered, a target is pinged at a quarter of that pace (once a round); the first
 * echo left unanswered starts a booster at the full pace beside it, kept until BOOST_HOLD_MS pass without
 * a miss. Wakeups, not bytes, are what probing costs a small router (a process woken for each echo and
 * node woken for each line), so a healthy link costs a quarter, while a link that loses echoes is watched
 * as closely as before. docs/decisions.md, "Detection by silence".
 */
export const QUIET_FACTOR = 4;
export const BOOST_HOLD_MS = 10_000;
/**
 * ping's gap between echoes never goes below this (iputils lets root go to 2 ms). 50 ms gives the fast
 * profile (200 ms) four echoes a round too: 11 in a row must be lost on every target before its 600 ms
 * of silence takes a link down.
 */
const MIN_GAP_MS = 50;

/** How many echoes a round of `intervalMs` looks at, and the gap between them. */
export function sampling(intervalMs: number): { samples: number; gapMs: number; quietGapMs: number } {
  const samples = Math.max(1, Math.min(MAX_SAMPLES, Math.floor(intervalMs / MIN_GAP_MS)));
  const gapMs = Math.max(MIN_GAP_MS, Math.round(intervalMs / samples));
  return { samples, gapMs, quietGapMs: gapMs * Math.min(QUIET_FACTOR, samples) };
}

/**
 * The echoes of one target from one source: a quiet ping once a round while every echo is answered, and
 * a booster at the full pace beside it from the first miss until BOOST_HOLD_MS pass without one.
 */
export class PingStream {
  lastUsed = Date.now();
  /** When an echo was last answered within the timeout (Date.now()), or the stream made: silence counts from there. */
  lastAnswerAt = Date.now();
  /** The booster runs until then (Date.now()). */
  private boostUntil = 0;
  /** Boosts when the quiet ping's next answer is late: an echo lost is boosted for before ping can say so. */
  private expectTimer?: NodeJS.Timeout;
  private lastRttMs = 0;
  private listeners = new Set<(o: EchoOutcome | { failed: string }) => void>();
  private readonly quiet: Pinger;
  private readonly booster?: Pinger;

  constructor(
    private readonly binary: string,
    readonly source: string,
    readonly device: string | undefined,
    readonly target: string,
    gapMs: number,
    private readonly quietGapMs: number,
    private readonly timeoutMs: number,
    private readonly boostHoldMs: number,
    onExit: (code: number | null, stderr: string, ranMs: number) => void,
    payload: string[] = [],
  ) {
    const miss = () => this.boost();
    this.quiet = new Pinger(binary, source, device, target, quietGapMs, timeoutMs, (o) => this.tell(o), miss, onExit, payload);
    // The booster's own end (stopped when the hold is over, or failing) is no word on the link.
    if (quietGapMs > gapMs)
      this.booster = new Pinger(binary, source, device, target, gapMs, timeoutMs, (o) => 'failed' in o || this.tell(o), miss, () => {}, payload);
  }

  get error(): string | undefined {
    return this.quiet.error;
  }

  get running(): boolean {
    return this.quiet.child !== undefined;
  }

  pids(): number[] {
    return [this.quiet.child?.pid, this.booster?.child?.pid].filter((p): p is number => p !== undefined);
  }

  /** Starts the quiet ping unless it runs; stops the booster once its hold is over. */
  ensure() {
    const fresh = !this.quiet.child;
    this.quiet.ensure();
    if (fresh && this.quiet.child) this.expect();
    if (this.booster?.child && Date.now() >= this.boostUntil) this.booster.stop();
  }

  private boost() {
    if (!this.booster) return;
    this.boostUntil = Date.now() + this.boostHoldMs;
    if (this.quiet.child) this.booster.ensure();
  }

  /**
   * The next quiet answer is due one gap after the last, plus twice its RTT, 20 ms and a sixteenth of the
   * gap: iputils paces `-i 1` at 1022-1024 ms and `-i 0.2` at 202-205 ms (measured in the lab), so a bare
   * 20 ms would boost at every echo of the default profile.
   */
  private expect() {
    if (!this.booster || this.booster.child) return;
    clearTimeout(this.expectTimer);
    this.expectTimer = setTimeout(() => this.boost(), this.quietGapMs * (17 / 16) + Math.min(this.timeoutMs, 2 * this.lastRttMs + 20));
    this.expectTimer.unref();
  }

  /** Waits for `samples` echoes sent from now on: alive at the first answer, a miss when all are lost. */
  next(samples: number, deadlineMs: number): Promise<ProbeResult> {
    this.lastUsed = Date.now();
    if (this.error && !this.running) return Promise.resolve({ alive: false, error: this.error });
    return awaitEchoes(this.listeners, samples, deadlineMs, () => (this.running ? `no word from ${this.binary} for ${deadlineMs} ms` : this.error));
  }

  stop() {
    clearTimeout(this.expectTimer);
    this.booster?.stop();
    this.quiet.stop();
  }

  private tell(o: EchoOutcome | { failed: string }) {
    if ('alive' in o && o.alive) {
      this.lastAnswerAt = Date.now();
      this.lastRttMs = o.rttMs ?? 0;
      this.expect();
    }
    for (const l of [...this.listeners]) l(o);
  }
}


/**
 * Listens for `samples` echo outcomes on `listeners`: alive at the first answer (with the echoes lost
 * before it), a miss when all are lost, an error when the stream fails or nothing comes by the deadline.
 */
export function awaitEchoes(listeners: Set<(o: EchoOutcome | { failed: string }) => void>, samples: number, deadlineMs: number, silentWhy: () => string | undefined): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let lost = 0;
    const finish = (r: ProbeResult) => {
      clearTimeout(timer);
      listeners.delete(listener);
      resolve(r);
    };
    const listener = (o: EchoOutcome | { failed: string }) => {
      if ('failed' in o) finish({ alive: false, error: o.failed });
      else if (o.alive) finish({ alive: true, rttMs: o.rttMs, lost });
      else if (++lost >= samples) finish({ alive: false, lost });
    };
    const timer = setTimeout(() => finish({ alive: false, error: silentWhy() }), deadlineMs);
    listeners.add(listener);
  });
}
