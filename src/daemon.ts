// The daemon: wires probe results and kernel events to health and the choice of link, and the kernel
// is reconciled to match. The link registry, the reconciler, the status document and the watchdog live
// in src/core/; every change of state is announced by one function (announce()).
import { LinkRegistry, LinkRuntime, recordRound } from './core/registry';
import { PassOutcome, PassReason, Reconciler } from './core/reconciler';
import { winningDefault } from './net/plan';
import { statusDocument } from './core/statusDoc';
import { Watchdog } from './core/watchdog';
import { DAMPING_DEFAULTS, DampingSettings, describeHold, heldUntil, recordFailure } from './health/damping';
import { forceDown, initialHealth, stepHealth } from './health/hysteresis';
import { qualityLimits, stepQuality } from './health/quality';
import { LinkMonitor, RoundResult, Silence } from './health/monitor';
import { HookEvent, HookRunner } from './hooks';
import { eventFields, Log } from './log';
import { Config, Family, familyLink, LinkConfig, LinkHealth, NetState, Route } from './model';
import { defaultRouteFor, desiredFamilies, learnedGateway6, viewLink, viewLink6 } from './net/desired';
import { LearnedGateway, learnGateways } from './net/gateways';
import { Observation } from './net/router';
import { selectRoute } from './select';
import { Clock, TimerHandle } from './sys/clock';
import { isIPv6Event, LinkEvents } from './sys/linkEvents';
import { Notifier } from './sys/notifier';
import { Prober } from './sys/prober';
import { Runner } from './sys/runner';
import { StatusDoc, StatusSink, statusLine } from './status';
import { PolicyEngine } from './policy/engine';
import { hasPolicies } from './policy/nft';
import { Standing } from './policy/assign';

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

export type Transition =
  | { kind: 'link'; family: Family; link: string; from: LinkHealth; to: LinkHealth }
  | { kind: 'switch'; family: Family; from: string | null; to: string; reason: string };

/**
 * One address family's side of the daemon: its links' health, the link chosen for its default route
 * and the one the kernel routes by. IPv4 and IPv6 are judged and switched independently.
 */
interface Lane {
  family: Family;
  links: LinkRegistry;
  /** The link the last announced switch moved the default route to: selection's "current". */
  active: string | null;
  activeSince: number;
  /** The link the kernel routes by, as read back after the last pass: all that status ever names. */
  routedBy: string | null;
  /** A switch chosen but not yet confirmed by the kernel. */
  pending?: { to: string; reason: string; refused?: string };
  switches: number;
  allDownWarned: boolean;
}

/** "" for IPv4 (as haip always spoke), "IPv6 " for IPv6. */
const fam = (f: Family) => (f === 6 ? 'IPv6 ' : '');

export class Daemon {
  private learned = new Map<string, LearnedGateway>();
  private readonly lanes: Lane[];
  private readonly reconciler: Reconciler;
  private readonly watchdog: Watchdog;
  private readonly policies: PolicyEngine;
  /** Switch hooks wait for the route and sticky's step (DESIGN: route, sticky, hooks). */
  private queuedHooks: HookEvent[] = [];
  private ready = false;
  private stopped = false;
  private statusTimer?: TimerHandle;
  private releaseTimer?: TimerHandle;
  private releaseAt?: number;
  private nftWatched = false;
  private statusDirty = false;

  constructor(
    private config: Config,
    private readonly deps: DaemonDeps,
  ) {
    const lane = (family: Family): Lane => ({
      family,
      links: new LinkRegistry((l) => this.newMonitor(l, family), () => deps.clock.now(), family),
      active: null,
      activeSince: deps.clock.now(),
      routedBy: null,
      switches: 0,
      allDownWarned: false,
    });
    this.lanes = [lane(4), lane(6)];
    this.reconciler = new Reconciler(deps, {
      config: () => this.config,
      desired: (obs) => this.desired(obs),
      active: () => this.lane(4).routedBy,
      healthOf: (n, f) => this.lane(f).links.get(n)?.health.state,
      active6: () => this.lane(6).routedBy,
      settle: (outcome) => this.settle(outcome),
      afterPass: () => {
        this.runQueuedHooks();
        // Policies: decisions from this pass's health into nft's maps, moved connections flushed.
        void this.policies.kick(this.config, (link, family) => this.standing(link, family));
      },
    });
    this.policies = new PolicyEngine({ log: deps.log, nft: deps.nft, conntrack: deps.conntrack, now: () => deps.clock.now(), onChange: () => this.publishStatus() });
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
    return this.lane(family).routedBy;
  }

  /** The link the kernel routes IPv4 by. */
  get activeLink(): string | null {
    return this.lane(4).routedBy;
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
    this.statusTimer?.cancel();
    this.releaseTimer?.cancel();
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
    this.writeStatus();
    const six = this.lane(6);
    log.notice(`stopping; the default route stays ${this.lane(4).routedBy ? `on ${this.lane(4).routedBy}` : 'as it is'}${six.links.size ? `, IPv6's ${six.routedBy ? `on ${six.routedBy}` : 'as it is'}` : ''}`);
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
    for (const lane of this.lanes) {
      if (lane.active && !lane.links.has(lane.active)) lane.active = null;
      if (lane.pending && !lane.links.has(lane.pending.to)) lane.pending = undefined;
    }
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
    const want = (this.config.sticky || hasPolicies(this.config)) && !!this.deps.nftEvents && !this.stopped;
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
        const v = this.lane(family).links.get(l.name)?.view;
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
    const detail = `${r.answered}/${r.total} target${r.total === 1 ? '' : 's'} answered${r.error ? ` (${r.error})` : ''}`;
    this.deps.log.debug(`probe ${link.name}${lane.family === 6 ? ' IPv6' : ''}: ${detail}${r.rttMs !== undefined ? `, rtt ${r.rttMs.toFixed(2)} ms` : ''}`);
    if (r.error && r.error !== rt.lastError && !rt.view.unusable) this.deps.log.error(`probe ${link.name}${lane.family === 6 ? ' IPv6' : ''}: cannot probe: ${r.error}; counting it as a failure`);
    rt.lastError = r.error;
    let next = rt.view.unusable ? forceDown(rt.health, rt.view.unusable, now) : stepHealth(rt.health, r.ok, link.probe, now, detail);
    // Quality is judged while the link answers; an outage is the business of down/up, not of max_loss.
    if (next.state === 'up' || next.state === 'degraded') next = stepQuality(next, rt.quality, qualityLimits(link), now);
    else rt.quality.length = 0;
    if (next.state !== rt.health.state) {
      this.setHealth(rt, next);
      void this.sync('probe');
    } else {
      rt.health = next;
      this.markStatusDirty();
    }
    this.checkReady();
  }

  /** No answer for `down x interval`: an answering link goes down now, not at the end of its rounds. */
  private onSilence(lane: Lane, link: LinkConfig, silence: Silence) {
    const rt = lane.links.get(link.name);
    if (!rt || rt.config !== link || this.stopped || rt.view.unusable) return;
    if (rt.health.state !== 'up' && rt.health.state !== 'degraded') return;
    const { quorum, targets } = link.probe;
    const who = quorum > 1 ? `fewer than ${quorum} of ${targets.length} targets answered` : `no answer from ${targets.length > 1 ? 'any target' : 'its target'}`;
    this.setHealth(rt, forceDown(rt.health, `${who} for ${(silence.forMs / 1000).toFixed(1)} s`, silence.at));
    rt.quality.length = 0;
    void this.sync('probe');
  }

  private setHealth(rt: LinkRuntime, next: LinkHealth) {
    const from = rt.health;
    rt.health = next;
    if ((from.state === 'up' || from.state === 'degraded') && next.state === 'down') rt.damping = recordFailure(rt.damping, this.deps.clock.now(), this.damping());
    if (next.state === 'down' && from.state !== 'down') this.reconciler.flushLater(rt.config.name, rt.family);
    if (from.state !== next.state) this.announce([{ kind: 'link', family: rt.family, link: rt.config.name, from, to: next }]);
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

  // ---- kernel --------------------------------------------------------------------------------------

  /** What the kernel should hold, given what it holds: the links' views and the choice follow it. */
  private desired(obs: Observation): NetState {
    const { mainTable, protocol } = this.config;
    return desiredFamilies(
      this.config,
      this.lanes.map((lane) => {
        this.updateViews(lane, obs);
        if (this.ready) this.choose(lane);
        const keep = obs.net.routes.find((r) => (r.family ?? 4) === lane.family && r.table === mainTable && r.dst === 'default' && r.protocol === protocol);
        return { family: lane.family, views: lane.links.all().map((rt) => rt.view), active: lane.pending?.to ?? lane.active, keep };
      }),
    );
  }

  /**
   * After a pass, with main's default routes read back: a chosen switch is announced only once the
   * kernel routes by the new link; a refused one is told as refused, and the old link stays reported.
   */
  private settle(outcome: PassOutcome) {
    for (const lane of this.lanes) this.settleLane(lane, outcome);
  }

  private settleLane(lane: Lane, outcome: PassOutcome) {
    const winner = winningDefault(outcome.mainDefaults, lane.family);
    const before = lane.routedBy;
    lane.routedBy = winner && winner.protocol === this.config.protocol ? this.linkOfRoute(lane, winner) : null;
    const p = lane.pending;
    if (p && lane.routedBy === p.to) {
      lane.pending = undefined;
      const from = lane.active;
      lane.active = p.to;
      lane.activeSince = this.deps.clock.now();
      lane.switches++;
      lane.allDownWarned = false;
      this.announce([{ kind: 'switch', family: lane.family, from, to: p.to, reason: p.reason }]);
      return;
    }
    if (p) {
      const refusal = outcome.failed.find(
        (f) => f.command.op === 'route-replace' && (f.command.route.family ?? 4) === lane.family && f.command.route.table === this.config.mainTable && f.command.route.dst === 'default',
      );
      const why = refusal ? refusal.error.result.stderr.trim() || refusal.error.message : 'the kernel does not route by it';
      if (why !== p.refused) {
        p.refused = why;
        this.deps.log.error(`${fam(lane.family)}switch to ${p.to} refused: ${why}; the ${fam(lane.family)}default route stays ${lane.routedBy ? `on ${lane.routedBy}` : 'as it is'}; will retry`);
        this.publishStatus();
      }
      return;
    }
    if (before !== lane.routedBy) this.publishStatus();
  }

  /**
   * The link whose default route this is: same interface, and the gateway haip would write for it. Links
   * that would write the very same route (two addresses on one interface, the original haip's demo) are
   * all routed by it: the one being switched to, else the one carrying, else the first.
   */
  private linkOfRoute(lane: Lane, r: Route): string | null {
    const onDev = lane.links.all().filter((rt) => rt.config.interface === r.dev);
    const exact = onDev.filter((rt) => defaultRouteFor(this.config, rt.view, r.table).gateway === r.gateway);
    const names = (exact.length ? exact : onDev).map((rt) => rt.config.name);
    for (const preferred of [lane.pending?.to, lane.active]) if (preferred && names.includes(preferred)) return preferred;
    return names[0] ?? null;
  }

  private updateViews(lane: Lane, obs: Observation) {
    const now = this.deps.clock.now();
    if (lane.family === 4) this.learnGateways(obs);
    for (const rt of lane.links.all()) {
      const before = rt.view;
      const seen = rt.seen;
      const iface = obs.interfaces.get(rt.config.interface);
      const view = lane.family === 6 ? viewLink6(rt.config, iface, learnedGateway6(rt.config, obs.net.routes, this.config)) : viewLink(rt.config, iface, this.learned.get(rt.config.name));
      if (lane.family === 6 && view.gateway !== before.gateway && view.learnedFrom && view.gateway)
        this.deps.log.notice(`${rt.config.name}: IPv6 gateway ${before.gateway ? `${before.gateway} -> ` : ''}${view.gateway}, learned from the kernel's default route via ${view.learnedFrom}`);
      rt.view = view;
      rt.seen = true;
      if (view.unusable) {
        if (view.unusable !== before.unusable && seen) this.deps.log.warning(`${rt.config.name}: ${fam(lane.family)}${view.unusable}`);
        const next = forceDown(rt.health, view.unusable, now);
        if (next.state !== rt.health.state) this.setHealth(rt, next);
        else rt.health = next;
      } else if (before.unusable) {
        if (seen) this.deps.log.notice(`${rt.config.name}: ${rt.config.interface} is usable again for ${lane.family === 6 ? 'IPv6' : 'IPv4'} (source ${view.source})`);
        // A new interface or address has no history: let its first probe round decide, as at start.
        // Carrier coming back on the same address keeps the link down until `up` good rounds.
        // A newly learned gateway is a new path too.
        if (!before.source || before.source !== view.source || before.gateway !== view.gateway) rt.health = { ...initialHealth(now), reason: `${rt.config.interface} appeared` };
        // The interface may be a new one under the old name (a USB modem replugged, a veth re-created):
        // probes bound to the old one would stay silent for good.
        this.deps.prober.forget?.(rt.config.interface);
      } else if (before.source !== view.source) {
        this.deps.log.notice(`${rt.config.name}: ${fam(lane.family)}source address ${before.source} -> ${view.source}`);
      }
    }
  }

  /** Picks the link for the default route; the switch is announced once the kernel confirms it (settle). */
  private choose(lane: Lane) {
    const candidates = lane.links.all().map((rt) => ({ name: rt.config.name, weight: rt.config.weight, health: rt.health, held: this.heldBack(rt) ?? undefined }));
    this.scheduleRelease();
    const choice = selectRoute(candidates, lane.active);
    if (choice.active === null || choice.active === lane.active) {
      lane.pending = undefined;
      if (choice.active === null && lane.active === null && !candidates.some((c) => c.health.state !== 'down')) this.warnAllDown(lane);
      return;
    }
    if (lane.pending?.to !== choice.active) lane.pending = { to: choice.active, reason: choice.reason };
  }

  /** A link's health in a family as policies judge it: its state, and whether damping holds it back. */
  private standing(link: string, family: Family): Standing | undefined {
    const rt = this.lane(family).links.get(link);
    return rt && { state: rt.health.state, held: this.heldBack(rt) !== null };
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
    const times = this.allRuntimes().flatMap((rt) => {
      const until = rt.health.state === 'up' ? heldUntil(rt.damping, now, this.damping()) : null;
      return until === null ? [] : [until];
    });
    const next = times.length ? Math.min(...times) : undefined;
    if (next === this.releaseAt) return;
    this.releaseTimer?.cancel();
    this.releaseAt = next;
    if (next === undefined || this.stopped) return;
    this.releaseTimer = this.deps.clock.setTimeout(() => {
      this.releaseAt = undefined;
      this.releaseTimer = undefined;
      for (const rt of this.allRuntimes()) if (rt.health.state === 'up' && !this.heldBack(rt) && rt.heldLogged) {
        rt.heldLogged = false;
        this.deps.log.notice(`${rt.config.name}${rt.family === 6 ? ' (IPv6)' : ''} is trusted again: its damping penalty decayed`);
      }
      void this.sync('damping');
    }, Math.max(0, next - now));
  }

  /** The shipped config has no links: say what to edit, and change nothing. */
  private warnNoLinks() {
    this.deps.log.notice(`no links configured in ${this.config.source}: haip changes nothing until you add links there and reload (systemctl reload haip)`);
  }

  private warnAllDown(lane: Lane) {
    if (lane.allDownWarned || !lane.links.size) return;
    lane.allDownWarned = true;
    this.deps.log.error(`every link is down ${lane.family === 6 ? 'for IPv6 ' : ''}and no ${fam(lane.family)}default route is ours to keep; still probing every link`);
  }

  // ---- announcing ----------------------------------------------------------------------------------

  /** The one place a change of state is told: the log, hooks, STATUS= and status.json. */
  private announce(transitions: Transition[]) {
    const { log, hooks } = this.deps;
    for (const t of transitions) {
      const lane = this.lane(t.family);
      if (t.kind === 'link') {
        const rt = lane.links.get(t.link)!;
        const msg = `link ${t.link} (${rt.config.interface})${t.family === 6 ? ' IPv6' : ''}: ${t.from.state} -> ${t.to.state}: ${t.to.reason}`;
        const ev = this.hookEvent(t.to.state === 'up' ? 'link-up' : t.to.state === 'degraded' ? 'link-degraded' : 'link-down', rt, t.to.state, t.from.state);
        if (t.to.state === 'down') {
          log.warning(msg, eventFields(ev));
          // Whichever link goes down last: links failing together must be told too.
          if (lane.routedBy && !lane.links.all().some((o) => o.health.state === 'up' || o.health.state === 'degraded'))
            log.error(`every link is down${t.family === 6 ? ' for IPv6' : ''}; keeping the ${fam(t.family)}default route on ${lane.routedBy} and probing on`);
        } else if (t.to.state === 'degraded') log.warning(msg, eventFields(ev));
        else log.notice(msg, eventFields(ev));
        const held = t.to.state === 'up' ? this.heldBack(rt) : null;
        if (held) {
          rt.heldLogged = true;
          log.notice(`${t.link}${t.family === 6 ? ' (IPv6)' : ''} answers again but is ${held}`);
        }
        hooks?.run(ev);
      } else {
        const to = lane.links.get(t.to)!;
        const from = t.from ? lane.links.get(t.from) : undefined;
        const via = (rt: LinkRuntime) => `${rt.config.name} (${rt.config.interface}${this.gatewayOf(rt) ? ` via ${this.gatewayOf(rt)}` : ''})`;
        const msg = `switch: ${fam(t.family)}default route ${from ? via(from) : 'none'} -> ${via(to)}: ${t.reason}`;
        const ev = this.hookEvent('switch', to, to.health.state, t.from ?? '');
        // A move away from a failed link is a warning; anything else (start, fail-back) is a notice.
        if (from && from.health.state !== 'up') log.warning(msg, eventFields(ev));
        else log.notice(msg, eventFields(ev));
        this.queuedHooks.push(ev);
      }
    }
    this.publishStatus();
  }

  private runQueuedHooks() {
    for (const ev of this.queuedHooks.splice(0)) this.deps.hooks?.run(ev);
  }

  private gatewayOf(rt: LinkRuntime): string | undefined {
    return rt.view.gateway ?? (rt.family === 6 ? rt.config.gateway6 : rt.config.gateway);
  }

  /** IPv4 gateways of links without one in the config, from the routes their DHCP clients install. */
  private learnGateways(obs: Observation) {
    const { protocol, mainTable } = this.config;
    const learned = learnGateways(this.config.links, obs.interfaces, obs.deviceRoutes, this.learned, protocol, mainTable);
    for (const [name, g] of learned) {
      const before = this.learned.get(name)?.gateway;
      if (before !== g.gateway) this.deps.log.notice(`${name}: gateway ${before ? `${before} -> ` : ''}${g.gateway}, learned from ${g.from}`);
    }
    this.learned = learned;
  }

  private hookEvent(event: HookEvent['event'], rt: LinkRuntime, state: string, previous: string): HookEvent {
    return { event, family: rt.family, link: rt.config.name, interface: rt.config.interface, state, previous, gateway: this.gatewayOf(rt) };
  }

  private markStatusDirty() {
    if (this.statusDirty || this.stopped) return;
    this.statusDirty = true;
    // RTT and loss change every round; the file and STATUS= are refreshed at most once a second.
    this.statusTimer = this.deps.clock.setTimeout(() => {
      this.statusTimer = undefined;
      if (this.statusDirty) this.publishStatus();
    }, 1000);
  }

  private publishStatus() {
    this.statusDirty = false;
    const doc = this.writeStatus();
    if (this.ready) this.deps.notifier.notify({ STATUS: statusLine(doc) });
  }

  private writeStatus(): StatusDoc {
    const doc = this.statusDoc();
    this.deps.status?.write(doc);
    return doc;
  }

  statusDoc(): StatusDoc {
    const policies = this.policies.status(this.config);
    return policies ? { ...this.linkStatusDoc(), policies } : this.linkStatusDoc();
  }

  private linkStatusDoc(): StatusDoc {
    const [four, six] = this.lanes;
    const refused = this.lanes.map((l) => (l.pending?.refused ? `${fam(l.family)}switch to ${l.pending.to} refused: ${l.pending.refused}; retrying` : null));
    return statusDocument({
      links: four.links.all(),
      active: four.routedBy,
      ...(six.links.size ? { six: { links: six.links.all(), active: six.routedBy, activeSince: six.activeSince, switches: six.switches } } : {}),
      problems: [...refused, this.reconciler.problem(this.deps.clock.now())].filter((x): x is string => x !== null),
      held: (rt) => this.heldBack(rt),
      activeSince: four.activeSince,
      switches: four.switches,
      now: this.deps.clock.now(),
      pid: process.pid,
    });
  }
}
