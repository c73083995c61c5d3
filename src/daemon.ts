// The daemon: probe results and kernel events go in, health and the choice of link come out, and the
// kernel is reconciled to match. Every change of state is announced by one function (announce()).
import { forceDown, initialHealth, stepHealth } from './health/hysteresis';
import { LinkMonitor, RoundResult } from './health/monitor';
import { HookEvent, HookRunner } from './hooks';
import { Log } from './log';
import { Config, LinkConfig, LinkHealth, routeToString, ruleToString, NetState } from './model';
import { desiredState, LinkView, viewLink } from './net/desired';
import { LearnedGateway, learnGateways } from './net/gateways';
import { syncSticky, StickyState } from './net/sticky';
import { commandToString } from './net/iproute';
import { reconcile } from './net/plan';
import { applyCommands, observe, Observation } from './net/router';
import { selectRoute } from './select';
import { Clock, TimerHandle } from './sys/clock';
import { LinkEvents } from './sys/linkEvents';
import { Notifier } from './sys/notifier';
import { Prober } from './sys/prober';
import { Runner } from './sys/runner';
import { LinkStatus, StatusDoc, StatusSink, statusLine } from './status';

export interface DaemonDeps {
  ip: Runner;
  prober: Prober;
  clock: Clock;
  notifier: Notifier;
  log: Log;
  events?: LinkEvents;
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

interface Round {
  at: number;
  answered: number;
  total: number;
  rttMs?: number;
  perTarget: { address: string; alive: boolean; rttMs?: number }[];
}

/** Per-link bookkeeping: what the config says, what the kernel shows, and how probing goes. */
interface LinkRuntime {
  config: LinkConfig;
  view: LinkView;
  health: LinkHealth;
  monitor: LinkMonitor;
  rounds: Round[];
  roundsTotal: number;
  /** When a round last completed with every probe settled: what the watchdog looks at. */
  lastTurnAt: number;
  lastError?: string;
}

export type Transition =
  | { kind: 'link'; link: string; from: LinkHealth; to: LinkHealth }
  | { kind: 'switch'; from: string | null; to: string; reason: string };

const HISTORY_MS = 60_000;
const EVENT_DEBOUNCE_MS = 30;
const RESYNC_MS = 30_000;
const RETRY_MS = 1000;
const RETRY_MAX_MS = 30_000;
const DRIFT_MIN_GAP_MS = 500;

export class Daemon {
  private links = new Map<string, LinkRuntime>();
  private active: string | null = null;
  private activeSince: number;
  private ready = false;
  private stopped = false;
  private syncing?: Promise<void>;
  private syncAgain = false;
  private timers: { event?: TimerHandle; resync?: TimerHandle; retry?: TimerHandle; watchdog?: TimerHandle; status?: TimerHandle } = {};
  private lastApplied?: string;
  private lastDriftAt = -Infinity;
  private statusDirty = false;
  private sticky: StickyState = { pendingFlush: new Set() };
  private switches = 0;
  private retryDelay = RETRY_MS;
  private learned = new Map<string, LearnedGateway>();

  constructor(
    private config: Config,
    private readonly deps: DaemonDeps,
  ) {
    this.activeSince = deps.clock.now();
  }

  get activeLink(): string | null {
    return this.active;
  }

  healthOf(name: string): LinkHealth | undefined {
    return this.links.get(name)?.health;
  }

  get isReady(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    const { log } = this.deps;
    this.deps.onConfig?.(this.config);
    for (const l of this.config.links) this.addLink(l);
    if (!this.config.links.length) this.warnNoLinks();
    else log.notice(`starting with ${this.config.links.length} link(s) from ${this.config.source}: ${this.config.links.map((l) => `${l.name} (${l.interface}, weight ${l.weight})`).join(', ')}`);
    await this.sync('start');
    for (const rt of this.links.values()) rt.monitor.start();
    this.deps.events?.start((what) => this.onKernelEvent(what));
    this.scheduleResync();
    this.feedWatchdog();
    this.checkReady();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const { log, notifier } = this.deps;
    notifier.notify({ STOPPING: '1' });
    for (const t of Object.values(this.timers)) t?.cancel();
    for (const rt of this.links.values()) rt.monitor.stop();
    const parts: [string, () => void][] = [
      ['link events', () => this.deps.events?.stop()],
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
    await Promise.race([this.syncing, new Promise((r) => this.deps.clock.setTimeout(() => r(undefined), 500))]);
    this.writeStatus();
    log.notice(`stopping; the default route stays ${this.active ? `on ${this.active}` : 'as it is'}`);
  }

  /** Takes a new, already validated config: unchanged links keep their state and their probes. */
  async reload(next: Config): Promise<void> {
    const { log } = this.deps;
    const before = this.config;
    this.config = next;
    this.deps.onConfig?.(next);
    const unchanged = new Set<string>();
    for (const l of next.links) {
      const rt = this.links.get(l.name);
      if (rt && JSON.stringify(rt.config) === JSON.stringify(l)) {
        unchanged.add(l.name);
        continue;
      }
      if (rt && rt.config.interface === l.interface) {
        // Same interface: the link's state carries on (a reload must not move the default route away
        // and back); new probe settings count from the next round.
        const probingChanged = !sameProbing(rt.config, l);
        rt.config = l;
        rt.monitor.stop();
        rt.monitor = this.newMonitor(l);
        if (probingChanged) {
          rt.health = { ...rt.health, streak: 0 };
          rt.rounds = [];
        }
        if (!this.stopped) rt.monitor.start();
        continue;
      }
      if (rt) rt.monitor.stop();
      this.links.delete(l.name);
      this.addLink(l);
      if (!this.stopped) this.links.get(l.name)!.monitor.start();
    }
    for (const name of [...this.links.keys()]) {
      if (!next.links.some((l) => l.name === name)) {
        this.links.get(name)!.monitor.stop();
        this.links.delete(name);
      }
    }
    // Keep config order in the map.
    this.links = new Map(next.links.map((l) => [l.name, this.links.get(l.name)!]));
    const changed = next.links.filter((l) => !unchanged.has(l.name)).map((l) => l.name);
    const removed = before.links.filter((l) => !next.links.some((n) => n.name === l.name)).map((l) => l.name);
    if (!next.links.length) this.warnNoLinks();
    log.notice(
      `reloaded ${next.source}: ${next.links.length} link(s)` +
        (changed.length ? `; new or changed: ${changed.join(', ')}` : '') +
        (removed.length ? `; removed: ${removed.join(', ')}` : '') +
        (!changed.length && !removed.length ? '; links unchanged' : ''),
    );
    if (this.active && !this.links.has(this.active)) this.active = null;
    this.lastApplied = undefined;
    await this.sync('reload');
    this.checkReady();
  }

  private addLink(l: LinkConfig) {
    const now = this.deps.clock.now();
    this.links.set(l.name, {
      config: l,
      view: { link: l, unusable: 'not looked at yet' },
      health: initialHealth(now),
      monitor: this.newMonitor(l),
      rounds: [],
      roundsTotal: 0,
      lastTurnAt: now,
    });
  }

  private newMonitor(l: LinkConfig): LinkMonitor {
    return new LinkMonitor(
      l,
      this.deps.clock,
      this.deps.prober,
      () => {
        const v = this.links.get(l.name)?.view;
        return { address: v && !v.unusable ? v.source : undefined, why: v?.unusable };
      },
      (link, r) => this.onRound(link, r),
    );
  }

  // ---- probing -------------------------------------------------------------------------------------

  private onRound(link: LinkConfig, r: RoundResult) {
    const rt = this.links.get(link.name);
    if (!rt || rt.config !== link || this.stopped) return;
    const now = this.deps.clock.now();
    if (!r.stuck) rt.lastTurnAt = now;
    rt.roundsTotal++;
    rt.rounds.push({
      at: r.at,
      answered: r.answered,
      total: r.total,
      rttMs: r.rttMs,
      perTarget: r.perTarget.map((p) => ({ address: p.address, alive: p.result.alive, rttMs: p.result.rttMs })),
    });
    while (rt.rounds.length && rt.rounds[0].at < now - HISTORY_MS) rt.rounds.shift();
    const detail = `${r.answered}/${r.total} target${r.total === 1 ? '' : 's'} answered${r.error ? ` (${r.error})` : ''}`;
    this.deps.log.debug(`probe ${link.name}: ${detail}${r.rttMs !== undefined ? `, rtt ${r.rttMs.toFixed(2)} ms` : ''}`);
    if (r.error && r.error !== rt.lastError && !rt.view.unusable) this.deps.log.error(`probe ${link.name}: cannot probe: ${r.error}; counting it as a failure`);
    rt.lastError = r.error;
    const next = rt.view.unusable ? forceDown(rt.health, rt.view.unusable, now) : stepHealth(rt.health, r.ok, link.probe, now, detail);
    if (next.state !== rt.health.state) {
      this.setHealth(rt, next);
      void this.sync('probe');
    } else {
      rt.health = next;
      this.markStatusDirty();
    }
    this.checkReady();
  }

  private setHealth(rt: LinkRuntime, next: LinkHealth) {
    const from = rt.health;
    rt.health = next;
    if (next.state === 'down' && from.state !== 'down') this.sticky.pendingFlush.add(rt.config.name);
    if (from.state !== next.state) this.announce([{ kind: 'link', link: rt.config.name, from, to: next }]);
  }

  private checkReady() {
    if (this.ready || this.stopped) return;
    if ([...this.links.values()].some((rt) => rt.health.state === 'unknown')) return;
    this.ready = true;
    void this.sync('ready').then(() => {
      if (this.stopped) return;
      this.deps.notifier.notify({ READY: '1', STATUS: statusLine(this.statusDoc()) });
      this.deps.log.notice(`ready: ${statusLine(this.statusDoc())}`);
    });
  }

  // ---- kernel --------------------------------------------------------------------------------------

  private onKernelEvent(what: string) {
    if (this.stopped) return;
    this.deps.log.debug(`kernel: ${what}`);
    if (this.timers.event) return;
    this.timers.event = this.deps.clock.setTimeout(() => {
      this.timers.event = undefined;
      void this.sync('kernel event');
    }, EVENT_DEBOUNCE_MS);
  }

  private scheduleResync() {
    this.timers.resync = this.deps.clock.setTimeout(() => {
      void this.sync('periodic check');
      this.scheduleResync();
    }, RESYNC_MS);
  }

  /** Runs reconcile passes one at a time; a request during a pass gets one more pass after it. */
  sync(why: string): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncOnce(why);
          // After the routes: a flushed connection's next packet must already find the new default route.
          if (await syncSticky(this.sticky, why, this.config, this.deps, this.active, (n) => this.links.get(n)?.health.state)) this.retryLater();
        } while (this.syncAgain && !this.stopped);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private async syncOnce(why: string): Promise<void> {
    const { log, ip } = this.deps;
    let obs: Observation;
    try {
      obs = await observe(ip, this.config.links.filter((l) => !l.gateway).map((l) => l.interface));
    } catch (err) {
      log.error(`reading the kernel's state (${why}): ${(err as Error).message}`);
      this.retryLater();
      return;
    }
    this.updateViews(obs);
    if (this.ready) this.choose();
    const { mainTable, protocol } = this.config;
    const keep = obs.net.routes.find((r) => r.table === mainTable && r.dst === 'default' && r.protocol === protocol);
    const desired = desiredState(this.config, [...this.links.values()].map((rt) => rt.view), this.active, keep);
    const commands = reconcile(desired, obs.net, protocol);
    if (!commands.length) {
      this.lastApplied = render(desired);
      this.retryDelay = RETRY_MS;
      return;
    }
    const drift = this.lastApplied !== undefined && this.lastApplied === render(desired);
    if (drift) {
      const now = this.deps.clock.now();
      if (now - this.lastDriftAt < DRIFT_MIN_GAP_MS) {
        this.retryLater(DRIFT_MIN_GAP_MS - (now - this.lastDriftAt));
        return;
      }
      this.lastDriftAt = now;
      for (const c of commands) log.warning(`changed outside haip, putting back: ${describeDrift(c, obs.net)}`);
    }
    const result = await applyCommands(ip, commands);
    for (const c of result.applied) log.info(`applied: ${commandToString(c)}`);
    for (const e of result.errors) log.error(`${why}: ${e.message}; will retry`);
    if (result.errors.length) {
      this.lastApplied = undefined;
      // A failure that persists is retried less and less often (1 s, 2 s, ... 30 s), not logged every second.
      this.retryLater(this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
    } else {
      this.lastApplied = render(desired);
      this.retryDelay = RETRY_MS;
    }
  }

  private retryLater(ms = RETRY_MS) {
    if (this.stopped || this.timers.retry) return;
    this.timers.retry = this.deps.clock.setTimeout(() => {
      this.timers.retry = undefined;
      void this.sync('retry');
    }, ms);
  }

  private updateViews(obs: Observation) {
    const now = this.deps.clock.now();
    const { protocol, mainTable } = this.config;
    const learned = learnGateways(this.config.links, obs.interfaces, obs.deviceRoutes, this.learned, protocol, mainTable);
    for (const [name, g] of learned) {
      const before = this.learned.get(name)?.gateway;
      if (before !== g.gateway) this.deps.log.notice(`${name}: gateway ${before ? `${before} -> ` : ''}${g.gateway}, learned from ${g.from}`);
    }
    this.learned = learned;
    for (const rt of this.links.values()) {
      const before = rt.view;
      const view = viewLink(rt.config, obs.interfaces.get(rt.config.interface), learned.get(rt.config.name));
      rt.view = view;
      if (view.unusable) {
        if (view.unusable !== before.unusable && before.unusable !== 'not looked at yet') this.deps.log.warning(`${rt.config.name}: ${view.unusable}`);
        const next = forceDown(rt.health, view.unusable, now);
        if (next.state !== rt.health.state) this.setHealth(rt, next);
        else rt.health = next;
      } else if (before.unusable) {
        if (before.unusable !== 'not looked at yet') this.deps.log.notice(`${rt.config.name}: ${rt.config.interface} is usable again (source ${view.source})`);
        // A new interface or address has no history: let its first probe round decide, as at start.
        // Carrier coming back on the same address keeps the link down until `up` good rounds.
        // A newly learned gateway is a new path too.
        if (!before.source || before.source !== view.source || before.gateway !== view.gateway) rt.health = { ...initialHealth(now), reason: `${rt.config.interface} appeared` };
      } else if (before.source !== view.source) {
        this.deps.log.notice(`${rt.config.name}: source address ${before.source} -> ${view.source}`);
      }
    }
  }

  private choose() {
    const candidates = [...this.links.values()].map((rt) => ({ name: rt.config.name, weight: rt.config.weight, health: rt.health }));
    const choice = selectRoute(candidates, this.active);
    if (choice.active === null || choice.active === this.active) {
      if (choice.active === null && this.active === null && !candidates.some((c) => c.health.state !== 'down')) this.warnAllDown();
      return;
    }
    const from = this.active;
    this.active = choice.active;
    this.activeSince = this.deps.clock.now();
    this.switches++;
    this.allDownWarned = false;
    this.announce([{ kind: 'switch', from, to: choice.active, reason: choice.reason }]);
  }

  /** The shipped config has no links: say what to edit, and change nothing. */
  private warnNoLinks() {
    this.deps.log.notice(`no links configured in ${this.config.source}: haip changes nothing until you add links there and reload (systemctl reload haip)`);
  }

  private allDownWarned = false;
  private warnAllDown() {
    if (this.allDownWarned || !this.links.size) return;
    this.allDownWarned = true;
    this.deps.log.error('every link is down and no default route is ours to keep; still probing every link');
  }

  // ---- announcing ----------------------------------------------------------------------------------

  /** The one place a change of state is told: the log, hooks, STATUS= and status.json. */
  private announce(transitions: Transition[]) {
    const { log, hooks } = this.deps;
    for (const t of transitions) {
      if (t.kind === 'link') {
        const rt = this.links.get(t.link)!;
        const msg = `link ${t.link} (${rt.config.interface}): ${t.from.state} -> ${t.to.state}: ${t.to.reason}`;
        if (t.to.state === 'down') {
          log.warning(msg);
          // Whichever link goes down last: links failing together must be told too.
          if (this.active && ![...this.links.values()].some((o) => o.health.state === 'up'))
            log.error(`every link is down; keeping the default route on ${this.active} and probing on`);
        } else log.notice(msg);
        hooks?.run(this.hookEvent(t.to.state === 'up' ? 'link-up' : 'link-down', rt, t.to.state, t.from.state));
      } else {
        const to = this.links.get(t.to)!;
        const from = t.from ? this.links.get(t.from) : undefined;
        const via = (rt: LinkRuntime) => `${rt.config.name} (${rt.config.interface}${rt.view.gateway ? ` via ${rt.view.gateway}` : ''})`;
        const msg = `switch: default route ${from ? via(from) : 'none'} -> ${via(to)}: ${t.reason}`;
        // A move away from a failed link is a warning; anything else (start, fail-back) is a notice.
        if (from && from.health.state !== 'up') log.warning(msg);
        else log.notice(msg);
        hooks?.run(this.hookEvent('switch', to, to.health.state, t.from ?? ''));
      }
    }
    this.publishStatus();
  }

  private hookEvent(event: HookEvent['event'], rt: LinkRuntime, state: string, previous: string): HookEvent {
    return { event, link: rt.config.name, interface: rt.config.interface, state, previous, gateway: rt.view.gateway };
  }

  private markStatusDirty() {
    if (this.statusDirty || this.stopped) return;
    this.statusDirty = true;
    // RTT and loss change every round; the file and STATUS= are refreshed at most once a second.
    this.timers.status = this.deps.clock.setTimeout(() => {
      this.timers.status = undefined;
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
    const iso = (t: number) => new Date(t).toISOString();
    const links: LinkStatus[] = [...this.links.values()].map((rt) => {
      const last = rt.rounds[rt.rounds.length - 1];
      const sent = rt.rounds.reduce((a, r) => a + r.total, 0);
      const got = rt.rounds.reduce((a, r) => a + r.answered, 0);
      return {
        name: rt.config.name,
        interface: rt.config.interface,
        state: rt.health.state,
        since: iso(rt.health.since),
        reason: rt.health.reason,
        rtt_ms: last?.rttMs !== undefined ? round2(last.rttMs) : null,
        loss: sent ? round2(1 - got / sent) : null,
        weight: rt.config.weight,
        table: rt.config.table ?? null,
        source: rt.view.source ?? null,
        gateway: rt.view.gateway ?? null,
        targets: rt.config.probe.targets.map((address) => {
          const answers = rt.rounds.map((r) => r.perTarget.find((p) => p.address === address)).filter((p) => p !== undefined);
          const lastAnswer = answers[answers.length - 1];
          return {
            address,
            rtt_ms: lastAnswer?.alive && lastAnswer.rttMs !== undefined ? round2(lastAnswer.rttMs) : null,
            loss: answers.length ? round2(answers.filter((p) => !p!.alive).length / answers.length) : null,
          };
        }),
        recent_rtt_ms: rt.rounds.slice(-30).map((r) => (r.rttMs !== undefined ? round2(r.rttMs) : null)),
        rounds: rt.roundsTotal,
      };
    });
    return { active: this.active, since: iso(this.activeSince), pid: process.pid, updated: iso(this.deps.clock.now()), switches: this.switches, links };
  }

  // ---- watchdog ------------------------------------------------------------------------------------

  /** WATCHDOG=1 only while probe rounds keep completing: a hung loop must get us restarted. */
  private feedWatchdog() {
    const every = this.deps.watchdogMs;
    if (!every || this.stopped) return;
    // Every link's loop must be turning: one stuck link is a hang too.
    const now = this.deps.clock.now();
    let worst = 0;
    for (const rt of this.links.values()) {
      const late = now - rt.lastTurnAt - (2 * (rt.config.probe.intervalMs + rt.config.probe.timeoutMs) + 2000);
      if (late > 0) worst = Math.max(worst, now - rt.lastTurnAt);
    }
    if (worst) this.deps.log.error(`no probe round completed for ${worst} ms; not feeding the watchdog`);
    else this.deps.notifier.notify({ WATCHDOG: '1' });
    this.timers.watchdog = this.deps.clock.setTimeout(() => this.feedWatchdog(), every);
  }
}

function sameProbing(a: LinkConfig, b: LinkConfig): boolean {
  return a.interface === b.interface && a.source === b.source && JSON.stringify(a.probe) === JSON.stringify(b.probe);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function render(s: NetState): string {
  return [...s.routes.map(routeToString), ...s.rules.map(ruleToString)].sort().join('\n');
}

function describeDrift(c: import('./net/iproute').Command, actual: NetState): string {
  if (c.op === 'route-replace') {
    const now = actual.routes.find((r) => r.table === c.route.table && r.dst === c.route.dst && (r.metric ?? 0) === (c.route.metric ?? 0));
    return now ? `${routeToString(now)} -> ${routeToString(c.route)}` : `missing ${routeToString(c.route)}`;
  }
  if (c.op === 'rule-add') return `missing rule ${ruleToString(c.rule)}`;
  return commandToString(c);
}

