// The daemon: wiring and lifecycle. Probe rounds are folded into each link's health by
// src/core/probing.ts (with damping's hold), kernel events start a reconcile pass (src/core/reconciler.ts) runs the steps of src/core/pass.ts
// (views, the choice of link in src/core/selector.ts, desired, settle), and every change is told by
// src/core/announce.ts; policies and the LAN's RAs follow each pass (src/core/followers.ts). This file
// starts, reloads and stops them and holds the timers they ask for.
import { Alarm } from './core/alarm';
import { Announcer, Transition } from './core/announce';
import { DaemonDeps } from './core/deps';
import { Lanes } from './core/lanes';
import { PassSteps } from './core/pass';
import { Followers } from './core/followers';
import { lan6Input } from './core/lan6';
import { Probing } from './core/probing';
import { PassReason, Reconciler } from './core/reconciler';
import { lanesStatus } from './core/statusDoc';
import { Watchdog } from './core/watchdog';
import { Config, Family, LinkHealth } from './model';
import { isIPv6Event } from './sys/linkEvents';
import { StatusDoc, statusLine } from './status';

export type { DaemonDeps };
export type { Transition };

export class Daemon {
  private readonly steps: PassSteps;
  private readonly lanes: Lanes;
  private readonly reconciler: Reconciler;
  private readonly watchdog: Watchdog;
  private readonly announcer: Announcer;
  private readonly followers: Followers;
  private ready = false;
  private stopped = false;
  private readonly probing: Probing;
  /** A pass when the first refused route may be tried again. */
  private readonly retryAlarm: Alarm;

  constructor(
    private config: Config,
    private readonly deps: DaemonDeps,
  ) {
    this.lanes = new Lanes((l, family) => this.probing.newMonitor(l, family), () => deps.clock.now());
    this.reconciler = new Reconciler(deps, {
      config: () => this.config,
      desired: (obs) => this.steps.desired(obs),
      settle: (outcome) => {
        const settled = this.steps.settle(outcome);
        return {
          ...settled,
          then: () => {
            settled.then();
            this.followers.afterPass();
          },
        };
      },
    });
    this.announcer = new Announcer(deps, {
      runtime: (f, n) => this.lanes.of(f).links.get(n),
      runtimes: (f) => this.lanes.of(f).links.all(),
      routedBy: (f) => this.lanes.of(f).sel.routedBy,
      heldBack: (rt) => this.probing.heldBack(rt),
      statusDoc: () => this.statusDoc(),
      ready: () => this.ready,
      stopped: () => this.stopped,
    });
    this.steps = new PassSteps(this.lanes.both, {
      config: () => this.config,
      now: () => deps.clock.now(),
      log: deps.log,
      ip: deps.ip,
      announcer: this.announcer,
      ready: () => this.ready,
      heldBack: (rt) => this.probing.heldBack(rt),
      setHealth: (rt, next) => this.probing.setHealth(rt, next),
      forgetProbes: (device) => deps.prober.forget?.(device),
      // Not after stop: the effective-route lookups of the last pass may answer later.
      sync: (why) => void (!this.stopped && this.sync(why)),
      later: (fn, ms) => deps.clock.setTimeout(fn, ms),
      beforeChoice: () => this.probing.scheduleRelease(),
      retryAt: (times) => !this.stopped && this.retryAlarm.set(times),
    });
    this.followers = new Followers(deps, {
      config: () => this.config,
      ready: () => this.ready,
      stopped: () => this.stopped,
      standing: (link, family) => {
        const rt = this.lanes.of(family).links.get(link);
        return rt && { state: rt.health.state, held: this.probing.heldBack(rt) !== null };
      },
      lan6Input: () => lan6Input(this.config.lan6, this.steps.observed, this.lanes.of(6).links.all(), this.steps.refusedPrefixes6()),
      publish: () => this.announcer.publish(),
      nftEvent: (what) => this.reconciler.nftEvent(what),
    });
    this.probing = new Probing(deps, this.announcer, {
      config: () => this.config,
      lane: (f) => this.lanes.of(f),
      runtimes: () => this.lanes.runtimes(),
      stopped: () => this.stopped,
      sync: (why) => void this.sync(why),
      flushLater: (link, family) => this.reconciler.flushLater(link, family),
      afterRound: () => this.checkReady(),
    });
    this.retryAlarm = new Alarm(deps.clock, () => void this.sync('retry'));
    this.watchdog = new Watchdog(deps, deps.watchdogMs, () => this.lanes.runtimes(), (now) => this.reconciler.hung(now));
  }

  /** The link the kernel routes the family's traffic by. */
  activeLinkOf(family: Family): string | null {
    return this.lanes.of(family).sel.routedBy;
  }

  /** The link the kernel routes IPv4 by. */
  get activeLink(): string | null {
    return this.lanes.of(4).sel.routedBy;
  }

  healthOf(name: string, family: Family = 4): LinkHealth | undefined {
    return this.lanes.health(name, family);
  }

  get isReady(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    const { log } = this.deps;
    this.deps.onConfig?.(this.config);
    this.lanes.add(this.config);
    if (!this.config.links.length) this.warnNoLinks();
    else log.notice(`starting with ${this.config.links.length} link(s) from ${this.config.source}: ${this.config.links.map((l) => `${l.name} (${l.interface}, weight ${l.weight})`).join(', ')}`);
    await this.sync('start');
    this.lanes.startProbing();
    this.deps.events?.start((what) => {
      // Router advertisements refresh IPv6 routes every few seconds: without IPv6 links they are noise.
      if (!this.lanes.of(6).links.size && isIPv6Event(what)) return;
      this.reconciler.kernelEvent(what);
    });
    this.followers.watchNft();
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
    this.probing.stop();
    this.retryAlarm.cancel();
    this.reconciler.stop();
    this.watchdog.stop();
    this.lanes.stopProbing();
    const parts: [string, () => void][] = [
      ['link events', () => this.deps.events?.stop()],
      ['hooks', () => this.deps.hooks?.stop?.()],
      ['prober', () => this.deps.prober.close?.()],
      ...this.followers.stopParts(),
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
    log.notice(`stopping; ${this.lanes.leftAs()}`);
  }

  /** Takes a new, already validated config: unchanged links keep their state and their probes. */
  async reload(next: Config): Promise<void> {
    const { log } = this.deps;
    const before = this.config;
    this.config = next;
    this.deps.onConfig?.(next);
    const { changed, removed } = this.lanes.reload(next, !this.stopped);
    if (!next.links.length) this.warnNoLinks();
    log.notice(
      `reloaded ${next.source}: ${next.links.length} link(s)` +
        (changed.length ? `; new or changed: ${changed.join(', ')}` : '') +
        (removed.length ? `; removed: ${removed.join(', ')}` : '') +
        (!changed.length && !removed.length ? '; links unchanged' : ''),
    );
    this.reconciler.forgetApplied(before);
    this.followers.watchNft();
    await this.sync('reload');
    this.checkReady();
  }

  /** One reconcile pass (or one more after the pass in flight). */
  sync(why: PassReason): Promise<void> {
    return this.reconciler.sync(why);
  }

  private checkReady() {
    if (this.ready || this.stopped) return;
    if (this.lanes.runtimes().some((rt) => rt.health.state === 'unknown')) return;
    this.ready = true;
    void this.sync('ready').then(() => {
      if (this.stopped) return;
      this.deps.notifier.notify({ READY: '1', STATUS: statusLine(this.statusDoc()) });
      this.deps.log.notice(`ready: ${statusLine(this.statusDoc())}`);
    });
  }

  /** The shipped config has no links: say what to edit, and change nothing. */
  private warnNoLinks() {
    this.deps.log.notice(`no links configured in ${this.config.source}: haip changes nothing until you add links there and reload (systemctl reload haip)`);
  }

  statusDoc(): StatusDoc {
    const now = this.deps.clock.now();
    const { lan6, policies } = this.followers.status(this.config);
    const doc = lanesStatus(this.lanes.both, this.reconciler.problem(now), (rt) => this.probing.heldBack(rt), now, process.pid, this.steps.upstream.problems(), { refused6: this.steps.refusedPrefixes6(), lan6 });
    return policies ? { ...doc, policies } : doc;
  }
}
