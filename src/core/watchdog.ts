// systemd's watchdog: WATCHDOG=1 only while every link's probe loop keeps turning and the kernel can be
// reconciled, so a hung daemon (or a hung `ip`) is restarted rather than left on a dead uplink.
import { Log, noticeFields } from '../log';
import { Clock, TimerHandle } from '../sys/clock';
import { Notifier } from '../sys/notifier';
import { LinkRuntime } from './registry';

/** How long a link's loop may go without a completed round: two full rounds and a grace. */
export function turnLimitMs(rt: Pick<LinkRuntime, 'config'>): number {
  return 2 * (rt.config.probe.intervalMs + rt.config.probe.timeoutMs) + 2000;
}

/** The longest time a stalled link's loop has not turned, or 0 when every loop is turning. */
export function stalledForMs(links: Pick<LinkRuntime, 'config' | 'lastTurnAt'>[], now: number): number {
  let worst = 0;
  for (const rt of links) if (now - rt.lastTurnAt > turnLimitMs(rt)) worst = Math.max(worst, now - rt.lastTurnAt);
  return worst;
}

export class Watchdog {
  private timer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly deps: { clock: Clock; notifier: Notifier; log: Log },
    /** Half of WATCHDOG_USEC in ms, or null/undefined without a watchdog. */
    private readonly everyMs: number | null | undefined,
    private readonly links: () => LinkRuntime[],
    /** Another reason to stop feeding (a hung reconcile), or null. */
    private readonly hung: (now: number) => string | null = () => null,
  ) {}

  start(): void {
    this.stopped = false;
    this.feed();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private feed() {
    if (!this.everyMs || this.stopped) return;
    // Every link's loop must be turning: one stuck link is a hang too.
    const now = this.deps.clock.now();
    const worst = stalledForMs(this.links(), now);
    const hung = this.hung(now);
    if (worst) this.deps.log.error(`no probe round completed for ${worst} ms; not feeding the watchdog`, noticeFields('stale'));
    else if (hung) this.deps.log.error(`${hung}; not feeding the watchdog`, noticeFields('stale'));
    else this.deps.notifier.notify({ WATCHDOG: '1' });
    this.timer = this.deps.clock.setTimeout(() => this.feed(), this.everyMs);
  }
}
