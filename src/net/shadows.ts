// Foreign routes in main that beat haip's default route (DHCP option 121's 0.0.0.0/1 + 128.0.0.0/1, an
// RFC 4191 route information option, a netmask of 128.0.0.0) are drift like a foreign default: each is
// taken out of main and kept in its link's own table, where the link's own traffic still uses it. Pure:
// the kernel's answers and what was moved before in, the state to reconcile to out.
import { Family, NetState, Route, routeToString } from '../model';
import { DEFAULT_SHADOW_PREFIX, EffectiveInput, judge, LinkFacts, Lookup, movedRoute, Verdict } from './effective';

export interface MovedRoute {
  link: string;
  family: Family;
  /** haip's copy in the link's table. */
  route: Route;
  /** The foreign route as it stood in main. */
  from: Route;
}

export interface LaneFacts {
  family: Family;
  active: string | null;
  links: LinkFacts[];
}

export interface ShadowPlan {
  desired: NetState;
  /** Everything moved and still kept (the memory for the next pass). */
  moved: MovedRoute[];
  /** Moved for the first time by this pass: logged once. */
  fresh: MovedRoute[];
  /** What goes another way than haip's choice, for status, metrics and `healthy`. */
  problems: string[];
}

export function moveShadows(
  config: ShadowConfig,
  lookups: Lookup[] | undefined,
  desired: NetState,
  lanes: LaneFacts[],
  remembered: MovedRoute[],
  /** What the kernel holds: routes moved before (by this process or an earlier one) are kept. */
  actual: Route[] = [],
): ShadowPlan {
  const before = [...remembered];
  for (const m of inKernel(actual, lanes, config.protocol)) if (!before.some((b) => routeToString(b.route) === routeToString(m.route))) before.push(m);
  const remove: Route[] = [];
  const problems: string[] = [];
  const fresh: MovedRoute[] = [];
  // A link that lost its address lost what its DHCP client or RA gave it: the next lease brings it back.
  const holder = (m: { link: string; family: Family }) => lanes.find((l) => l.family === m.family)?.links.find((f) => f.link.name === m.link && f.source && f.link.table !== undefined);
  const moved = before.filter((m) => holder(m));
  for (const lane of lanes) {
    const verdict = judgeLane(config, lookups ?? [], lane);
    problems.push(...verdict.problems);
    for (const s of verdict.shadows) {
      remove.push(s.route);
      if (s.link.link.table === undefined || !s.link.source) continue;
      const copy = movedRoute(s.route, s.link.link.table, config.protocol);
      if (moved.some((m) => routeToString(m.route) === routeToString(copy))) continue;
      const m: MovedRoute = { link: s.link.link.name, family: lane.family, route: copy, from: s.route };
      moved.push(m);
      fresh.push(m);
    }
  }
  return {
    desired: { ...desired, routes: [...desired.routes, ...moved.map((m) => m.route)], ...(remove.length ? { remove: [...(desired.remove ?? []), ...remove] } : {}) },
    moved,
    fresh,
    problems,
  };
}

type ShadowConfig = { mainTable: number; protocol: number; shadowPrefix?: Partial<Record<Family, number>> };

function judgeLane(config: ShadowConfig, lookups: Lookup[], lane: LaneFacts): Verdict {
  const shadowPrefix = { ...DEFAULT_SHADOW_PREFIX, ...config.shadowPrefix };
  const input: EffectiveInput = { family: lane.family, links: lane.links, active: lane.active, mainTable: config.mainTable, protocol: config.protocol, shadowPrefix };
  return judge(input, lookups);
}

/** What answers call for: routes to move out of main, problems other than those `told`. */
export function whatAnswersSay(config: ShadowConfig, lookups: Lookup[], lanes: LaneFacts[], told: string[]): { shadows: boolean; otherProblems: boolean } {
  const verdicts = lanes.map((lane) => judgeLane(config, lookups, lane));
  return { shadows: verdicts.some((v) => v.shadows.length > 0), otherProblems: verdicts.flatMap((v) => v.problems).join('\n') !== told.join('\n') };
}

export function describeMove(m: MovedRoute, protoName: (n: number) => string = String): string {
  return `a route in main through ${m.link}'s interface takes traffic meant for the default route: moved "${routeToString(m.from)}" (installed by proto ${protoName(m.from.protocol)}) into table ${m.route.table}, where only ${m.link}'s own traffic uses it`;
}

/** A lane's links for the check, from haip's views and health: usable is neither down nor unusable. */
export function laneFacts(family: Family, active: string | null, links: { view: { link: LinkFacts['link']; source?: string; unusable?: string }; state: string }[]): LaneFacts {
  return {
    family,
    active,
    links: links.map(({ view, state }) => ({ link: view.link, family, ...(view.source ? { source: view.source } : {}), usable: !view.unusable && state !== 'down' })),
  };
}

/**
 * haip's routes with a gateway in a link table other than its default: only a move puts them there.
 * Read back from the kernel, so a restart (or `haip plan`) keeps what an earlier process moved.
 */
export function inKernel(routes: Route[], lanes: LaneFacts[], protocol: number): MovedRoute[] {
  const out: MovedRoute[] = [];
  for (const lane of lanes)
    for (const f of lane.links)
      for (const r of routes)
        if (f.link.table !== undefined && r.table === f.link.table && (r.family ?? 4) === lane.family && r.protocol === protocol && r.dst !== 'default' && !r.type && r.gateway)
          out.push({ link: f.link.name, family: lane.family, route: r, from: r });
  return out;
}
