// Probe rounds per link on a Clock: every target of a link at once, a round good when `quorum` answer.
// Rounds never overlap; the next starts `interval` after the previous one started, or when it ends.
import { LinkConfig } from '../model';
import { Clock, TimerHandle } from '../sys/clock';
import { Prober, ProbeResult } from '../sys/prober';

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

export class LinkMonitor {
  private timer?: TimerHandle;
  private running = false;
  private stopped = true;

  constructor(
    readonly link: LinkConfig,
    private readonly clock: Clock,
    private readonly prober: Prober,
    /** The link's current source address, or a reason why there is none. */
    private readonly source: () => { address?: string; why?: string },
    private readonly onRound: (link: LinkConfig, r: RoundResult) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
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
            this.prober.probe(t, address, this.link.probe.timeoutMs, { intervalMs: this.link.probe.intervalMs, method: this.link.probe.method, device: this.link.interface }),
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
