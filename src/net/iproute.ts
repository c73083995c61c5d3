// Translation between haip's data and iproute2: commands to argv, and `ip -j -N` output back to data.
// Reading with -N keeps tables, scopes and protocols numeric, whatever the host's rt_* files say.
import { Family, familyFlag, InterfaceFacts, MAIN_TABLE, Route, routeWords, Rule, ruleWords } from '../model';

export type Command =
  | { op: 'route-replace'; route: Route }
  | { op: 'route-del'; route: Route }
  | { op: 'rule-add'; rule: Rule }
  | { op: 'rule-del'; rule: Rule };

/** Exit codes each operation accepts: 2 is "already there" for an add and "not there" for a delete. */
export function acceptedCodes(c: Command): number[] {
  return c.op === 'route-replace' ? [0] : [0, 2];
}

const routeArgs = (r: Route) => routeWords(r, String);

const ruleArgs = (r: Rule) => ruleWords(r, true);

export function commandArgv(c: Command): string[] {
  switch (c.op) {
    case 'route-replace':
      return [familyFlag(c.route.family), 'route', 'replace', ...routeArgs(c.route)];
    case 'route-del':
      return [familyFlag(c.route.family), 'route', 'del', ...routeArgs(c.route)];
    case 'rule-add':
      return [familyFlag(c.rule.family), 'rule', 'add', ...ruleArgs(c.rule)];
    case 'rule-del':
      return [familyFlag(c.rule.family), 'rule', 'del', ...ruleArgs(c.rule)];
  }
}

export function commandToString(c: Command): string {
  return ['ip', ...commandArgv(c)].join(' ');
}

export const READ_ADDRS = ['-j', 'addr', 'show'];
/** The same with numbers (scope 0 for global): how it reads inside a pass's batch. */
export const READ_ADDRS_N = ['-j', '-N', 'addr', 'show'];
export const READ_RULES = ['-4', '-j', '-N', 'rule', 'show'];
/**
 * Every route through one interface, in any table: where a DHCP client, pppd or an admin put the
 * interface's default route. The kernel filters by device, so other interfaces' routes are never sent.
 */
export const readDeviceRoutes = (dev: string) => ['-4', '-j', '-N', 'route', 'show', 'table', 'all', 'dev', dev];
export const READ_RULES6 = ['-6', '-j', '-N', 'rule', 'show'];
export const readRulesArgv = (family: Family) => (family === 6 ? READ_RULES6 : READ_RULES);

/**
 * One table's routes, or only its default routes (every metric). Never `table all`: a host carrying a
 * full BGP table in another table must cost haip nothing, and the kernel dumps only the table asked for.
 */
export function readRoutesArgv(table: number, onlyDefault = false, family: Family = 4): string[] {
  return [familyFlag(family), '-j', '-N', 'route', 'show', 'table', String(table), ...(onlyDefault ? ['default'] : [])];
}

/** `ip route show table N` for a table that holds nothing: exit 2, which means "no routes". */
export const NO_SUCH_TABLE = /FIB table does not exist/;

// The records `ip -j -N` prints, as far as haip reads them. Numbers chosen by -N come as strings.
interface IpAddrInfoJson {
  family: string;
  local?: string;
  /** The peer of a point-to-point address. */
  address?: string;
  prefixlen: number;
  scope?: string;
  tentative?: boolean;
  dadfailed?: boolean;
  deprecated?: boolean;
  /** Seconds left; 4294967295 is forever. */
  valid_life_time?: number;
  preferred_life_time?: number;
}
interface IpLinkAddrJson {
  ifindex?: number;
  ifname: string;
  mtu?: number;
  flags?: string[];
  addr_info?: IpAddrInfoJson[];
}
interface IpRouteJson {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  /** Absent in the main table and when one table was asked for. */
  table?: string;
  /** Absent for `proto boot`, which iproute2 does not print. */
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  /** Next-hop flags: `onlink`, `linkdown`, ... */
  flags?: string[];
}
interface IpRuleJson {
  priority?: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  fwmark?: string;
  fwmask?: string;
  iif?: string;
  oif?: string;
  table: string;
  suppress_prefixlen?: number;
  protocol?: string;
  /** A rule that is no lookup: "7" (RTN_UNREACHABLE) with -N. */
  action?: string;
}

const RTPROT_BOOT = 3;

function parseJson<T>(text: string, what: string): T[] {
  const t = text.trim();
  if (!t) return [];
  try {
    const v: unknown = JSON.parse(t);
    return Array.isArray(v) ? (v as T[]) : [];
  } catch (err) {
    throw new Error(`cannot parse ip ${what} output`, { cause: err });
  }
}

export function parseInterfaces(text: string): Map<string, InterfaceFacts> {
  const out = new Map<string, InterfaceFacts>();
  for (const j of parseJson<IpLinkAddrJson>(text, 'addr')) {
    const flags = j.flags ?? [];
    const addresses = (j.addr_info ?? [])
      .filter((a): a is IpAddrInfoJson & { local: string } => a.family === 'inet' && !!a.local)
      .map((a) => ({ address: a.local, prefixlen: Number(a.prefixlen), peer: a.address }));
    // Only global addresses the kernel would use as a source: link-local ones never leave the link.
    const addresses6 = (j.addr_info ?? [])
      .filter((a): a is IpAddrInfoJson & { local: string } => a.family === 'inet6' && !!a.local && (a.scope === 'global' || a.scope === '0') && !a.tentative && !a.dadfailed && !a.deprecated)
      .map((a) => ({ address: a.local, prefixlen: Number(a.prefixlen), ...lifetimes(a) }));
    out.set(j.ifname, {
      name: j.ifname,
      ...(typeof j.ifindex === 'number' ? { index: j.ifindex } : {}),
      up: flags.includes('UP') && flags.includes('LOWER_UP'),
      pointToPoint: flags.includes('POINTOPOINT'),
      ...(typeof j.mtu === 'number' ? { mtu: j.mtu } : {}),
      addresses,
      ...(addresses6.length ? { addresses6 } : {}),
    });
  }
  return out;
}

/** An address's lifetimes as the kernel counts them down (a DHCPv6-PD lease's, when a client set them); forever: none. */
function lifetimes(a: IpAddrInfoJson): { validS?: number; preferredS?: number } {
  const left = (s: unknown) => (typeof s === 'number' && Number.isInteger(s) && s >= 0 && s < FOREVER ? s : undefined);
  const validS = left(a.valid_life_time);
  const preferredS = left(a.preferred_life_time);
  return { ...(validS !== undefined ? { validS } : {}), ...(preferredS !== undefined ? { preferredS } : {}) };
}
const FOREVER = 4294967295;

const withLen = (addr: string, len: unknown, family: Family) => (len === undefined || Number(len) === (family === 6 ? 128 : 32) ? addr : `${addr}/${len}`);

/**
 * @param table the table asked for, for records that do not name theirs (main, or one table shown).
 * @param family the family asked for (`ip -6`): its records are tagged with it.
 * @param dev the device the read was filtered by: iproute2 then leaves `dev` out of every route.
 */
export function parseRoutes(text: string, table = MAIN_TABLE, family: Family = 4, dev?: string): Route[] {
  const out: Route[] = [];
  for (const j of parseJson<IpRouteJson>(text, 'route')) {
    // With -N the type is a number: unreachable is 7 (RTN_UNREACHABLE); unicast is not shown.
    const unreachable = j.type === 'unreachable' || j.type === '7';
    const routeDev = j.dev ?? dev;
    if (unreachable ? false : (j.type !== undefined && j.type !== 'unicast') || !routeDev) continue;
    const r: Route = {
      table: j.table === undefined ? table : Number(j.table),
      dst: j.dst,
      protocol: j.protocol === undefined ? RTPROT_BOOT : Number(j.protocol),
    };
    if (unreachable) r.type = 'unreachable';
    else r.dev = routeDev;
    if (family === 6) r.family = 6;
    if (j.gateway) r.gateway = j.gateway;
    if (j.gateway && j.flags?.includes('onlink')) r.onlink = true;
    if (j.prefsrc) r.prefsrc = j.prefsrc;
    if (j.scope !== undefined && Number(j.scope) === 253) r.scope = 'link';
    if (j.metric) r.metric = Number(j.metric);
    if (Number.isFinite(r.table) && Number.isFinite(r.protocol)) out.push(r);
  }
  return out;
}

export function parseRules(text: string, family: Family = 4): Rule[] {
  return parseJson<IpRuleJson>(text, 'rule').map((j) => {
    const r: Rule = { priority: Number(j.priority ?? 0), table: Number(j.table) };
    if (family === 6) r.family = 6;
    if (j.src && j.src !== 'all') r.from = withLen(j.src, j.srclen, family);
    if (j.dst && j.dst !== 'all') r.to = withLen(j.dst, j.dstlen, family);
    if (j.fwmark !== undefined) r.fwmark = Number(j.fwmark);
    if (j.fwmask !== undefined && Number(j.fwmask) !== 0xffffffff) r.mask = Number(j.fwmask);
    if (j.iif) r.iif = j.iif;
    if (j.oif) r.oif = j.oif;
    if (j.suppress_prefixlen !== undefined) r.suppressPrefixlen = Number(j.suppress_prefixlen);
    if (j.protocol !== undefined) r.protocol = Number(j.protocol);
    if (j.action === '7' || j.action === 'unreachable') {
      r.type = 'unreachable';
      r.table = 0;
    }
    return r;
  });
}
