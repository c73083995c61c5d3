// The daemon: wiring and lifecycle. Probe rounds and kernel events are folded into each link's health
// (src/health/fold.ts), a reconcile pass (src/core/reconciler.ts) runs the steps of src/core/pass.ts
// (views, the choice of link in src/core/selector.ts, desired, settle), and every change is told by
// src/core/announce.ts. This file starts, reloads and stops them and holds the timers they ask for.
import { Alarm } from './core/alarm';
import { Announcer, Transition } from './core/announce';
import { Lane, PassSteps, tableRefusedReason } from './core/pass';
import { PassReason, Reconciler } from './core/reconciler';
import { LinkRegistry, LinkRuntime, recordRound } from './core/registry';
import { forgetLinks, newSelection } from './core/selector';
import { lanesStatus } from './core/statusDoc';
import { Watchdog } from './core/watchdog';
import { DAMPING_DEFAULTS, DampingSettings, describeHold, heldUntil } from './health/damping';
import { foldDamping, foldRound, foldSilence, roundDetail } from './health/fold';
import { LinkMonitor, RoundResult, Silence } from './health/monitor';
import { HookRunner } from './hooks';
import { Log } from './log';
import { Config, Family, familyLink, LinkConfig, LinkHealth } from './model';
import { Clock } from './sys/clock';
import { isIPv6Event, LinkEvents } from './sys/linkEvents';
import { Notifier } from './sys/notifier';
import { Prober } from './sys/prober';
import { Runner } from './sys/runner';
import { StatusDoc, StatusSink, statusLine } from './status';

export interface DaemonDeps {
  ip: Runner;
  prober: Prober;
  clock: Clock;
  notifier: Notifier;
  log: Log;
  events?: LinkEvents;
  /** nftables table events (`nft monitor tables`), watched while sticky is on. */
  nftEvents?: LinkEvents;
  hooks?: HookRunner;
  status?: StatusSink;
  /** Half of WATCHDOG_USEC in ms, or null without a watchdog. */
  watchdogMs?: number | null;
  /** `nft` and `conntrack`, for sticky connections; without them sticky is logged as unavailable. */
  nft?: Runner;
  conntrack?: Runner;
  /** Called after config changes are applied, e.g. to write table names. */
  onConfig?: (c: Config) => void;
}

export type { Transition };

export class Daemon {
  private readonly steps: PassSteps;
  private readonly lanes: Lane[];
  private readonly reconciler: Reconciler;
  private readonly watchdog: Watchdog;
  private readonly announcer: Announcer;
  private ready = false;
  private stopped = false;
  private readonly releaseAlarm: Alarm;
  /** A pass when the first refused route may be tried again. */
  private readonly retryAlarm: Alarm;
  private nftWatched = false;

  constructor(
    private config: Config,
    private readonly deps: DaemonDeps,
  ) {
    const lane = (family: Family): Lane => ({
      family,
      links: new LinkRegistry((l) => this.newMonitor(l, family), () => deps.clock.now(), family),
      sel: newSelection(family, deps.clock.now()),
    });
    this.lanes = [lane(4), lane(6)];
    this.reconciler = new Reconciler(deps, {
      config: () => this.config,
      desired: (obs) => this.steps.desired(obs),
      settle: (outcome) => this.steps.settle(outcome),
    });
    this.announcer = new Announcer(deps, {
      runtime: (f, n) => this.lane(f).links.get(n),
      runtimes: (f) => this.lane(f).links.all(),
      routedBy: (f) => this.lane(f).sel.routedBy,
      heldBack: (rt) => this.heldBack(rt),
      statusDoc: () => this.statusDoc(),
      ready: () => this.ready,
      stopped: () => this.stopped,
    });
    this.steps = new PassSteps(this.lanes, {
      config: () => this.config,
      now: () => deps.clock.now(),
      log: deps.log,
      ip: deps.ip,
      announcer: this.announcer,
      ready: () => this.ready,
      heldBack: (rt) => this.heldBack(rt),
      setHealth: (rt, next) => this.setHealth(rt, next),
      forgetProbes: (device) => deps.prober.forget?.(device),
      // Not after stop: the effective-route lookups of the last pass may answer later.
      sync: (why) => void (!this.stopped && this.sync(why)),
      later: (fn, ms) => deps.clock.setTimeout(fn, ms),
      beforeChoice: () => this.scheduleRelease(),
      retryAt: (times) => !this.stopped && this.retryAlarm.set(times),
    });
    this.releaseAlarm = new Alarm(deps.clock, () => this.released());
    this.retryAlarm = new Alarm(deps.clock, () => void this.sync('retry'));
    this.watchdog = new Watchdog(deps, deps.watchdogMs, () => this.allRuntimes(), (now) => this.reconciler.hung(now));
  }

  private lane(family: Family): Lane {
    return this.lanes[family === 4 ? 0 : 1];
  }

  /** Every link runtime of every family. */
  private allRuntimes(): LinkRuntime[] {
    return this.lanes.flatMap((l) => l.links.all());
  }

  /** The link the kernel routes the family's traffic by. */
  activeLinkOf(family: Family): string | null {
    return this.lane(family).sel.routedBy;
  }

  /** The link the kernel routes IPv4 by. */
  get activeLink(): string | null {
    return this.lane(4).sel.routedBy;
  }

  healthOf(name: string, family: Family = 4): LinkHealth | undefined {
    return this.lane(family).links.get(name)?.health;
  }

  get isReady(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    const { log } = this.deps;
    this.deps.onConfig?.(this.config);
    for (const lane of this.lanes) for (const l of this.familyLinks(lane.family)) lane.links.add(l);
    if (!this.config.links.length) this.warnNoLinks();
    else log.notice(`starting with ${this.config.links.length} link(s) from ${this.config.source}: ${this.config.links.map((l) => `${l.name} (${l.interface}, weight ${l.weight})`).join(', ')}`);
    await this.sync('start');
    for (const lane of this.lanes) lane.links.startProbing();
    this.deps.events?.start((what) => {
      // Router advertisements refresh IPv6 routes every few seconds: without IPv6 links they are noise.
      if (!this.lane(6).links.size && isIPv6Event(what)) return;
      this.reconciler.kernelEvent(what);
    });
    this.watchNft();
    this.reconciler.start();
    this.watchdog.start();
    this.checkReady();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const { log, notifier } = this.deps;
    notifier.notify({ STOPPING: '1' });
    this.announcer.stop();
    this.releaseAlarm.cancel();
    this.retryAlarm.cancel();
    this.reconciler.stop();
    this.watchdog.stop();
    for (const lane of this.lanes) lane.links.stopProbing();
    const parts: [string, () => void][] = [
      ['link events', () => this.deps.events?.stop()],
      ['nft events', () => this.nftWatched && this.deps.nftEvents?.stop()],
      ['hooks', () => this.deps.hooks?.stop?.()],
      ['prober', () => this.deps.prober.close?.()],
    ];
    for (const [name, fn] of parts) {
      try {
        fn();
      } catch (err) {
        log.error(`stopping ${name}: ${(err as Error).message}`);
      }
    }
    // Let a reconcile in flight finish, so the kernel is not left half-way through a change.
    await Promise.race([this.reconciler.inFlight, new Promise((r) => this.deps.clock.setTimeout(() => r(undefined), 500))]);
    this.announcer.writeStatus();
    const six = this.lane(6);
    log.notice(`stopping; the default route stays ${this.lane(4).sel.routedBy ? `on ${this.lane(4).sel.routedBy}` : 'as it is'}${six.links.size ? `, IPv6's ${six.sel.routedBy ? `on ${six.sel.routedBy}` : 'as it is'}` : ''}`);
  }

  /** Takes a new, already validated config: unchanged links keep their state and their probes. */
  async reload(next: Config): Promise<void> {
    const { log } = this.deps;
    const before = this.config;
    this.config = next;
    this.deps.onConfig?.(next);
    const diffs = this.lanes.map((lane) => lane.links.reload(this.familyLinks(lane.family), !this.stopped));
    const changed = [...new Set(diffs.flatMap((d) => d.changed))];
    const removed = [...new Set(diffs.flatMap((d) => d.removed))].filter((n) => !next.links.some((l) => l.name === n));
    if (!next.links.length) this.warnNoLinks();
    log.notice(
      `reloaded ${next.source}: ${next.links.length} link(s)` +
        (changed.length ? `; new or changed: ${changed.join(', ')}` : '') +
        (removed.length ? `; removed: ${removed.join(', ')}` : '') +
        (!changed.length && !removed.length ? '; links unchanged' : ''),
    );
    for (const lane of this.lanes) lane.sel = forgetLinks(lane.sel, (n) => lane.links.has(n));
    this.reconciler.forgetApplied(before);
    this.watchNft();
    await this.sync('reload');
    this.checkReady();
  }

  /** One reconcile pass (or one more after the pass in flight). */
  sync(why: PassReason): Promise<void> {
    return this.reconciler.sync(why);
  }

  /** `nft flush ruleset` must bring sticky's table back within a second, not at the next periodic pass. */
  private watchNft() {
    const want = this.config.sticky && !!this.deps.nftEvents && !this.stopped;
    if (want === this.nftWatched) return;
    this.nftWatched = want;
    if (want) this.deps.nftEvents!.start((what) => this.reconciler.nftEvent(what));
    else this.deps.nftEvents?.stop();
  }

  /** The config's links as a family sees them: those with targets of it, with only those targets. */
  private familyLinks(family: Family): LinkConfig[] {
    return this.config.links.flatMap((l) => familyLink(l, family) ?? []);
  }

  private newMonitor(l: LinkConfig, family: Family): LinkMonitor {
    return new LinkMonitor(
      l,
      this.deps.clock,
      this.deps.prober,
      () => {
        const rt = this.lane(family).links.get(l.name);
        const v = rt?.view;
        if (rt?.tableRefused) return { why: tableRefusedReason(rt) };
        return { address: v && !v.unusable ? v.source : undefined, why: v?.unusable };
      },
      (link, r) => this.onRound(this.lane(family), link, r),
      (link, silence) => this.onSilence(this.lane(family), link, silence),
    );
  }

  // ---- probing -------------------------------------------------------------------------------------

  private onRound(lane: Lane, link: LinkConfig, r: RoundResult) {
    const rt = lane.links.get(link.name);
    if (!rt || rt.config !== link || this.stopped) return;
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
      void this.sync('probe');
    } else {
      rt.health = next;
      this.announcer.markDirty();
    }
    this.checkReady();
  }

  /** No answer for `down x interval`: an answering link goes down now, not at the end of its rounds. */
  private onSilence(lane: Lane, link: LinkConfig, silence: Silence) {
    const rt = lane.links.get(link.name);
    if (!rt || rt.config !== link || this.stopped || rt.view.unusable) return;
    const next = foldSilence(rt.health, link, silence);
    if (!next) return;
    this.setHealth(rt, next);
    rt.quality.length = 0;
    void this.sync('probe');
  }

  private setHealth(rt: LinkRuntime, next: LinkHealth) {
    const from = rt.health;
    rt.health = next;
    rt.damping = foldDamping(rt.damping, from, next, this.deps.clock.now(), this.damping());
    if (next.state === 'down' && from.state !== 'down') this.reconciler.flushLater(rt.config.name, rt.family);
    if (from.state !== next.state) this.announcer.transitions([{ kind: 'link', family: rt.family, link: rt.config.name, from, to: next }]);
  }

  private checkReady() {
    if (this.ready || this.stopped) return;
    if (this.allRuntimes().some((rt) => rt.health.state === 'unknown')) return;
    this.ready = true;
    void this.sync('ready').then(() => {
      if (this.stopped) return;
      this.deps.notifier.notify({ READY: '1', STATUS: statusLine(this.statusDoc()) });
      this.deps.log.notice(`ready: ${statusLine(this.statusDoc())}`);
    });
  }

  private damping(): DampingSettings {
    return this.config.damping ?? DAMPING_DEFAULTS;
  }

  /** "held back 20 s: 4 failures in 10 min" for an UP link damping holds back, else null. */
  private heldBack(rt: LinkRuntime): string | null {
    if (rt.health.state !== 'up') return null;
    const now = this.deps.clock.now();
    const until = heldUntil(rt.damping, now, this.damping());
    return until === null ? null : describeHold(rt.damping, until, now, this.damping());
  }

  /** A pass when the first held-back link may be trusted again. */
  private scheduleRelease() {
    const now = this.deps.clock.now();
    if (this.stopped) return;
    this.releaseAlarm.set(this.allRuntimes().flatMap((rt) => (rt.health.state === 'up' ? heldUntil(rt.damping, now, this.damping()) ?? [] : [])));
  }

  private released() {
    for (const rt of this.allRuntimes())
      if (rt.health.state === 'up' && !this.heldBack(rt) && rt.heldLogged) {
        rt.heldLogged = false;
        this.deps.log.notice(`${rt.config.name}${rt.family === 6 ? ' (IPv6)' : ''} is trusted again: its damping penalty decayed`);
      }
    void this.sync('damping');
  }

  /** The shipped config has no links: say what to edit, and change nothing. */
  private warnNoLinks() {
    this.deps.log.notice(`no links configured in ${this.config.source}: haip changes nothing until you add links there and reload (systemctl reload haip)`);
  }

  statusDoc(): StatusDoc {
    const now = this.deps.clock.now();
    return lanesStatus([this.lanes[0], this.lanes[1]], this.reconciler.problem(now), (rt) => this.heldBack(rt), now, process.pid, this.steps.upstream.problems());
  }
}
