// The upstream's writes into the router's routing state, checked after the choice (issue 21): foreign
// routes in main that beat the default route move to their link's own table (src/net/shadows.ts), an
// address or prefix two links claim stays with the first (src/net/ownership.ts), and what the kernel's
// lookups still send another way than haip's choice is a problem until it is gone. The state between
// passes lives here; the decisions are the pure functions of those two modules.
import { Log } from '../log';
import { Config, Family, NetState } from '../model';
import { LinkView } from '../net/desired';
import { claimsOf, freshConflicts, owners, withoutConflictedSources } from '../net/ownership';
import { Observation } from '../net/router';
import { describeMove, laneFacts, moveShadows, MovedRoute } from '../net/shadows';

export interface UpstreamLane {
  family: Family;
  active: string | null;
  links: { view: LinkView; state: string }[];
}

export class UpstreamGuard {
  private moved: MovedRoute[] = [];
  /** Problems of the last pass that changed nothing: the kernel's word. */
  private misrouted: string[] = [];
  /** Problems seen by the lookups of the pass being made. */
  private misroutedSeen: string[] = [];
  private claimsSeen: string[] = [];
  private conflictsTold = new Set<string>();
  /** Whether the pass being made looked the effective routes up (passes for probe results do not). */
  private looked = false;

  constructor(private readonly log: Log) {}

  /** The desired state with foreign shadows moved into link tables and conflicted source rules left out. */
  desired(config: Config, obs: Observation, state: NetState, lanes: UpstreamLane[]): NetState {
    const facts = lanes.map((l) => laneFacts(l.family, l.active, l.links));
    const plan = moveShadows(config, obs.lookups, state, facts, this.moved, obs.net.routes);
    for (const m of plan.fresh) this.log.warning(describeMove(m));
    this.moved = plan.moved;
    this.looked = obs.lookups !== undefined;
    if (this.looked) this.misroutedSeen = plan.problems;
    const claims = claimsOf(lanes.map((l) => ({ family: l.family, views: l.links.map((x) => x.view) })));
    const own = owners(claims, this.claimsSeen);
    const told = freshConflicts(this.conflictsTold, own.conflicts);
    for (const c of told.fresh) this.log.warning(c.text);
    [this.claimsSeen, this.conflictsTold] = [own.seen, told.told];
    return withoutConflictedSources(plan.desired, own.conflicts, (n) => config.links.find((l) => l.name === n)?.table, claims);
  }

  /**
   * After a pass: the lookups are the truth only for a pass that changed nothing. `publish` when the
   * problems changed (status and healthy must not say what the kernel no longer does), `again` when a
   * changing pass must be followed by one more look.
   */
  settle(changed: boolean | undefined): { publish: boolean; again: boolean } {
    if (!changed && !this.looked) return { publish: false, again: false };
    if (!changed) {
      const publish = this.misrouted.join('\n') !== this.misroutedSeen.join('\n');
      this.misrouted = this.misroutedSeen;
      return { publish, again: false };
    }
    return { publish: false, again: this.misroutedSeen.length > 0 || this.misrouted.length > 0 };
  }

  problems(): string[] {
    return this.misrouted;
  }
}
