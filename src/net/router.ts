// Reads the kernel's state and applies planned commands through a Runner. Every command is tried;
// failures are collected with their argv and stderr, never thrown past the caller.
import { configFamilies, Family, InterfaceFacts, LinkConfig, MAIN_TABLE, NetState, Route } from '../model';
import { CommandError, Runner, runChecked } from '../sys/runner';
import { isPointToPoint } from './desired';
import { Lookup, lookupsOf } from './effective';
import { readLookups } from './effectiveRead';
import { gatewayDevices, reachableFrom } from './gateways';
import { learnsPrefixes6, READ_DELEGATIONS } from './pd';
import { acceptedCodes, Command, commandArgv, NO_SUCH_TABLE, parseInterfaces, parseRoutes, parseRules, READ_ADDRS, readDeviceRoutes, readRoutesArgv, readRulesArgv } from './iproute';

export interface Observation {
  interfaces: Map<string, InterfaceFacts>;
  net: NetState;
  /** IPv4 routes gateways are learned from: main's defaults, and where needed a link interface's routes. */
  deviceRoutes: Route[];
  /** The DHCPv6 clients' records of delegated prefixes (src/net/pd.ts); empty unless a link learns them. */
  delegations6: Route[];
  /** The kernel's answers for the effective-route check (src/net/effective.ts); none when not asked. */
  lookups?: Lookup[];
}

/** What haip reads: its own tables, the default routes of the table it keeps the default route in. */
export interface ReadScope {
  mainTable: number;
  protocol: number;
  /** The link tables of the config. */
  tables: number[];
  /** Tables the config's extra rules point at: not haip's, never read (one may hold a full BGP table). */
  foreign: number[];
  /** The families to read: IPv6 only when a link probes an IPv6 target. */
  families: Family[];
  /** Interfaces of links without an IPv4 gateway in the config: where gateways are learned. */
  gatewayDevices: string[];
  /** A link learns its delegated prefixes: read the DHCPv6 clients' records. */
  delegations6: boolean;
  /**
   * The links whose effective routes are looked up after the read (`haip plan`); absent: none. The
   * daemon asks them after its passes instead (src/core/upstream.ts), never delaying one.
   */
  links?: LinkConfig[];
}

const RESERVED_TABLES = new Set([0, 253, 254, 255]);

/**
 * Reads the links, the rules, the main table's default routes (every metric) and haip's tables: those
 * of the config and any that one of haip's rules still points at (a link removed by a reload). Never
 * `table all`, so a full BGP table elsewhere is never read.
 */
export async function observe(ip: Runner, scope: ReadScope): Promise<Observation> {
  const [addrs, delegations6, ...perFamily] = await Promise.all([
    runChecked(ip, READ_ADDRS),
    scope.delegations6 && scope.families.includes(6) ? readDelegations(ip) : Promise.resolve([]),
    ...scope.families.map((f) => observeFamily(ip, scope, f)),
  ]);
  const interfaces = parseInterfaces(addrs.stdout);
  const routes = perFamily.flatMap((n) => n.routes);
  const mainDefaults = routes.filter((r) => (r.family ?? 4) === 4 && r.table === scope.mainTable && r.dst === 'default');
  return {
    interfaces,
    net: { routes, rules: perFamily.flatMap((n) => n.rules) },
    deviceRoutes: [...mainDefaults, ...(await readDeviceRoutesOf(ip, scope, interfaces, mainDefaults))],
    delegations6,
    ...(scope.links ? { lookups: await readLookups(ip, lookupsOf(scope.links, scope.families, interfaces)) } : {}),
  };
}

/** main's `unreachable ... proto dhcp` IPv6 routes, filtered by the kernel: a full table in main costs nothing. */
async function readDelegations(ip: Runner): Promise<Route[]> {
  return parseRoutes((await runChecked(ip, READ_DELEGATIONS)).stdout, MAIN_TABLE, 6);
}

/**
 * Where gateways are learned beyond main's default routes: every route through an interface of a link
 * without a gateway, in any table (systemd-networkd and NetworkManager can put the default route in a
 * table of their own). Read only for a broadcast interface that exists and has no foreign default in
 * main (the usual DHCP client's place): the kernel filters the dump by device, so other interfaces'
 * routes are never sent; an interface that vanished since (`Cannot find device`) has none.
 */
async function readDeviceRoutesOf(ip: Runner, scope: ReadScope, interfaces: Map<string, InterfaceFacts>, mainDefaults: Route[]): Promise<Route[]> {
  const needed = [...new Set(scope.gatewayDevices)].filter((d) => {
    const iface = interfaces.get(d);
    // A default in main whose gateway is outside every prefix and not `onlink` (option 121's shape) is
    // explained by a host route to the gateway: read the device's routes for it.
    return (
      iface &&
      !isPointToPoint(iface) &&
      !mainDefaults.some((r) => r.dev === d && r.gateway && r.protocol !== scope.protocol && (r.onlink || reachableFrom(iface, r.gateway)))
    );
  });
  const perDev = await Promise.all(needed.map(async (dev) => ({ dev, r: await ip.run(readDeviceRoutes(dev)) })));
  return perDev.flatMap(({ dev, r }) => (r.code === 0 ? parseRoutes(r.stdout, MAIN_TABLE, 4, dev) : []));
}

/** One family's rules, main's default routes and haip's tables. */
async function observeFamily(ip: Runner, scope: ReadScope, family: Family): Promise<NetState> {
  const [rulesOut, mainDefaults] = await Promise.all([runChecked(ip, readRulesArgv(family)), readTable(ip, scope.mainTable, true, family)]);
  const rules = parseRules(rulesOut.stdout, family);
  const tables = new Set(scope.tables);
  for (const r of rules) if (r.protocol === scope.protocol) tables.add(r.table);
  for (const t of [...tables]) if (RESERVED_TABLES.has(t) || t === scope.mainTable || (scope.foreign.includes(t) && !scope.tables.includes(t))) tables.delete(t);
  const perTable = await Promise.all([...tables].sort((a, b) => a - b).map((t) => readTable(ip, t, false, family)));
  return { routes: [...mainDefaults, ...perTable.flat()], rules };
}

/** A table's routes; a table that does not exist yet holds none. */
export async function readTable(ip: Runner, table: number, onlyDefault = false, family: Family = 4): Promise<Route[]> {
  const argv = readRoutesArgv(table, onlyDefault, family);
  const r = await ip.run(argv);
  if (r.code === 2 && NO_SUCH_TABLE.test(r.stderr)) return [];
  if (r.code !== 0) throw new CommandError(['ip', ...argv], r);
  return parseRoutes(r.stdout, table, family);
}

/** The default routes of the table haip keeps the default route in, every metric, in the kernel's order. */
export async function readMainDefaults(ip: Runner, mainTable: number, families: Family[] = [4]): Promise<Route[]> {
  return (await Promise.all(families.map((f) => readTable(ip, mainTable, true, f)))).flat();
}

export interface ApplyResult {
  applied: Command[];
  errors: CommandError[];
  /** The command each error belongs to, in the same order. */
  failed: Command[];
}

export async function applyCommands(ip: Runner, commands: Command[]): Promise<ApplyResult> {
  const out: ApplyResult = { applied: [], errors: [], failed: [] };
  for (const c of commands) {
    const argv = commandArgv(c);
    const r = await ip.run(argv);
    if (acceptedCodes(c).includes(r.code)) out.applied.push(c);
    else {
      out.errors.push(new CommandError(['ip', ...argv], r));
      out.failed.push(c);
    }
  }
  return out;
}

/** The read scope of a config. */
export function readScope(config: { mainTable: number; protocol: number; links: LinkConfig[]; rules: { table: number; family?: 6 }[] }): ReadScope {
  return {
    // IPv4 always (rules, flush and the original's mode need it); IPv6 when a link probes it.
    families: [4, ...configFamilies(config).filter((f) => f === 6)],
    mainTable: config.mainTable,
    protocol: config.protocol,
    tables: config.links.flatMap((l) => (l.table === undefined ? [] : [l.table])),
    foreign: config.rules.map((r) => r.table),
    gatewayDevices: gatewayDevices(config),
    delegations6: config.links.some(learnsPrefixes6),
  };
}
