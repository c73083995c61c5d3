// Plain data shared by every part of haip: links, rules, routes, health and the choice of uplink.
// Each type renders like the `ip` command it stands for, so logs and golden tests read as iproute2.

import type { DampingSettings } from './health/damping';
import type { PolicyConfig, TrafficRule } from './policy/types';

export const MAIN_TABLE = 254;

/** An address family: IPv4 and IPv6 are judged, chosen and routed each on their own. */
export type Family = 4 | 6;
export const FAMILIES: readonly Family[] = [4, 6];

/** The family of an address, a prefix or a probe target (`tcp://[2001:db8::1]:443` is IPv6). */
export function familyOf(addressOrTarget: string): Family {
  const m = /^[a-z]+:\/\/(\[?)/.exec(addressOrTarget);
  if (m) return m[1] ? 6 : 4;
  return addressOrTarget.includes(':') ? 6 : 4;
}

/**
 * A link as one family sees it: only that family's probe targets. A link takes part in a family when it
 * has targets of it; a config whose targets are all IPv4 runs exactly as haip did before IPv6.
 */
export function familyLink(link: LinkConfig, family: Family): LinkConfig | undefined {
  const targets = link.probe.targets.filter((t) => familyOf(t) === family);
  if (!targets.length) return undefined;
  if (targets.length === link.probe.targets.length) return link;
  return { ...link, probe: { ...link.probe, targets } };
}

/** The families a config's links probe, IPv4 first. */
export function configFamilies(config: { links: LinkConfig[]; rules?: { family?: 6 }[] }): Family[] {
  return FAMILIES.filter((f) => config.links.some((l) => l.probe.targets.some((t) => familyOf(t) === f)) || (f === 6 && config.rules?.some((r) => r.family === 6)));
}

/** `ip -4` or `ip -6`. */
export const familyFlag = (f: Family | undefined) => (f === 6 ? '-6' : '-4');

export interface ProbeSettings {
  targets: string[];
  /** ICMP payload bytes, sent with don't-fragment (path-MTU probes); absent: ping's default 56. */
  size?: number;
  intervalMs: number;
  timeoutMs: number;
  quorum: number;
  down: number;
  up: number;
  /** How probes are sent: one long-lived ping per target (stream), one ping per probe (spawn); unset is auto. */
  method?: 'auto' | 'spawn' | 'stream';
  /** Quality limits over qualityWindowMs; absent: none (a link that answers is up, however badly). */
  maxLossPct?: number;
  maxRttMs?: number;
  qualityWindowMs: number;
}

export interface LinkConfig {
  name: string;
  interface: string;
  weight: number;
  /** Routing table number for source routing; absent: no table or rule (the original haip's mode). */
  table?: number;
  gateway?: string;
  /**
   * With no gateway configured or learned on a broadcast interface: `default dev IF` anyway. Only the
   * original command line sets it (`--route W/T/DEV` meant exactly that); haip.yaml links never do.
   */
  onLink?: boolean;
  /** Fixed source address; absent: the interface's primary IPv4 address, followed as it changes. */
  source?: string;
  /** IPv6 next hop (link-local allowed); absent: learned from the kernel (router advertisements, DHCPv6 clients). */
  gateway6?: string;
  /** Fixed IPv6 source address; absent: the interface's first global IPv6 address. */
  source6?: string;
  /** IPv6 prefixes the ISP delegated to this uplink: a source rule each into its table. */
  prefixes6?: string[];
  /** Connection mark for sticky connections (under Config.markMask); absent: the link's position + 1. */
  mark?: number;
  /** The link's part of a balance policy's new connections; absent: 1. */
  share?: number;
  probe: ProbeSettings;
}

export interface RuleConfig {
  /** Absent: IPv4. IPv6 when `from` or `to` is an IPv6 address or prefix. */
  family?: 6;
  priority: number;
  table: number;
  from?: string;
  to?: string;
  fwmark?: number;
  mask?: number;
  iif?: string;
}

export interface Config {
  /** Where the config came from, for messages ("haip.yaml" or "command line"). */
  source: string;
  logLevel: LogLevel;
  tables: Record<string, number>;
  links: LinkConfig[];
  rules: RuleConfig[];
  sticky: boolean;
  /** The bits of the packet/connection mark that are haip's when sticky; absent: 0xff. */
  markMask?: number;
  stateDir: string;
  hooksDir: string;
  /** Prometheus text file for node_exporter's textfile collector; absent: none written. */
  metricsFile?: string;
  /** Metrics are rewritten at once on a change of state, otherwise at most this often (flash). */
  metricsIntervalMs: number;
  /** The original haip's --toggle command, run on every switch with IFNAME and GATEWAY. */
  toggle?: string;
  hookTimeoutMs: number;
  /** Route-flap damping; absent: the defaults (on). */
  damping?: DampingSettings;
  /** Route/rule protocol number that marks what haip owns. */
  protocol: number;
  /** First priority of haip's own block of `ip rule` priorities. */
  rulePriorityBase: number;
  /** Table whose default route haip keeps on the best uplink. */
  mainTable: number;
  /** Metric of that default route; absent: 0. Foreign defaults at this metric or lower are drift. */
  mainMetric?: number;
  /** Foreign routes in main shorter than this are moved into their link's table; absent: /8 and /16. */
  shadowPrefix?: Partial<Record<Family, number>>;
  rtTablesFile?: string;
  rtProtosFile?: string;
  /** Traffic policies, the rules that pick them (first match) and the policy of unmatched traffic; absent: none. */
  policies?: PolicyConfig[];
  traffic?: TrafficRule[];
  defaultPolicy?: string;
  /** The LAN side of an IPv6 failover (haip's own router advertisements); absent: haip sends none. */
  lan6?: Lan6Config;
}

/** `lan6`: haip advertises the LAN's /64s of the links' delegated prefixes on this interface. */
export interface Lan6Config {
  interface: string;
  /** A down link's /64 goes out with preferred lifetime 0 while another link's is alive. */
  deprecate: boolean;
  /** The router lifetime in haip's RAs (they come from the router's own link-local address). */
  routerLifetimeS: number;
}

export type LogLevel = 'error' | 'warning' | 'notice' | 'info' | 'debug';

export interface Route {
  /** Absent: IPv4. */
  family?: 6;
  table: number;
  /** `unreachable`: ends a link's table, so nothing from its source falls through to main. Absent: unicast. */
  type?: 'unreachable';
  dst: string; // "default" or a CIDR
  /** The output device; absent only for an unreachable route. */
  dev?: string;
  gateway?: string;
  prefsrc?: string;
  scope?: 'link';
  /**
   * The gateway is reached on the link without a connected route covering it (`onlink`): a hoster's /32
   * with its gateway in another subnet, DHCP option 121's `GW/32` + `default via GW`.
   */
  onlink?: boolean;
  protocol: number;
  metric?: number;
}

export interface Rule {
  /** Absent: IPv4. */
  family?: 6;
  priority: number;
  table: number;
  from?: string; // CIDR or address; absent means all
  to?: string;
  fwmark?: number;
  mask?: number;
  iif?: string;
  /** Output interface: matches traffic from sockets bound to it (haip's probes), never forwarded traffic. */
  oif?: string;
  /** `lookup main suppress_prefixlength 0`: main's specific routes, not its default. */
  suppressPrefixlen?: number;
  protocol?: number;
  /** `unreachable`: the rule answers "network unreachable" instead of a lookup (its table is then 0). */
  type?: 'unreachable';
}

export interface NetState {
  routes: Route[];
  rules: Rule[];
  /** Foreign routes to delete (desired state only): those moved out of main (src/net/shadows.ts). */
  remove?: Route[];
}

/** What the kernel says about one interface, as far as haip cares. */
export interface InterfaceFacts {
  name: string;
  /** The kernel's ifindex; absent: not read. */
  index?: number;
  up: boolean; // administratively up and carrier present
  /** IFF_POINTOPOINT (ppp, tun, gre): `default dev IF` reaches the far end without a gateway. */
  pointToPoint?: boolean;
  /** The interface MTU; absent: not read. */
  mtu?: number;
  addresses: { address: string; prefixlen: number; peer?: string }[];
  /**
   * Global IPv6 addresses in use (not tentative, failed or deprecated); absent: none read. validS and
   * preferredS: the seconds left at the read (a DHCPv6 client sets them from its lease); absent: forever.
   */
  addresses6?: { address: string; prefixlen: number; validS?: number; preferredS?: number }[];
}

/** `degraded`: answering, but beyond a quality limit (max_loss, max_rtt); it carries traffic only when no link is up. */
export type LinkState = 'unknown' | 'up' | 'degraded' | 'down';

export interface LinkHealth {
  state: LinkState;
  /** Consecutive rounds against the current state (bad while up, good while down). */
  streak: number;
  since: number; // ms since epoch
  reason: string;
}

/** The link a rule of selection picked, and why; null active means keep the current route. */
export interface Choice {
  active: string | null;
  reason: string;
}

function mark(n: number): string {
  return '0x' + n.toString(16);
}

export function tableName(t: number): string {
  return t === MAIN_TABLE ? 'main' : String(t);
}

/** A route as `ip route` arguments; `table` renders the table (a name for people, a number for ip). */
export function routeWords(r: Route, table: (t: number) => string = tableName): string[] {
  const parts = r.type ? [r.type, r.dst] : [r.dst];
  if (r.gateway) parts.push('via', r.gateway);
  if (r.dev) parts.push('dev', r.dev);
  if (r.onlink) parts.push('onlink');
  if (r.prefsrc) parts.push('src', r.prefsrc);
  if (r.scope) parts.push('scope', r.scope);
  parts.push('proto', String(r.protocol));
  if (r.metric) parts.push('metric', String(r.metric));
  parts.push('table', table(r.table));
  return parts;
}

/** `ip -6` routes and rules carry `-6 ` in front, as the command that shows them would. */
const familyPrefix = (f: 6 | undefined) => (f === 6 ? '-6 ' : '');

export function routeToString(r: Route): string {
  return familyPrefix(r.family) + routeWords(r).join(' ');
}

/**
 * A rule as `ip rule` arguments. For people (`forIp` false) it reads like `ip rule show`: `from all`
 * spelled out, table names, `proto`; for ip itself: only the selectors set, numbers, `protocol`.
 */
export function ruleWords(r: Rule, forIp = false): string[] {
  const parts = ['priority', String(r.priority)];
  if (r.from || !forIp) parts.push('from', r.from ?? 'all');
  if (r.to) parts.push('to', r.to);
  if (r.fwmark !== undefined) parts.push('fwmark', r.mask !== undefined ? `${mark(r.fwmark)}/${mark(r.mask)}` : mark(r.fwmark));
  if (r.iif) parts.push('iif', r.iif);
  if (r.oif) parts.push('oif', r.oif);
  if (r.type === 'unreachable') parts.push('unreachable');
  else parts.push('lookup', forIp ? String(r.table) : tableName(r.table));
  if (r.suppressPrefixlen !== undefined) parts.push('suppress_prefixlength', String(r.suppressPrefixlen));
  if (r.protocol !== undefined) parts.push(forIp ? 'protocol' : 'proto', String(r.protocol));
  return parts;
}

export function ruleToString(r: Rule): string {
  return familyPrefix(r.family) + ruleWords(r).join(' ');
}

/** A switch or link change as hooks and the journal see it. */
export interface HookEvent {
  event: 'link-up' | 'link-degraded' | 'link-down' | 'switch';
  /** The family the event is about: IPv4 and IPv6 change state and switch on their own. */
  family?: 4 | 6;
  link: string;
  interface: string;
  state: string;
  previous: string;
  gateway?: string;
}

/** What an event says, as HAIP_* variables: a hook's environment, and the fields of its journal entry. */
export function eventVariables(ev: HookEvent): Record<string, string> {
  const vars: Record<string, string> = {
    HAIP_EVENT: ev.event,
    HAIP_LINK: ev.link,
    HAIP_INTERFACE: ev.interface,
    HAIP_STATE: ev.state,
    HAIP_PREVIOUS: ev.previous,
    HAIP_FAMILY: String(ev.family ?? 4),
  };
  if (ev.gateway) vars.HAIP_GATEWAY = ev.gateway;
  return vars;
}

