// Keeps the kernel matching what haip wants: one pass at a time reads the kernel, asks for the desired
// state, applies the difference and then sticky's nft table. Kernel events are debounced, a periodic
// pass catches what no event told, failures are retried with backoff and drift is put back rate-limited.
import { Log } from '../log';
import { Config, LinkState, NetState, routeToString, ruleToString } from '../model';
import { Command, commandToString } from '../net/iproute';
import { reconcile } from '../net/plan';
import { applyCommands, observe, Observation, ReadScope, readScope } from '../net/router';
import { StickyState, syncSticky } from '../net/sticky';
import { Clock, TimerHandle } from '../sys/clock';
import { Runner } from '../sys/runner';

export const EVENT_DEBOUNCE_MS = 30;
export const RESYNC_MS = 30_000;
export const RETRY_MS = 1000;
export const RETRY_MAX_MS = 30_000;
export const DRIFT_MIN_GAP_MS = 500;

export interface ReconcilerDeps {
  ip: Runner;
  clock: Clock;
  log: Log;
  nft?: Runner;
  conntrack?: Runner;
}

/** What the reconciler asks of the daemon. */
export interface ReconcileTarget {
  config(): Config;
  /** Takes what the kernel holds now and returns what it should hold. */
  desired(obs: Observation, why: string): NetState;
  active(): string | null;
  healthOf(link: string): LinkState | undefined;
}

export class Reconciler {
  private stopped = false;
  private syncing?: Promise<void>;
  private syncAgain = false;
  private timers: { event?: TimerHandle; resync?: TimerHandle; retry?: TimerHandle } = {};
  private lastApplied?: string;
  private lastDriftAt = -Infinity;
  private retryDelay = RETRY_MS;
  private sticky: StickyState = { pendingFlush: new Set() };
  /** Link tables of earlier configs, read until haip's routes in them are gone. */
  private formerTables = new Set<number>();

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly target: ReconcileTarget,
  ) {}

  /** Starts the periodic pass. */
  start(): void {
    this.stopped = false;
    this.scheduleResync();
  }

  stop(): void {
    this.stopped = true;
    for (const t of Object.values(this.timers)) t?.cancel();
  }

  /** The pass in flight, if any. */
  get inFlight(): Promise<void> | undefined {
    return this.syncing;
  }

  /** After a reload: whatever differs next is the new config's doing, not drift. */
  forgetApplied(before: Config): void {
    this.lastApplied = undefined;
    for (const t of readScope(before).tables) this.formerTables.add(t);
  }

  /** The connections of a link that went down are flushed after the next pass. */
  flushLater(link: string): void {
    this.sticky.pendingFlush.add(link);
  }

  /** A kernel event: one pass shortly, however many events come. */
  kernelEvent(what: string): void {
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

  /** Runs passes one at a time; a request during a pass gets one more pass after it. */
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
          if (await syncSticky(this.sticky, why, this.target.config(), this.deps, this.target.active(), (n) => this.target.healthOf(n))) this.retryLater();
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
      obs = await observe(ip, this.scope());
    } catch (err) {
      log.error(`reading the kernel's state (${why}): ${(err as Error).message}`);
      this.retryLater();
      return;
    }
    this.keepFormerTables(obs);
    const desired = this.target.desired(obs, why);
    const commands = reconcile(desired, obs.net, this.target.config().protocol);
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

  /** The config's tables and those of earlier configs that still held haip's routes at the last read. */
  private scope(): ReadScope {
    const scope = readScope(this.target.config());
    const tables = new Set([...scope.tables, ...this.formerTables]);
    this.formerTables = new Set([...tables].filter((t) => !scope.tables.includes(t)));
    return { ...scope, tables: [...tables] };
  }

  private keepFormerTables(obs: Observation) {
    const protocol = this.target.config().protocol;
    for (const t of [...this.formerTables]) if (!obs.net.routes.some((r) => r.table === t && r.protocol === protocol)) this.formerTables.delete(t);
  }

  private retryLater(ms = RETRY_MS) {
    if (this.stopped || this.timers.retry) return;
    this.timers.retry = this.deps.clock.setTimeout(() => {
      this.timers.retry = undefined;
      void this.sync('retry');
    }, ms);
  }
}

function render(s: NetState): string {
  return [...s.routes.map(routeToString), ...s.rules.map(ruleToString)].sort().join('\n');
}

function describeDrift(c: Command, actual: NetState): string {
  if (c.op === 'route-replace') {
    const now = actual.routes.find((r) => r.table === c.route.table && r.dst === c.route.dst && (r.metric ?? 0) === (c.route.metric ?? 0));
    return now ? `${routeToString(now)} -> ${routeToString(c.route)}` : `missing ${routeToString(c.route)}`;
  }
  if (c.op === 'rule-add') return `missing rule ${ruleToString(c.rule)}`;
  return commandToString(c);
}
