// Translation between haip's data and iproute2: commands to argv, and `ip -j -N` output back to data.
// Reading with -N keeps tables, scopes and protocols numeric, whatever the host's rt_* files say.
import { InterfaceFacts, MAIN_TABLE, NetState, Route, routeWords, Rule, ruleWords } from '../model';

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
      return ['-4', 'route', 'replace', ...routeArgs(c.route)];
    case 'route-del':
      return ['-4', 'route', 'del', ...routeArgs(c.route)];
    case 'rule-add':
      return ['-4', 'rule', 'add', ...ruleArgs(c.rule)];
    case 'rule-del':
      return ['-4', 'rule', 'del', ...ruleArgs(c.rule)];
  }
}

export function commandToString(c: Command): string {
  return ['ip', ...commandArgv(c)].join(' ');
}

export const READ_ADDRS = ['-j', 'addr', 'show'];
export const READ_ROUTES = ['-4', '-j', '-N', 'route', 'show', 'table', 'all'];
export const READ_RULES = ['-4', '-j', '-N', 'rule', 'show'];
/**
 * Every route through one interface, in any table: where a DHCP client, pppd or an admin put the
 * interface's default route. The kernel filters by device, so other interfaces' routes are never sent.
 */
export const readDeviceRoutes = (dev: string) => ['-4', '-j', '-N', 'route', 'show', 'table', 'all', 'dev', dev];

function parseJson(text: string, what: string): any[] {
  const t = text.trim();
  if (!t) return [];
  try {
    const v = JSON.parse(t);
    return Array.isArray(v) ? v : [];
  } catch (err) {
    throw new Error(`cannot parse ip ${what} output`, { cause: err });
  }
}

export function parseInterfaces(text: string): Map<string, InterfaceFacts> {
  const out = new Map<string, InterfaceFacts>();
  for (const j of parseJson(text, 'addr')) {
    const flags: string[] = j.flags ?? [];
    const addresses = (j.addr_info ?? [])
      .filter((a: any) => a.family === 'inet' && a.local)
      .map((a: any) => ({ address: a.local as string, prefixlen: Number(a.prefixlen), peer: a.address as string | undefined }));
    out.set(j.ifname, {
      name: j.ifname,
      up: flags.includes('UP') && flags.includes('LOWER_UP'),
      pointToPoint: flags.includes('POINTOPOINT'),
      addresses,
    });
  }
  return out;
}

const withLen = (addr: string, len: unknown) => (len === undefined || Number(len) === 32 ? addr : `${addr}/${len}`);

/** @param dev the device the read was filtered by: iproute2 then leaves `dev` out of every route. */
export function parseRoutes(text: string, dev?: string): Route[] {
  return parseJson(text, 'route')
    // With -N the type is a number: unreachable is 7 (RTN_UNREACHABLE); unicast is not shown.
    .filter((j) => j.type === undefined || j.type === 'unicast' || j.type === 'unreachable' || j.type === '7')
    .map((j) => {
      const r: Route = {
        table: j.table === undefined ? MAIN_TABLE : Number(j.table),
        dst: j.dst,
        // iproute2 leaves out the protocol of a `boot` route (3), the one `ip route add` makes by default.
        protocol: Number(j.protocol ?? 3),
      };
      if (j.type === 'unreachable' || j.type === '7') r.type = 'unreachable';
      else r.dev = j.dev ?? dev;
      if (j.gateway) r.gateway = j.gateway;
      if (j.prefsrc) r.prefsrc = j.prefsrc;
      if (j.scope !== undefined && Number(j.scope) === 253) r.scope = 'link';
      if (j.metric) r.metric = Number(j.metric);
      return r;
    })
    .filter((r) => Number.isFinite(r.table) && Number.isFinite(r.protocol) && (r.dev || r.type === 'unreachable'));
}

export function parseRules(text: string): Rule[] {
  return parseJson(text, 'rule').map((j) => {
    const r: Rule = { priority: Number(j.priority ?? 0), table: Number(j.table) };
    if (j.src && j.src !== 'all') r.from = withLen(j.src, j.srclen);
    if (j.dst && j.dst !== 'all') r.to = withLen(j.dst, j.dstlen);
    if (j.fwmark !== undefined) r.fwmark = Number(j.fwmark);
    if (j.fwmask !== undefined && Number(j.fwmask) !== 0xffffffff) r.mask = Number(j.fwmask);
    if (j.iif) r.iif = j.iif;
    if (j.oif) r.oif = j.oif;
    if (j.suppress_prefixlen !== undefined) r.suppressPrefixlen = Number(j.suppress_prefixlen);
    if (j.protocol !== undefined) r.protocol = Number(j.protocol);
    return r;
  });
}

export function parseNetState(routes: string, rules: string): NetState {
  return { routes: parseRoutes(routes), rules: parseRules(rules) };
}
