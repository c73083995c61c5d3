// Keeps the kernel matching what haip wants: one pass at a time reads the kernel, asks for the desired
// state, applies the difference and then sticky's nft table. Kernel events are coalesced (burst.ts), a periodic
// pass catches what no event told, failures are retried with backoff and drift is put back rate-limited.
import { RETRY_MAX_MS, RETRY_MS } from './backoff';
import { Burst, eventPassAt, eventPassStarted, quietBurst } from './burst';
import { DriftLog } from './drift';
import { LimitedLines } from './logLimit';
import { Log } from '../log';
import { Config, Family, LinkState, NetState, Route, routeToString, ruleToString } from '../model';
import { Command, commandToString } from '../net/iproute';
import { reconcile, withoutForeignConflicts } from '../net/plan';
import { applyThenRead, observe, Observation, ReadScope, readScope } from '../net/router';
import { syncRpFilter } from '../net/rpfilter';
import { StickyState, syncSticky } from '../net/sticky';
import { PassReason } from './reasons';

export { PassReason };
import { Clock, TimerHandle } from '../sys/clock';
import { CommandError, Runner } from '../sys/runner';
import { Sysctl } from '../sys/sysctl';

export const RESYNC_MS = 30_000;
export const DRIFT_MIN_GAP_MS = 500;
/** A pass running this long, or `ip` timing out this long, is a hang: the watchdog stops being fed. */
export const HUNG_LIMIT_MS = 20_000;
/** Longer than any pass that is not waiting for a hung `ip` (ProcessRunner gives up after 5 s). */
export const SLOW_PASS_MS = 6000;
/** The exit code ProcessRunner gives a command it killed at its time limit. */
export const TIMED_OUT = 124;

export interface ReconcilerDeps {
  ip: Runner;
  clock: Clock;
  log: Log;
  nft?: Runner;
  conntrack?: Runner;
  /** /proc/sys: rp_filter and src_valid_mark, checked at start and reload (net/rpfilter.ts). */
  sysctl?: Sysctl;
}

/** What the reconciler asks of the daemon: the desired state, and a sink for what each pass found. */
export interface PassTarget {
  config(): Config;
  /** Takes what the kernel holds now and returns what it should hold. */
  desired(obs: Observation, why: PassReason): NetState;
  /**
   * After every pass: main's default routes as the kernel holds them now and the commands it refused
   * (undefined when the pass read nothing back). Returns what sticky's step follows.
   */
  settle(outcome: PassOutcome | undefined): Settled;
}

/** The routing a pass settled on, for sticky's step, and what comes last in a change. */
export interface Settled {
  /** The links the kernel routes IPv4 and IPv6 by. */
  routedBy: { 4: string | null; 6: string | null };
  healthOf(link: string, family: Family): LinkState | undefined;
  /** After sticky's step (switch hooks). */
  then(): void;
}

export interface PassOutcome {
  /** Main's default routes read back after the pass, in the kernel's order. */
  mainDefaults: Route[];
  failed: { command: Command; error: CommandError }[];
  /** The pass changed the kernel: what it observed before is no longer the truth. */
  changed?: boolean;
}

export class Reconciler {
  private stopped = false;
  private syncing?: Promise<void>;
  private syncAgain = false;
  private timers: { event?: TimerHandle; resync?: TimerHandle; retry?: TimerHandle } = {};
  private lastApplied?: string;
  private lastDriftAt = -Infinity;
  /** What changed outside haip and what stands in its way, told once per burst (drift.ts). */
  private readonly drift: DriftLog;
  private retryDelay = RETRY_MS;
  /** Kernel and nft events: when their last pass ran, and the gap a burst of them waits for. */
  private burst: Burst = quietBurst();
  /** `applied:` lines: the same command applied again and again (a carrier storm) is counted, not logged. */
  private appliedLines = new LimitedLines();
  private nftDue = false;
  private sticky: StickyState = { pendingFlush: new Set(), pendingFlush6: new Set() };
  /** `ip` as the passes use it: every answer is looked at for a time-out. */
  private readonly ip: Runner;
  private passStartedAt?: number;
  /** Since when `ip` has been timing out, and the last command that did; cleared by a pass without one. */
  private timeouts?: { since: number; argv: string[]; inPass: boolean };
  /** Link tables of earlier configs, read until haip's routes in them are gone. */
  private formerTables = new Set<number>();

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly target: PassTarget,
  ) {
    this.drift = new DriftLog(deps.log);
    this.ip = {
      run: async (argv, input) => {
        const r = await deps.ip.run(argv, input);
        if (r.code === TIMED_OUT) this.timeouts = { since: this.timeouts?.since ?? deps.clock.now(), argv, inPass: true };
        return r;
      },
    };
  }

  /** Why the kernel cannot be reconciled right now (`ip` hanging), for status; null when it can. */
  problem(now: number): string | null {
    if (this.passStartedAt !== undefined && now - this.passStartedAt > SLOW_PASS_MS)
      return `a reconcile pass has been waiting for ip for ${Math.round((now - this.passStartedAt) / 1000)} s`;
    if (this.timeouts) return `ip timed out (ip ${this.timeouts.argv.join(' ')}), failing for ${Math.round((now - this.timeouts.since) / 1000)} s`;
    return null;
  }

  /** A hang past HUNG_LIMIT_MS, for the watchdog; null while passes complete. */
  hung(now: number): string | null {
    const running = this.passStartedAt === undefined ? 0 : now - this.passStartedAt;
    const failing = this.timeouts ? now - this.timeouts.since : 0;
    return Math.max(running, failing) > HUNG_LIMIT_MS ? this.problem(now) : null;
  }

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
  flushLater(link: string, family: Family = 4): void {
    (family === 6 ? this.sticky.pendingFlush6! : this.sticky.pendingFlush).add(link);
  }

  /** A kernel event: a pass at once after a quiet spell; the rest of a burst folded into one pass at its gap's end. */
  kernelEvent(what: string): void {
    this.event('kernel event', what);
  }

  /** An nftables table came or went: one pass shortly, which checks that haip's table is there. */
  nftEvent(what: string): void {
    this.event('nft event', what);
  }

  private event(why: 'kernel event' | 'nft event', what: string) {
    if (this.stopped) return;
    this.deps.log.debug(`${why}: ${what}`);
    // An nft event upgrades a pending kernel-event pass, so the table check is not lost.
    if (why === 'nft event') this.nftDue = true;
    if (this.timers.event) return;
    // Never synchronously: the other lines of the same change, read in the same chunk, join this pass.
    this.timers.event = this.deps.clock.setTimeout(() => {
      this.timers.event = undefined;
      this.burst = eventPassStarted(this.burst, this.deps.clock.now());
      const nft = this.nftDue;
      this.nftDue = false;
      void this.sync(nft ? 'nft event' : 'kernel event');
    }, eventPassAt(this.burst, this.deps.clock.now()) - this.deps.clock.now());
  }

  private scheduleResync() {
    this.timers.resync = this.deps.clock.setTimeout(() => {
      // A retry already scheduled is the next pass: a failure keeps backing off.
      if (!this.timers.retry) void this.sync('periodic check');
      this.scheduleResync();
    }, RESYNC_MS);
  }

  /** Runs passes one at a time; a request during a pass gets one more pass after it. */
  sync(why: PassReason): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          this.passStartedAt = this.deps.clock.now();
          if (this.timeouts) this.timeouts.inPass = false;
          const settled = this.target.settle(await this.syncOnce(why));
          this.passStartedAt = undefined;
          // A whole pass without a time-out ends a hang.
          if (this.timeouts && !this.timeouts.inPass) this.timeouts = undefined;
          // After the routes: a flushed connection's next packet must already find the new default route.
          const { routedBy, healthOf } = settled;
          if (why === 'start' || why === 'reload') syncRpFilter(this.target.config(), this.deps);
          if (await syncSticky(this.sticky, why, this.target.config(), this.deps, routedBy[4], healthOf, routedBy[6])) this.retryLater();
          settled.then();
        } while (this.syncAgain && !this.stopped);
      } finally {
        this.syncing = undefined;
        this.passStartedAt = undefined;
      }
    })();
    return this.syncing;
  }

  /** One pass; what it read back, or undefined when it read nothing back. */
  private async syncOnce(why: PassReason): Promise<PassOutcome | undefined> {
    const { log } = this.deps;
    const ip = this.ip;
    let obs: Observation;
    try {
      obs = await observe(ip, this.scope());
    } catch (err) {
      log.error(`reading the kernel's state (${why}): ${(err as Error).message}`);
      this.retryLater();
      return;
    }
    this.keepFormerTables(obs);
    const { protocol, mainTable } = this.target.config();
    const { desired, conflicts } = withoutForeignConflicts(this.target.desired(obs, why), obs.net, protocol, mainTable);
    this.drift.foreign(conflicts);
    const commands = reconcile(desired, obs.net, protocol);
    if (!commands.length) {
      this.lastApplied = render(desired);
      this.retryDelay = RETRY_MS;
      return { mainDefaults: obs.net.routes.filter((r) => r.table === mainTable && r.dst === 'default'), failed: [] };
    }
    const drift = this.lastApplied !== undefined && this.lastApplied === render(desired);
    if (drift) {
      const now = this.deps.clock.now();
      if (now - this.lastDriftAt < DRIFT_MIN_GAP_MS) {
        this.retryLater(DRIFT_MIN_GAP_MS - (now - this.lastDriftAt));
        return;
      }
      this.drift.corrected(commands, obs.net, now);
      this.lastDriftAt = now;
    }
    const { result, readBack } = await applyThenRead(ip, commands, mainTable, readScope(this.target.config()).families);
    const now = this.deps.clock.now();
    this.appliedLines.flush(log, now);
    for (const c of result.applied) this.appliedLines.say(log, 'info', `applied ${commandToString(c)}`, `applied: ${commandToString(c)}`, now);
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
    // The kernel's word, not the commands': what main's default routes are now.
    let mainDefaults: Route[];
    try {
      mainDefaults = readBack();
    } catch (err) {
      log.error(`reading the default routes back (${why}): ${(err as Error).message}`);
      this.lastApplied = undefined;
      this.retryLater();
      return;
    }
    return { mainDefaults, failed: result.failed.map((command, i) => ({ command, error: result.errors[i] })), changed: result.applied.length > 0 };
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
