// What the kernel should hold for a config, the interfaces as they are now, and the chosen link.
// Pure: the daemon, `haip plan` and the tests all call it with plain data.
import { Config, InterfaceFacts, LinkConfig, NetState, Route, Rule } from '../model';

/** A configured link as it stands on this host right now. */
export interface LinkView {
  link: LinkConfig;
  /** Source address for probes and the source rule; undefined when the interface has none. */
  source?: string;
  /** The connected prefix for the link's table (e.g. 198.18.1.0/24, or the ppp peer). */
  connected?: string;
  /** Why the link cannot carry traffic right now, or undefined when it can. */
  unusable?: string;
}

export function networkOf(address: string, prefixlen: number): string {
  const n = address.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const mask = prefixlen === 0 ? 0 : (0xffffffff << (32 - prefixlen)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${prefixlen}`;
}

export function viewLink(link: LinkConfig, iface: InterfaceFacts | undefined): LinkView {
  if (!iface) return { link, unusable: `interface ${link.interface} does not exist` };
  const addr = link.source ? iface.addresses.find((a) => a.address === link.source) : iface.addresses[0];
  const source = addr?.address;
  let connected: string | undefined;
  if (addr?.peer && addr.peer !== addr.address) connected = addr.peer.includes('/') ? addr.peer : addr.peer;
  else if (addr && addr.prefixlen < 32) connected = networkOf(addr.address, addr.prefixlen);
  const view: LinkView = { link, source, connected };
  if (!iface.up) view.unusable = `${link.interface} has no carrier or is down`;
  else if (!addr) view.unusable = link.source ? `${link.interface} does not hold ${link.source}` : `${link.interface} has no IPv4 address`;
  return view;
}

export function viewLinks(config: Config, interfaces: Map<string, InterfaceFacts>): LinkView[] {
  return config.links.map((l) => viewLink(l, interfaces.get(l.interface)));
}

/** Priorities inside haip's block: main's specific routes first, then one source rule per link. */
export function sourceRulePriority(config: Config, index: number): number {
  return config.rulePriorityBase + 10 * (index + 1);
}

/**
 * Sticky fwmark rules sit 1000 above the base, after every source rule: the router's own traffic from an
 * uplink's address must leave by that uplink whatever mark its connection carries.
 */
export const STICKY_RULE_OFFSET = 1000;

export function fwmarkRulePriority(config: Config, index: number): number {
  return config.rulePriorityBase + STICKY_RULE_OFFSET + 10 * (index + 1);
}

/** A link's sticky mark; configs built without one (tests, the legacy command line) get position + 1. */
export function linkMark(config: Config, index: number): number {
  return config.links[index].mark ?? index + 1;
}

export function markMask(config: Config): number {
  return (config.markMask ?? 0xff) >>> 0;
}

export function defaultRouteFor(config: Config, view: LinkView, table: number): Route {
  const r: Route = { table, dst: 'default', dev: view.link.interface, protocol: config.protocol };
  if (view.link.gateway) r.gateway = view.link.gateway;
  else r.scope = 'link';
  return r;
}

/**
 * @param active the link that should carry the main default route; null keeps `keep` (the current one).
 * @param keep haip's current main default route, kept while no link is chosen.
 */
export function desiredState(config: Config, views: LinkView[], active: string | null, keep?: Route): NetState {
  const routes: Route[] = [];
  const rules: Rule[] = [];
  const p = config.protocol;
  if (views.some((v) => v.link.table !== undefined)) {
    rules.push({ priority: config.rulePriorityBase, table: config.mainTable, suppressPrefixlen: 0, protocol: p });
  }
  views.forEach((v, i) => {
    const table = v.link.table;
    if (table === undefined || v.unusable || !v.source) return;
    if (v.connected) routes.push({ table, dst: v.connected, dev: v.link.interface, prefsrc: v.source, scope: 'link', protocol: p });
    routes.push(defaultRouteFor(config, v, table));
    rules.push({ priority: sourceRulePriority(config, i), from: v.source, table, protocol: p });
  });
  if (config.sticky) {
    // Kept while the link is unusable: its table is empty then, so its connections fall through to main.
    const mask = markMask(config);
    config.links.forEach((l, i) => {
      if (l.table === undefined) return;
      const rule: Rule = { priority: fwmarkRulePriority(config, i), fwmark: linkMark(config, i), table: l.table, protocol: p };
      if (mask !== 0xffffffff) rule.mask = mask;
      rules.push(rule);
    });
  }
  for (const r of config.rules) {
    const rule: Rule = { priority: r.priority, table: r.table, protocol: p };
    if (r.from) rule.from = r.from;
    if (r.to) rule.to = r.to;
    if (r.fwmark !== undefined) rule.fwmark = r.fwmark;
    if (r.mask !== undefined) rule.mask = r.mask;
    if (r.iif) rule.iif = r.iif;
    rules.push(rule);
  }
  const chosen = active === null ? undefined : views.find((v) => v.link.name === active && !v.unusable);
  if (chosen) routes.push({ ...defaultRouteFor(config, chosen, config.mainTable), ...(config.mainMetric ? { metric: config.mainMetric } : {}) });
  else if (keep) routes.push(keep);
  return { routes, rules };
}
