// Reconcile: the commands that turn the actual state into the desired one, touching only what carries
// haip's protocol. Adds and replaces come before deletes, so traffic always has a route; a second run
// over the result plans nothing.
import { Family, NetState, Route, Rule, routeToString, ruleToString } from '../model';
import { Command } from './iproute';

/** The kernel keeps `X/32` (`X/128`) as `X` and a full fwmark mask as none; compare in the kernel's own form. */
const host = (a: string | undefined) => (a?.endsWith('/32') ? a.slice(0, -3) : a?.endsWith('/128') ? a.slice(0, -4) : a);
/** IPv6 has no metric 0: the kernel stores a route added without one at 1024. */
export const IPV6_DEFAULT_METRIC = 1024;
const metricOf = (r: Route) => r.metric || (r.family === 6 ? IPV6_DEFAULT_METRIC : 0);
export const normalRoute = (r: Route): Route => {
  const n: Route = { ...r, dst: host(r.dst)! };
  if (r.family === 6) n.metric = metricOf(r);
  return n;
};
export const normalRule = (r: Rule): Rule => {
  const n: Rule = { ...r, from: host(r.from), to: host(r.to) };
  if (n.mask === 0xffffffff) delete n.mask;
  for (const k of ['from', 'to'] as const) if (n[k] === undefined) delete n[k];
  return n;
};

/** The kernel's identity of a route: `ip route replace` overwrites the route with the same key. */
const routeKey = (r: Route) => `${r.family ?? 4}|${r.table}|${host(r.dst)}|${metricOf(r)}`;
const ruleKey = (r: Rule) => ruleToString({ ...normalRule(r), protocol: undefined });

const same = (a: Route, b: Route) => routeToString(normalRoute(a)) === routeToString(normalRoute(b));

/**
 * haip owns the default route at its metric in each table it puts one in: any other default there at
 * the same or a lower metric (`ip route prepend`, udhcpc's `route add`, haip's own old route after a
 * replace took over a prepended one) would carry traffic instead of haip's, or beside it. Defaults at a
 * higher metric are left alone.
 */
export function wouldWinOver(r: Route, desired: Route[]): boolean {
  if (r.dst !== 'default') return false;
  // The unreachable default that closes a link table is there to lose: it never claims the table's default.
  return desired.some((d) => d.dst === 'default' && !d.type && d.family === r.family && d.table === r.table && metricOf(r) <= metricOf(d) && !same(r, d));
}

export function reconcile(desired: NetState, actual: NetState, protocol: number): Command[] {
  const adds: Command[] = [];
  const dels: Command[] = [];

  const actualByKey = new Map<string, Route[]>();
  for (const r of actual.routes) {
    const k = routeKey(r);
    actualByKey.set(k, [...(actualByKey.get(k) ?? []), r]);
  }
  const desiredKeys = new Set<string>();
  const overwritten = new Set<Route>();
  for (const r of desired.routes) {
    const k = routeKey(r);
    desiredKeys.add(k);
    const sameKey = actualByKey.get(k) ?? [];
    if (sameKey.some((a) => same(a, r))) continue;
    adds.push({ op: 'route-replace', route: r });
    // The kernel's replace overwrites the first route with the same key: that one needs no delete.
    if (sameKey.length) overwritten.add(sameKey[0]);
  }
  for (const r of actual.routes) {
    if (overwritten.has(r)) continue;
    if ((r.protocol === protocol && !desiredKeys.has(routeKey(r))) || wouldWinOver(r, desired.routes)) dels.push({ op: 'route-del', route: r });
  }
  for (const r of desired.remove ?? []) dels.push({ op: 'route-del', route: r });

  const owned = actual.rules.filter((r) => r.protocol === protocol);
  const ownedCount = new Map<string, number>();
  for (const r of owned) ownedCount.set(ruleKey(r), (ownedCount.get(ruleKey(r)) ?? 0) + 1);
  const wanted = new Set<string>();
  for (const r of desired.rules) {
    const k = ruleKey(r);
    if (wanted.has(k)) continue;
    wanted.add(k);
    if (!ownedCount.has(k)) adds.push({ op: 'rule-add', rule: r });
  }
  for (const [k, n] of ownedCount) {
    // Duplicates (a restart after kill -9, or a second writer) go too, keeping one.
    const extra = wanted.has(k) ? n - 1 : n;
    const rule = owned.find((r) => ruleKey(r) === k)!;
    for (let i = 0; i < extra; i++) dels.push({ op: 'rule-del', rule });
  }
  return [...adds, ...dels];
}

/**
 * Splits off the desired routes whose place (table, destination, metric) a route of another protocol
 * already holds in one of haip's link tables: `ip route replace` would overwrite it, and it is not
 * haip's. Those are never installed; the caller reports each conflict. Main's default route is the one
 * route haip takes over (docs/decisions.md), so `mainTable` is left out.
 */
export function withoutForeignConflicts(desired: NetState, actual: NetState, protocol: number, mainTable: number): { desired: NetState; conflicts: { ours: Route; theirs: Route }[] } {
  const foreign = new Map<string, Route>();
  for (const r of actual.routes) if (r.protocol !== protocol && r.table !== mainTable) foreign.set(routeKey(r), r);
  const conflicts: { ours: Route; theirs: Route }[] = [];
  const routes = desired.routes.filter((r) => {
    const theirs = r.table === mainTable ? undefined : foreign.get(routeKey(r));
    if (theirs) conflicts.push({ ours: r, theirs });
    return !theirs;
  });
  return { desired: { ...desired, routes }, conflicts };
}

/** The default route the kernel uses among a table's defaults of one family: the lowest metric, first of equals. */
export function winningDefault(defaults: Route[], family: Family = 4): Route | undefined {
  let best: Route | undefined;
  for (const r of defaults) if (r.dst === 'default' && (r.family ?? 4) === family && (!best || metricOf(r) < metricOf(best))) best = r;
  return best;
}
