// One pass's decisions per family, between reading and writing the kernel: views -> select -> desired
// before the kernel is written, settle after main's default routes are read back. The steps themselves
// are pure (src/core/views.ts, src/core/selector.ts, src/net/desired.ts); this module holds the lanes'
// records, applies what the steps return and hands their events to announce.
import { UpstreamGuard } from './upstream';
import { forceDown } from '../health/hysteresis';
import { Config, Family, LinkHealth, NetState, Route } from '../model';
import { defaultRouteFor, desiredFamilies } from '../net/desired';
import { LearnedGateway, learnGateways } from '../net/gateways';
import { winningDefault } from '../net/plan';
import { Learned6, learnedNotes, learnPrefixes6, NOTHING_LEARNED } from '../net/pd';
import { readLookups } from '../net/effectiveRead';
import { RefusedPrefix6, refusedPrefixes6 } from '../net/refused6';
import { Observation } from '../net/router';
import { Runner } from '../sys/runner';
import { Log, noticeFields } from '../log';
import { Announcer, fam } from './announce';
import { PassOutcome, PassReason, Settled } from './reconciler';
import { LinkRegistry, LinkRuntime } from './registry';
import { choose as chooseLink, nextRetry, Selection, SelectionEvent, settle as settleSelection } from './selector';
import { LimitedLines } from './logLimit';
import { foldView, viewFor } from './views';

/**
 * One address family's side: its links' health, the link chosen for its default route and the one the
 * kernel routes by. IPv4 and IPv6 are judged and switched independently.
 */
export interface Lane {
  family: Family;
  links: LinkRegistry;
  /** The choice of link, a plain value stepped by src/core/selector.ts. */
  sel: Selection;
}

/** What the pass steps need of the daemon. */
export interface PassContext {
  config(): Config;
  now(): number;
  log: Log;
  /** `ip`, for the effective-route lookups asked after each pass. */
  ip: Runner;
  announcer: Announcer;
  ready(): boolean;
  heldBack(rt: LinkRuntime): string | null;
  setHealth(rt: LinkRuntime, next: LinkHealth): void;
  forgetProbes(device: string): void;
  sync(why: PassReason): void;
  /** Runs `fn` after `ms` (the daemon's clock). */
  later(fn: () => void, ms: number): { cancel(): void };
  /** Before a choice: the damping release times may have changed. */
  beforeChoice(): void;
  /** The refused links' retry times, for a pass at the first. */
  retryAt(times: number[]): void;
}

/** How long after a pass the effective-route lookups wait for more passes of the same burst. */
export const LOOKUP_DELAY_MS = 100;

/** Why a link whose table route the kernel refused is down. */
export const tableRefusedReason = (rt: LinkRuntime) => `its route cannot be installed in table ${rt.config.table}: ${rt.tableRefused}`;

/** The kernel's words for a refused `route replace` of a table's default route of the family, if it refused one. */
export function refusedDefault(outcome: PassOutcome, family: Family, table: number): string | undefined {
  const f = outcome.failed.find(
    (x) => x.command.op === 'route-replace' && !x.command.route.type && (x.command.route.family ?? 4) === family && x.command.route.table === table && x.command.route.dst === 'default',
  );
  return f ? f.error.result.stderr.trim() || f.error.message : undefined;
}

export class PassSteps {
  private learned = new Map<string, LearnedGateway>();
  private learned6: Learned6 = NOTHING_LEARNED;
  /** Foreign routes that beat the default route, and addresses two links claim (src/core/upstream.ts). */
  readonly upstream: UpstreamGuard;
  /** What the last pass read (lan6 advertises from its LAN addresses). */
  observed?: Observation;
  /** A view flapping (a carrier storm): its notes counted past the first few of a minute. */
  private viewLines = new LimitedLines();

  constructor(
    private readonly lanes: Lane[],
    private readonly ctx: PassContext,
  ) {
    this.upstream = new UpstreamGuard({ log: ctx.log, look: (q) => readLookups(ctx.ip, q), sync: () => ctx.sync('kernel event'), later: (fn) => ctx.later(fn, LOOKUP_DELAY_MS) });
  }

  /** What the kernel should hold, given what it holds: the links' views and the choice follow it. */
  desired(obs: Observation): NetState {
    this.observed = obs;
    const { mainTable, protocol } = this.ctx.config();
    const state = desiredFamilies(
      this.ctx.config(),
      this.lanes.map((lane) => {
        this.updateViews(lane, obs);
        if (this.ctx.ready()) this.choose(lane);
        const keep = obs.net.routes.find((r) => (r.family ?? 4) === lane.family && r.table === mainTable && r.dst === 'default' && r.protocol === protocol);
        return { family: lane.family, views: lane.links.all().map((rt) => rt.view), active: lane.sel.pending?.to ?? lane.sel.active, keep };
      }),
    );
    const lanes = this.lanes.map((l) => ({ family: l.family, active: l.sel.pending?.to ?? l.sel.active, links: l.links.all().map((rt) => ({ view: rt.view, state: rt.health.state })) }));
    return this.upstream.desired(this.ctx.config(), obs, state, lanes);
  }

  /**
   * After a pass, with main's default routes read back: a chosen switch is announced only once the
   * kernel routes by the new link; a refused one is told as refused, and the old link stays reported.
   */
  settle(outcome: PassOutcome | undefined): Settled {
    if (outcome) {
      for (const lane of this.lanes) this.settleLane(lane, outcome);
      // After the switches are told: this asks the kernel's lookups, a process of its own.
      const u = this.upstream.settle(outcome.changed);
      // At once, like a switch: healthy and status must not say what the kernel no longer does.
      if (u.publish && this.ctx.ready()) this.ctx.announcer.publish();
    }
    return {
      routedBy: { 4: this.lanes[0].sel.routedBy, 6: this.lanes[1].sel.routedBy },
      healthOf: (n, f) => this.lanes[f === 4 ? 0 : 1].links.get(n)?.health.state,
      then: () => this.ctx.announcer.runQueuedHooks(),
    };
  }

  /** Delegated prefixes that route nothing, and why: refused when learned, or owned by another link. */
  refusedPrefixes6(): RefusedPrefix6[] {
    return refusedPrefixes6(this.learned6.refused, this.upstream.conflicts());
  }

  private settleLane(lane: Lane, outcome: PassOutcome) {
    const winner = winningDefault(outcome.mainDefaults, lane.family);
    const routedBy = winner && winner.protocol === this.ctx.config().protocol ? this.linkOfRoute(lane, winner) : null;
    const why = refusedDefault(outcome, lane.family, this.ctx.config().mainTable);
    this.settleTables(lane, outcome);
    const { next, events } = settleSelection(lane.sel, routedBy, why, this.ctx.now());
    lane.sel = next;
    this.announceSelection(lane, events);
  }

  /** Links whose own table's default route the kernel refused are down, and unprobed, until it takes it. */
  private settleTables(lane: Lane, outcome: PassOutcome) {
    for (const rt of lane.links.all()) {
      const table = rt.config.table;
      const reason = table === undefined ? undefined : refusedDefault(outcome, lane.family, table);
      if (reason === rt.tableRefused) continue;
      rt.tableRefused = reason;
      const what = `${rt.config.name}: ${fam(lane.family)}`;
      if (!reason) {
        this.ctx.log.notice(`${what}the kernel took the default route in table ${table}; probing again`);
        continue;
      }
      this.ctx.log.error(`${what}the kernel refuses the default route in table ${table} (${reason}); no probes until it takes it, will retry`, noticeFields('route-refused'));
      const next = forceDown(rt.health, tableRefusedReason(rt), this.ctx.now());
      if (next.state !== rt.health.state) {
        this.ctx.setHealth(rt, next);
        this.ctx.sync('probe');
      } else rt.health = next;
    }
  }

  /**
   * The link whose default route this is: same interface, and the gateway haip would write for it. Links
   * that would write the very same route (two addresses on one interface, the original haip's demo) are
   * all routed by it: the one being switched to, else the one carrying, else the first.
   */
  private linkOfRoute(lane: Lane, r: Route): string | null {
    const onDev = lane.links.all().filter((rt) => rt.config.interface === r.dev);
    const exact = onDev.filter((rt) => defaultRouteFor(this.ctx.config(), rt.view, r.table).gateway === r.gateway);
    const names = (exact.length ? exact : onDev).map((rt) => rt.config.name);
    for (const preferred of [lane.sel.pending?.to, lane.sel.active]) if (preferred && names.includes(preferred)) return preferred;
    return names[0] ?? null;
  }

  private updateViews(lane: Lane, obs: Observation) {
    const now = this.ctx.now();
    this.viewLines.flush(this.ctx.log, now);
    if (lane.family === 4) this.learnGateways(obs);
    else this.learnPrefixes6(lane, obs);
    for (const rt of lane.links.all()) {
      const view = viewFor(lane.family, rt.config, obs, this.learned, this.ctx.config(), this.learned6);
      const step = foldView(lane.family, rt.config, rt.view, view, rt.health, rt.seen, now);
      rt.view = view;
      rt.seen = true;
      for (const n of step.notes) this.viewLines.say(this.ctx.log, n.level, `${rt.config.name} ${fam(lane.family)}view`, n.text, now);
      if (step.health.state !== rt.health.state && view.unusable) this.ctx.setHealth(rt, step.health);
      else rt.health = step.health;
      if (step.forgetProbes) this.ctx.forgetProbes(rt.config.interface);
    }
  }

  /** Picks the link for the default route; the switch is announced once the kernel confirms it (settle). */
  private choose(lane: Lane) {
    const candidates = lane.links.all().map((rt) => ({ name: rt.config.name, weight: rt.config.weight, health: rt.health, held: this.ctx.heldBack(rt) ?? undefined }));
    this.ctx.beforeChoice();
    const { next, events } = chooseLink(lane.sel, candidates, this.ctx.now());
    lane.sel = next;
    this.announceSelection(lane, events);
  }

  /** IPv4 gateways of links without one in the config, from the routes their DHCP clients install. */
  private learnGateways(obs: Observation) {
    const { protocol, mainTable, links } = this.ctx.config();
    const learned = learnGateways(links, obs.interfaces, obs.deviceRoutes, this.learned, protocol, mainTable);
    for (const [name, g] of learned) {
      const before = this.learned.get(name)?.gateway;
      if (before !== g.gateway) this.ctx.log.notice(`${name}: gateway ${before ? `${before} -> ` : ''}${g.gateway}, learned from ${g.from}`);
    }
    this.learned = learned;
  }

  /** Delegated prefixes of IPv6 links without prefixes6, from the DHCPv6 clients' records; each change told once. */
  private learnPrefixes6(lane: Lane, obs: Observation) {
    const learned6 = learnPrefixes6(lane.links.all().map((rt) => rt.config), obs.delegations6, obs.interfaces);
    for (const n of learnedNotes(this.learned6, learned6)) this.ctx.log[n.level](n.text);
    this.learned6 = learned6;
  }

  /** The selector's events go to announce; a refusal asks for one more pass, and retries are timed. */
  private announceSelection(lane: Lane, events: SelectionEvent[]) {
    this.ctx.announcer.selection(lane.family, events);
    // The next usable link takes the route now, not at the next retry.
    if (events.some((e) => e.kind === 'refused')) this.ctx.sync('retry');
    this.ctx.retryAt(this.lanes.flatMap((l) => nextRetry(l.sel, this.ctx.now()) ?? []));
  }
}
