// Probe rounds per link on a Clock: every target of a link at once, a round good when `quorum` answer.
// Rounds never overlap; the next starts `interval` after the previous one started, or when it ends.
import { LinkConfig } from '../model';
import { Clock, TimerHandle } from '../sys/clock';
import { ProbeHints, Prober, ProbeResult } from '../sys/prober';
import { judgeSilence } from './silence';

export interface RoundResult {
  ok: boolean;
  answered: number;
  total: number;
  /** Mean RTT of the answers, undefined when none came. */
  rttMs?: number;
  perTarget: { address: string; result: ProbeResult }[];
  /** Why the round could not be made at all (no source address, ping missing). */
  error?: string;
  /** A probe did not settle by its deadline: the round counts as failed, but not as the loop turning. */
  stuck?: boolean;
  at: number;
}

/** How long past its own timeout a probe may take before it is given up (ping's exit is not instant). */
export const PROBE_GRACE_MS = 2000;

export function summarize(link: LinkConfig, perTarget: RoundResult['perTarget'], at: number): RoundResult {
  const alive = perTarget.filter((p) => p.result.alive);
  const rtts = alive.map((p) => p.result.rttMs).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const errors = [...new Set(perTarget.map((p) => p.result.error).filter(Boolean))];
  return {
    ok: alive.length >= link.probe.quorum,
    answered: alive.length,
    total: perTarget.length,
    rttMs: rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : undefined,
    perTarget,
    error: errors.length ? errors.join('; ') : undefined,
    at,
  };
}

/** A link silent for `down x interval`: no target (fewer than quorum) answered in that long. */
export interface Silence {
  forMs: number;
  at: number;
}

export class LinkMonitor {
  private timer?: TimerHandle;
  private silenceTimer?: TimerHandle;
  private watchingSince = 0;
  private watchedAddress?: string;
  private running = false;
  private stopped = true;

  constructor(
    readonly link: LinkConfig,
    private readonly clock: Clock,
    private readonly prober: Prober,
    /** The link's current source address, or a reason why there is none. */
    private readonly source: () => { address?: string; why?: string },
    private readonly onRound: (link: LinkConfig, r: RoundResult) => void,
    /** Told when a prober that sees every echo finds the link silent for `down x interval`. */
    private readonly onSilence?: (link: LinkConfig, s: Silence) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
    this.watchingSince = this.clock.now();
    this.watchedAddress = this.source().address;
    if (this.onSilence && this.prober.lastAnswer) this.watchSilence(this.silenceWindowMs());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.silenceTimer?.cancel();
  }

  /** What every probe of this link carries: its pace, method, interface and payload size. */
  private hints(): ProbeHints {
    const { probe } = this.link;
    return { intervalMs: probe.intervalMs, method: probe.method, device: this.link.interface, ...(probe.size !== undefined ? { size: probe.size } : {}) };
  }

  private silenceWindowMs(): number {
    return this.link.probe.down * this.link.probe.intervalMs;
  }

  /** One timer, set for the moment the current silence would reach the window; answers push it on. */
  private watchSilence(ms: number) {
    if (this.stopped) return;
    this.silenceTimer = this.clock.setTimeout(() => {
      const { probe } = this.link;
      const address = this.source().address;
      const hints = this.hints();
      if (address !== this.watchedAddress) {
        // A new source address is a new stream: its silence counts from now.
        this.watchedAddress = address;
        this.watchingSince = this.clock.now();
      }
      const last = address ? probe.targets.map((t) => this.prober.lastAnswer!(t, address, probe.timeoutMs, hints)) : [];
      const now = this.clock.now();
      const window = this.silenceWindowMs();
      // Without a source the rounds say so; silence is judged on answers that could have come.
      const v = address ? judgeSilence(last, probe.quorum, window, this.watchingSince, now) : { silent: false, forMs: 0, checkAt: now + window };
      if (v.silent) this.onSilence!(this.link, { forMs: v.forMs, at: now });
      // Once told, the next word is due a whole window later (the link is down by then, or answering).
      this.watchSilence(Math.max(1, v.silent ? window : v.checkAt - now));
    }, ms);
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.round(), ms);
  }

  /** A probe that never settles must not freeze the link's health at its last state. */
  private withDeadline(p: Promise<ProbeResult>, onStuck: () => void): Promise<ProbeResult> {
    // A streamed round waits for up to an interval's worth of echoes, each judged by the timeout.
    const ms = this.link.probe.timeoutMs + this.link.probe.intervalMs + PROBE_GRACE_MS;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        onStuck();
        resolve({ alive: false, error: `probe did not finish within ${ms} ms` });
      }, ms);
      p.then(
        (r) => {
          timer.cancel();
          resolve(r);
        },
        (err) => {
          timer.cancel();
          resolve({ alive: false, error: (err as Error).message });
        },
      );
    });
  }

  private async round(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    const started = this.clock.now();
    const { address, why } = this.source();
    let result: RoundResult;
    if (!address) {
      result = { ...summarize(this.link, [], started), ok: false, total: this.link.probe.targets.length, error: why ?? 'no source address' };
    } else {
      let stuck = false;
      const perTarget = await Promise.all(
        this.link.probe.targets.map(async (t) => ({
          address: t,
          result: await this.withDeadline(
            this.prober.probe(t, address, this.link.probe.timeoutMs, this.hints()),
            () => (stuck = true),
          ),
        })),
      );
      result = { ...summarize(this.link, perTarget, this.clock.now()), stuck };
    }
    this.running = false;
    if (this.stopped) return;
    this.onRound(this.link, result);
    const elapsed = this.clock.now() - started;
    this.schedule(Math.max(0, this.link.probe.intervalMs - elapsed));
  }
}
