// Probe rounds and silences folded into each link's health (src/health/fold.ts), and damping's hold:
// which UP link is held back, and the pass that trusts it again. The daemon builds one and wires it.
import { DAMPING_DEFAULTS, DampingSettings, describeHold, heldUntil } from '../health/damping';
import { foldDamping, foldRound, foldSilence, roundDetail } from '../health/fold';
import { LinkMonitor, RoundResult, Silence } from '../health/monitor';
import { Log } from '../log';
import { Config, Family, LinkConfig, LinkHealth } from '../model';
import { Clock } from '../sys/clock';
import { Prober } from '../sys/prober';
import { Alarm } from './alarm';
import { Announcer } from './announce';
import { Lane, tableRefusedReason } from './pass';
import { PassReason } from './reconciler';
import { LinkRuntime, recordRound } from './registry';

export interface ProbingContext {
  config(): Config;
  lane(family: Family): Lane;
  runtimes(): LinkRuntime[];
  stopped(): boolean;
  /** A pass, for a change of health or a released hold. */
  sync(why: PassReason): void;
  /** A link that went down: its connections are flushed after the pass. */
  flushLater(link: string, family: Family): void;
  /** After every round: the daemon may become ready. */
  afterRound(): void;
}

export class Probing {
  private readonly releaseAlarm: Alarm;

  constructor(
    private readonly deps: { clock: Clock; log: Log; prober: Prober },
    private readonly announcer: Announcer,
    private readonly ctx: ProbingContext,
  ) {
    this.releaseAlarm = new Alarm(deps.clock, () => this.released());
  }

  newMonitor(l: LinkConfig, family: Family): LinkMonitor {
    return new LinkMonitor(
      l,
      this.deps.clock,
      this.deps.prober,
      () => {
        const rt = this.ctx.lane(family).links.get(l.name);
        const v = rt?.view;
        if (rt?.tableRefused) return { why: tableRefusedReason(rt) };
        return { address: v && !v.unusable ? v.source : undefined, why: v?.unusable };
      },
      (link, r) => this.onRound(this.ctx.lane(family), link, r),
      (link, silence) => this.onSilence(this.ctx.lane(family), link, silence),
    );
  }

  private onRound(lane: Lane, link: LinkConfig, r: RoundResult) {
    const rt = lane.links.get(link.name);
    if (!rt || rt.config !== link || this.ctx.stopped()) return;
    const now = this.deps.clock.now();
    recordRound(rt, r, now);
    this.deps.log.debug(`probe ${link.name}${lane.family === 6 ? ' IPv6' : ''}: ${roundDetail(r)}${r.rttMs !== undefined ? `, rtt ${r.rttMs.toFixed(2)} ms` : ''}`);
    if (r.error && r.error !== rt.lastError && !rt.view.unusable && !rt.tableRefused) this.deps.log.error(`probe ${link.name}${lane.family === 6 ? ' IPv6' : ''}: cannot probe: ${r.error}; counting it as a failure`);
    rt.lastError = r.error;
    const cannot = rt.view.unusable ?? (rt.tableRefused ? tableRefusedReason(rt) : undefined);
    const next = foldRound(rt.health, r, link, rt.quality, cannot, now);
    if (next.state !== 'up' && next.state !== 'degraded') rt.quality.length = 0;
    if (next.state !== rt.health.state) {
      this.setHealth(rt, next);
      this.ctx.sync('probe');
    } else {
      rt.health = next;
      this.announcer.markDirty();
    }
    this.ctx.afterRound();
  }

  /** No answer for `down x interval`: an answering link goes down now, not at the end of its rounds. */
  private onSilence(lane: Lane, link: LinkConfig, silence: Silence) {
    const rt = lane.links.get(link.name);
    if (!rt || rt.config !== link || this.ctx.stopped() || rt.view.unusable) return;
    const next = foldSilence(rt.health, link, silence);
    if (!next) return;
    this.setHealth(rt, next);
    rt.quality.length = 0;
    this.ctx.sync('probe');
  }

  setHealth(rt: LinkRuntime, next: LinkHealth): void {
    const from = rt.health;
    rt.health = next;
    rt.damping = foldDamping(rt.damping, from, next, this.deps.clock.now(), this.damping());
    if (next.state === 'down' && from.state !== 'down') this.ctx.flushLater(rt.config.name, rt.family);
    if (from.state !== next.state) this.announcer.transitions([{ kind: 'link', family: rt.family, link: rt.config.name, from, to: next }]);
  }

  private damping(): DampingSettings {
    return this.ctx.config().damping ?? DAMPING_DEFAULTS;
  }

  /** "held back 20 s: 4 failures in 10 min" for an UP link damping holds back, else null. */
  heldBack(rt: LinkRuntime): string | null {
    if (rt.health.state !== 'up') return null;
    const now = this.deps.clock.now();
    const until = heldUntil(rt.damping, now, this.damping());
    return until === null ? null : describeHold(rt.damping, until, now, this.damping());
  }

  /** A pass when the first held-back link may be trusted again. */
  scheduleRelease(): void {
    const now = this.deps.clock.now();
    if (this.ctx.stopped()) return;
    this.releaseAlarm.set(this.ctx.runtimes().flatMap((rt) => (rt.health.state === 'up' ? heldUntil(rt.damping, now, this.damping()) ?? [] : [])));
  }

  private released() {
    for (const rt of this.ctx.runtimes())
      if (rt.health.state === 'up' && !this.heldBack(rt) && rt.heldLogged) {
        rt.heldLogged = false;
        this.deps.log.notice(`${rt.config.name}${rt.family === 6 ? ' (IPv6)' : ''} is trusted again: its damping penalty decayed`);
      }
    this.ctx.sync('damping');
  }

  stop(): void {
    this.releaseAlarm.cancel();
  }
}
