// What changed in the kernel outside haip, as the reconciler puts it back, and the foreign routes that
// stand in its way: a warning for the first of each, counts for the rest of a burst, so a tool that
// fights haip every second fills no disk.
import { Log } from '../log';
import { NetState, Route, routeToString, ruleToString } from '../model';
import { Command, commandToString } from '../net/iproute';

/** Drift corrections closer than this to the previous one belong to one burst, logged once. */
export const DRIFT_BURST_MS = 60_000;

export class DriftLog {
  /** Drift corrections by what changed: when last, and how often since the burst's warning. */
  private driftBursts = new Map<string, { lastAt: number; repeats: number }>();
  /** The foreign routes in haip's way at the last pass, each already told. */
  private foreignReported = new Set<string>();

  constructor(private readonly log: Log) {}

  /**
   * A warning for the first correction of each change; the same change again within DRIFT_BURST_MS of
   * the last is the same burst, only counted, and the count is told when the next burst starts.
   */
  corrected(commands: Command[], actual: NetState, now: number) {
    const log = this.log;
    for (const [what, b] of this.driftBursts) if (now - b.lastAt >= (b.repeats ? 10 : 1) * DRIFT_BURST_MS) this.driftBursts.delete(what);
    for (const c of commands) {
      const what = describeDrift(c, actual);
      const b = this.driftBursts.get(what);
      if (b && now - b.lastAt < DRIFT_BURST_MS) {
        b.repeats++;
        b.lastAt = now;
        log.debug(`changed outside haip again (${b.repeats} more in this burst), putting back: ${what}`);
        continue;
      }
      const earlier = b?.repeats ? ` (its previous burst was put back ${b.repeats + 1} times)` : '';
      this.driftBursts.set(what, { lastAt: now, repeats: 0 });
      log.warning(`changed outside haip, putting back: ${what}${earlier}`);
    }
  }

  /** Each foreign route in haip's way is an error, logged once while it stays. */
  foreign(conflicts: { ours: Route; theirs: Route }[]) {
    const now = new Set<string>();
    for (const { ours, theirs } of conflicts) {
      const text = `table ${theirs.table} holds a route haip did not install (protocol ${theirs.protocol ?? 'none'}): "${routeToString(theirs)}"; haip leaves it there and does not install "${routeToString(ours)}": remove it, or give the link a table of its own`;
      now.add(text);
      if (!this.foreignReported.has(text)) this.log.error(text);
    }
    this.foreignReported = now;
  }
}

function describeDrift(c: Command, actual: NetState): string {
  if (c.op === 'route-replace') {
    const now = actual.routes.find((r) => r.table === c.route.table && r.dst === c.route.dst && (r.metric ?? 0) === (c.route.metric ?? 0));
    return now ? `${routeToString(now)} -> ${routeToString(c.route)}` : `missing ${routeToString(c.route)}`;
  }
  if (c.op === 'rule-add') return `missing rule ${ruleToString(c.rule)}`;
  if (c.op === 'route-del' && c.route.protocol !== undefined && c.route.dst === 'default') return `a default route that would win over haip's: deleted ${routeToString(c.route)}`;
  return commandToString(c);
}
