// What the kernel should hold for a config, the interfaces as they are now, and the chosen link.
// Pure: the daemon, `haip plan` and the tests all call it with plain data.
import { chooseSource6 } from './source6';
import { Config, Family, InterfaceFacts, LinkConfig, NetState, Route, Rule } from '../model';
import { networkOf, networkOf6 } from './address';
import { LearnedGateway, reachableFrom } from './gateways';
import { LearnedPrefix6 } from './pd';

export { networkOf, networkOf6 };
import { policyRules } from '../policy/rules';
import { linkMark, markMask } from './marks';

export { linkMark, markMask };

/** A configured link as it stands on this host right now. */
export interface LinkView {
  link: LinkConfig;
  /** Source address for probes and the source rule; undefined when the interface has none. */
  source?: string;
  /** The connected prefix for the link's table (e.g. 198.18.1.0/24, or the ppp peer). */
  connected?: string;
  /**
   * The next hop: from the config (gateway, gateway6), or learned from the kernel; absent on an IPv4
   * point-to-point link.
   */
  gateway?: string;
  /** Where a learned gateway came from (the route it was read from), for the log and status. */
  learnedFrom?: string;
  /** The gateway lies outside every prefix of the interface: its routes say `onlink`. */
  onlink?: boolean;
  /** Why the link cannot carry traffic right now, or undefined when it can. */
  unusable?: string;
  /** Absent: the IPv4 view. */
  family?: 6;
  /** IPv6: the delegated prefixes routed by this link, from prefixes6 or learned (with `from`). */
  prefixes6?: { prefix: string; from?: string }[];
}


/** IFF_POINTOPOINT (ppp, tun), or an address with a peer (what pppd leaves): no gateway needed. */
export function isPointToPoint(iface: InterfaceFacts, addr = iface.addresses[0]): boolean {
  return !!iface.pointToPoint || (addr?.peer !== undefined && addr.peer !== addr.address);
}

/** Why probe.size cannot leave the interface unfragmented (ICMP + IP headers: 28 bytes IPv4, 48 IPv6). */
export function tooBig(link: LinkConfig, iface: InterfaceFacts, family: 4 | 6): string | undefined {
  const size = link.probe?.size;
  const needed = size === undefined ? 0 : size + (family === 6 ? 48 : 28);
  if (size === undefined || iface.mtu === undefined || needed <= iface.mtu) return undefined;
  return `probe.size ${size} needs an MTU of ${needed} on ${link.interface}, which has ${iface.mtu}: lower probe.size to ${iface.mtu - (family === 6 ? 48 : 28)}`;
}

/**
 * @param learned the gateway learned from the kernel for a link whose config names none.
 */
export function viewLink(link: LinkConfig, iface: InterfaceFacts | undefined, learned?: LearnedGateway): LinkView {
  if (!iface) return { link, ...(link.gateway ? { gateway: link.gateway } : {}), unusable: `interface ${link.interface} does not exist` };
  const addr = link.source ? iface.addresses.find((a) => a.address === link.source) : iface.addresses[0];
  const source = addr?.address;
  let connected: string | undefined;
  if (addr?.peer && addr.peer !== addr.address) connected = addr.peer.includes('/') ? addr.peer : addr.peer;
  else if (addr && addr.prefixlen < 32) connected = networkOf(addr.address, addr.prefixlen);
  const view: LinkView = { link, source, connected };
  const gateway = link.gateway ?? learned?.gateway;
  if (gateway) view.gateway = gateway;
  // A gateway outside the interface's prefixes (a hoster's /32, DHCP option 121) is reached on-link,
  // as netplan, systemd-networkd and ifupdown install it; the kernel refuses it otherwise.
  if (gateway && addr && !reachableFrom(iface, gateway)) view.onlink = true;
  if (!link.gateway && learned) view.learnedFrom = learned.from;
  // Only a point-to-point link reaches its far end with `default dev IF`; on a broadcast link that
  // route makes the host ARP for every destination, which never works.
  const pointToPoint = isPointToPoint(iface, addr);
  const big = tooBig(link, iface, 4);
  if (!iface.up) view.unusable = `${link.interface} has no carrier or is down`;
  else if (!addr) view.unusable = link.source ? `${link.interface} does not hold ${link.source}` : `${link.interface} has no IPv4 address`;
  else if (gateway && iface.addresses.some((a) => a.address === gateway)) view.unusable = `gateway ${gateway} is ${link.interface}'s own address`;
  else if (big) view.unusable = big;
  else if (!gateway && !pointToPoint && !link.onLink)
    view.unusable = `gateway of ${link.interface} unknown: no default route through it in any table (none from a DHCP client) and no gateway in the config`;
  return view;
}

/**
 * The IPv6 gateway haip learns for a link without gateway6: the lowest-metric foreign default route
 * through its interface in main (the kernel's `proto ra` route from router advertisements, or a
 * DHCPv6 client's). Those routes stay where their owner put them; haip's own default sits below them.
 */
export function learnedGateway6(link: LinkConfig, routes: Route[], config: Pick<Config, 'protocol' | 'mainTable' | 'mainMetric'>): { gateway: string; from: Route } | undefined {
  // A route at or below haip's metric is drift that haip deletes: it teaches nothing.
  const ours = mainMetric(config, 6)!;
  let best: Route | undefined;
  for (const r of routes) {
    if (r.family !== 6 || r.table !== config.mainTable || r.dst !== 'default' || r.dev !== link.interface || !r.gateway || r.protocol === config.protocol) continue;
    if ((r.metric ?? 0) <= ours) continue;
    if (!best || (r.metric ?? 0) < (best.metric ?? 0)) best = r;
  }
  return best && { gateway: best.gateway!, from: best };
}

/** A link's IPv6 side: a global address, its /64 (or whatever prefix), and a gateway. */
export function viewLink6(
  link: LinkConfig,
  iface: InterfaceFacts | undefined,
  learned?: { gateway: string; from: Route },
  all?: Iterable<InterfaceFacts>,
  learnedPrefixes?: LearnedPrefix6[],
): LinkView {
  const prefixes6 = link.prefixes6 ? link.prefixes6.map((prefix) => ({ prefix })) : (learnedPrefixes ?? []);
  const withPrefixes = prefixes6.length ? { prefixes6 } : {};
  if (!iface) return { link, family: 6, ...withPrefixes, unusable: `interface ${link.interface} does not exist` };
  const addr = chooseSource6(link, iface, all, prefixes6.map((p) => p.prefix));
  const view: LinkView = { link, family: 6, ...withPrefixes };
  if (addr) {
    view.source = addr.address;
    // An address on another interface (an unnumbered WAN): its prefix is the LAN's, not on this link.
    if (addr.prefixlen < 128 && !addr.on) view.connected = networkOf6(addr.address, addr.prefixlen);
  }
  const gateway = link.gateway6 ?? learned?.gateway;
  if (gateway) view.gateway = gateway;
  if (!link.gateway6 && learned) view.learnedFrom = `${learned.from.gateway} proto ${learned.from.protocol} metric ${learned.from.metric ?? 0}`;
  if (!iface.up) view.unusable = `${link.interface} has no carrier or is down`;
  else if (!addr) {
    view.unusable = link.source6
      ? `the router does not hold ${link.source6}`
      : `${link.interface} has no global IPv6 address${prefixes6.length ? ` and the router none inside its ${link.prefixes6 ? 'prefixes6' : 'delegated prefixes'}` : link.prefixes6 ? '' : ' and no delegated prefix is learned'}`;
  }
  else if (!gateway) view.unusable = `gateway of ${link.interface} unknown: no IPv6 default route through it in main (router advertisement, DHCPv6 client) and no gateway6 in the config`;
  else {
    const big = tooBig(link, iface, 6);
    if (big) view.unusable = big;
  }
  return view;
}

export function viewLinks(config: Config, interfaces: Map<string, InterfaceFacts>, learned = new Map<string, LearnedGateway>()): LinkView[] {
  return config.links.map((l) => viewLink(l, interfaces.get(l.interface), learned.get(l.name)));
}

/** Priorities inside haip's block: main's specific routes first, then one source rule per link. */
export function sourceRulePriority(config: Config, index: number): number {
  return config.rulePriorityBase + 10 * (index + 1);
}

/**
 * The fwmark rules (replies by the arrival uplink, sticky connections) sit 1000 above the base, after every source rule: the router's own traffic from an
 * uplink's address must leave by that uplink whatever mark its connection carries.
 */
export const STICKY_RULE_OFFSET = 1000;

export function fwmarkRulePriority(config: Config, index: number): number {
  return config.rulePriorityBase + STICKY_RULE_OFFSET + 10 * (index + 1);
}

export function defaultRouteFor(config: Config, view: LinkView, table: number): Route {
  if (view.family === 6) return { family: 6, table, dst: 'default', gateway: view.gateway, dev: view.link.interface, protocol: config.protocol };
  const r: Route = { table, dst: 'default', dev: view.link.interface, protocol: config.protocol };
  if (view.gateway) r.gateway = view.gateway;
  else r.scope = 'link';
  if (view.gateway && view.onlink) r.onlink = true;
  return r;
}

/** Closes each link's table below its default route: with the default gone, nothing falls through to main. */
export const UNREACHABLE_METRIC = 4294967295;

/** The output-interface rules share one priority, after main's specific routes and before every source rule. */
export const OIF_RULE_OFFSET = 5;

/**
 * The metric of haip's default route in main_table. IPv6 has no metric 0 (the kernel stores it as 1024,
 * the metric of its router-advertisement routes, and a replace there would overwrite the kernel's RA
 * route, which the next advertisement puts back): haip's IPv6 default sits at main_metric, or 1.
 */
export function mainMetric(config: Pick<Config, 'mainMetric'>, family: Family = 4): number | undefined {
  if (family === 6) return config.mainMetric || 1;
  return config.mainMetric || undefined;
}

/** One family's part of the desired state: its links' views, the link chosen for it, the route to keep. */
export interface FamilyPlan {
  family: Family;
  views: LinkView[];
  active: string | null;
  keep?: Route;
}

/**
 * @param active the link that should carry the main default route; null keeps `keep` (the current one).
 * @param keep haip's current main default route, kept while no link is chosen.
 */
export function desiredState(config: Config, views: LinkView[], active: string | null, keep?: Route): NetState {
  return desiredFamilies(config, [{ family: 4, views, active, keep }]);
}

/** What the kernel should hold for every family: each plan's tables, rules and main default route. */
export function desiredFamilies(config: Config, plans: FamilyPlan[]): NetState {
  const routes: Route[] = [];
  const rules: Rule[] = [];
  const p = config.protocol;
  for (const plan of plans) {
    const fam: { family?: 6 } = plan.family === 6 ? { family: 6 } : {};
    if (plan.views.some((v) => v.link.table !== undefined)) {
      rules.push({ ...fam, priority: config.rulePriorityBase, table: config.mainTable, suppressPrefixlen: 0, protocol: p });
    }
    for (const v of plan.views) {
      const table = v.link.table;
      const i = config.links.findIndex((l) => l.name === v.link.name);
      if (table === undefined || v.unusable || !v.source) continue;
      if (plan.family === 6) {
        if (v.connected) routes.push({ family: 6, table, dst: v.connected, dev: v.link.interface, prefsrc: v.source, protocol: p });
        routes.push(defaultRouteFor(config, v, table));
        routes.push({ family: 6, table, type: 'unreachable', dst: 'default', protocol: p, metric: UNREACHABLE_METRIC });
        rules.push({ family: 6, priority: config.rulePriorityBase + OIF_RULE_OFFSET, oif: v.link.interface, table, protocol: p });
        // The whole prefix, not the one address: SLAAC gives the router several (stable, temporary), and
        // every one of them must leave by the ISP that owns the prefix (its BCP 38 filter drops the rest).
        rules.push({ family: 6, priority: sourceRulePriority(config, i), from: v.connected ?? v.source, table, protocol: p });
        // Delegated prefixes number the LAN, not the WAN: their hosts must leave by the ISP that delegated them.
        // Written in the kernel's form (2001:db8:1:100::/56), so the reconcile sees its own rule again.
        for (const { prefix } of v.prefixes6 ?? []) {
          const [address, len] = prefix.split('/');
          rules.push({ family: 6, priority: sourceRulePriority(config, i), from: networkOf6(address, Number(len)), table, protocol: p });
        }
        continue;
      }
      if (v.connected) routes.push({ table, dst: v.connected, dev: v.link.interface, prefsrc: v.source, scope: 'link', protocol: p });
      routes.push(defaultRouteFor(config, v, table));
      routes.push({ table, type: 'unreachable', dst: 'default', protocol: p, metric: UNREACHABLE_METRIC });
      // Probes are bound to their interface: this rule keeps them in their own table even when another
      // link has the same source address (identical home routers), whatever the source rules say.
      rules.push({ priority: config.rulePriorityBase + OIF_RULE_OFFSET, oif: v.link.interface, table, protocol: p });
      rules.push({ priority: sourceRulePriority(config, i), from: v.source, table, protocol: p });
    }
    // Sticky or not: connections arriving on an uplink carry its mark, and their replies must leave by
    // it (replies.ts). Kept while the link is unusable: its table is empty then, so they fall through to main.
    const mask = markMask(config);
    for (const v of plan.views) {
      const i = config.links.findIndex((l) => l.name === v.link.name);
      if (v.link.table === undefined) continue;
      const rule: Rule = { ...fam, priority: fwmarkRulePriority(config, i), fwmark: linkMark(config, i), table: v.link.table, protocol: p };
      if (mask !== 0xffffffff) rule.mask = mask;
      rules.push(rule);
    }
    // Only for a family some link routes: the other family is not read back, so its rules would be added again each pass.
    if (plan.views.length) for (const r of policyRules(config, plan.family)) rules.push(r);
  }
  for (const r of config.rules) {
    const rule: Rule = { ...(r.family === 6 ? { family: 6 as const } : {}), priority: r.priority, table: r.table, protocol: p };
    if (r.from) rule.from = r.from;
    if (r.to) rule.to = r.to;
    if (r.fwmark !== undefined) rule.fwmark = r.fwmark;
    if (r.mask !== undefined) rule.mask = r.mask;
    if (r.iif) rule.iif = r.iif;
    rules.push(rule);
  }
  for (const plan of plans) {
    const chosen = plan.active === null ? undefined : plan.views.find((v) => v.link.name === plan.active && !v.unusable);
    const metric = mainMetric(config, plan.family);
    if (chosen) routes.push({ ...defaultRouteFor(config, chosen, config.mainTable), ...(metric ? { metric } : {}) });
    else if (plan.keep) routes.push(plan.keep);
  }
  return { routes, rules };
}
