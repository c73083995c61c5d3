// The upstream's writes into the router's routing state, checked after the choice (issue 21): foreign
// routes in main that beat the default route move to their link's own table (src/net/shadows.ts), an
// address or prefix two links claim stays with the first (src/net/ownership.ts), and what the kernel's
// lookups still send another way than haip's choice is a problem until it is gone. The state between
// passes lives here; the decisions are the pure functions of those two modules.
//
// The lookups never delay a pass: they are asked after a pass has applied and read back (one `ip -batch`
// at a time, a request meanwhile coalesced into one more), and their answers feed the next pass, which
// they ask for only when they call for a change (a route to move, other problems). They describe the kernel as it was when asked, so they count
// only while no pass has changed the kernel since, and their problems only for a pass that changed nothing.
import { Log } from '../log';
import { Config, Family, NetState, routeToString } from '../model';
import { LinkView } from '../net/desired';
import { Lookup, lookupsFor } from '../net/effective';
import { claimsOf, Conflict, freshConflicts, owners, withoutConflictedSources } from '../net/ownership';
import { Observation } from '../net/router';
import { describeMove, LaneFacts, laneFacts, moveShadows, MovedRoute, whatAnswersSay } from '../net/shadows';

export interface UpstreamLane {
  family: Family;
  active: string | null;
  links: { view: LinkView; state: string }[];
}

export interface UpstreamDeps {
  log: Log;
  /** The kernel's answers to the lookups (src/net/effectiveRead.ts). */
  look(lookups: Lookup[]): Promise<Lookup[]>;
  /** Asks for a pass that judges new answers. */
  sync(): void;
  /**
   * Runs the ask a little later (restarted by each pass meanwhile), so that a process of its own does
   * not compete with the passes of a burst of events; absent: at once.
   */
  later?(fn: () => void): { cancel(): void };
}

/** The kernel's answers as of one generation (passes that changed the kernel before they were asked). */
interface Answers {
  generation: number;
  lookups: Lookup[];
  key: string;
}

const answersKey = (lookups: Lookup[]) => lookups.map((q) => `${q.dst} ${q.from ?? ''} ${q.route ? routeToString(q.route) : '-'}`).join('\n');

export class UpstreamGuard {
  private moved: MovedRoute[] = [];
  /** Problems judged by the last pass that changed nothing, on answers asked after the last change. */
  private misrouted: string[] = [];
  /** Problems judged by the pass being made, when its answers were current. */
  private misroutedSeen?: string[];
  private claimsSeen: string[] = [];
  private conflictsTold = new Set<string>();
  /** The last pass's conflicts: newcomers without a source rule for an address or prefix. */
  private lastConflicts: Conflict[] = [];
  /** Passes that changed the kernel so far: answers asked before the latest of them are stale. */
  private generation = 0;
  private answers?: Answers;
  /** The answers the last pass judged while they were current. */
  private judgedKey?: string;
  /** The queries of the last pass's links and sources. */
  private queries: Lookup[] = [];
  private asking = false;
  private due?: { cancel(): void };
  private askAgain = false;
  /** The config and links the last pass judged by: new answers are checked against them. */
  private judging?: { config: Config; facts: LaneFacts[] };

  constructor(private readonly deps: UpstreamDeps) {}

  /** The desired state with foreign shadows moved into link tables and conflicted source rules left out. */
  desired(config: Config, obs: Observation, state: NetState, lanes: UpstreamLane[]): NetState {
    const facts = lanes.map((l) => laneFacts(l.family, l.active, l.links));
    this.judging = { config, facts };
    this.queries = facts.filter((l) => l.links.length).flatMap((l) => lookupsFor(l.family, l.links));
    const current = this.answers?.generation === this.generation ? this.answers : undefined;
    // Stale answers move nothing (the route may be gone already); the moved copies stay either way.
    const plan = moveShadows(config, current?.lookups, state, facts, this.moved, obs.net.routes);
    for (const m of plan.fresh) this.deps.log.warning(describeMove(m));
    this.moved = plan.moved;
    this.misroutedSeen = current ? plan.problems : undefined;
    if (current) this.judgedKey = current.key;
    const claims = claimsOf(lanes.map((l) => ({ family: l.family, views: l.links.map((x) => x.view) })));
    const own = owners(claims, this.claimsSeen);
    const told = freshConflicts(this.conflictsTold, own.conflicts);
    for (const c of told.fresh) this.deps.log.warning(c.text);
    [this.claimsSeen, this.conflictsTold, this.lastConflicts] = [own.seen, told.told, own.conflicts];
    return withoutConflictedSources(plan.desired, own.conflicts, (n) => config.links.find((l) => l.name === n)?.table, claims);
  }

  /**
   * After a pass has applied and read back: a pass that changed nothing makes its problems the kernel's
   * word (`publish` when they changed: status and healthy must not say what the kernel no longer does);
   * then the kernel is asked again, off the pass's path.
   */
  settle(changed: boolean | undefined): { publish: boolean } {
    let publish = false;
    if (changed) this.generation++;
    else if (this.misroutedSeen) {
      publish = this.misrouted.join('\n') !== this.misroutedSeen.join('\n');
      this.misrouted = this.misroutedSeen;
    }
    this.misroutedSeen = undefined;
    this.due?.cancel();
    this.due = this.deps.later
      ? this.deps.later(() => {
          this.due = undefined;
          this.ask();
        })
      : (this.ask(), undefined);
    return { publish };
  }

  problems(): string[] {
    return this.misrouted;
  }

  /** The last pass's conflicts (status shows a delegated prefix refused this way). */
  conflicts(): Conflict[] {
    return this.lastConflicts;
  }

  /** One batch at a time; asked again meanwhile, one more after it with the queries of then. */
  private ask() {
    if (!this.queries.length) return;
    if (this.asking) {
      this.askAgain = true;
      return;
    }
    this.asking = true;
    const generation = this.generation;
    void this.deps
      .look(this.queries)
      .catch(() => [] as Lookup[])
      .then((lookups) => {
        this.asking = false;
        this.answered({ generation, lookups, key: answersKey(lookups) });
        if (this.askAgain) {
          this.askAgain = false;
          this.ask();
        }
      });
  }

  private answered(a: Answers) {
    // A pass changed the kernel while they were asked: the batch asked after it tells the truth.
    if (a.generation !== this.generation) return;
    this.answers = a;
    // A pass only when they change something: routes to move that no pass has judged yet (one that
    // failed to move them retries on the reconciler's backoff), or problems other than those published.
    // Answers that agree cost no pass, so the pass that follows an event does not queue behind one.
    if (!this.judging) return this.deps.sync();
    const say = whatAnswersSay(this.judging.config, a.lookups, this.judging.facts, this.misrouted);
    if (!say.otherProblems && !(say.shadows && a.key !== this.judgedKey)) return;
    this.deps.log.debug(`effective routes: ${a.lookups.length} lookups call for a pass (${say.shadows ? 'routes to move' : 'other problems'})`);
    this.deps.sync();
  }
}
