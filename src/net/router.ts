// Reads the kernel's state and applies planned commands through a Runner. Every command is tried;
// failures are collected with their argv and stderr, never thrown past the caller.
import { configFamilies, Family, InterfaceFacts, LinkConfig, MAIN_TABLE, NetState, Route } from '../model';
import { CommandError, Runner, RunResult } from '../sys/runner';
import { runBatched } from './batch';
import { isPointToPoint } from './desired';
import { Lookup, lookupsOf } from './effective';
import { readLookups } from './effectiveRead';
import { gatewayDevices, reachableFrom } from './gateways';
import { learnsPrefixes6, READ_DELEGATIONS } from './pd';
import { acceptedCodes, Command, commandArgv, NO_SUCH_TABLE, parseInterfaces, parseRoutes, parseRules, READ_ADDRS_N, readDeviceRoutes, readRoutesArgv, readRulesArgv } from './iproute';

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
  const tablesOf = (family: Family) => scope.tables.filter((t) => !RESERVED_TABLES.has(t) && t !== scope.mainTable).map((t) => readRoutesArgv(t, false, family));
  const delegations = scope.delegations6 && scope.families.includes(6);
  // IPv4's reads without their `-4` (what `ip` reads when no family is given) share one batch with the
  // addresses, which need both families: a pass reads through one `ip` (two with IPv6).
  const perFamily = scope.families.map((f) => [readRulesArgv(f), readRoutesArgv(scope.mainTable, true, f), ...tablesOf(f)].map((a) => (f === 4 ? a.slice(1) : a)));
  const argvs = [READ_ADDRS_N, ...(delegations ? [READ_DELEGATIONS] : []), ...perFamily.flat()];
  const answers = await runBatched(ip, argvs);
  const at = (argv: string[]) => answers[argvs.indexOf(argv)];
  const interfaces = parseInterfaces(checked(READ_ADDRS_N, at(READ_ADDRS_N)).stdout);
  const delegations6 = delegations ? parseRoutes(checked(READ_DELEGATIONS, at(READ_DELEGATIONS)).stdout, MAIN_TABLE, 6) : [];
  const states = await Promise.all(scope.families.map((f, i) => familyState(ip, scope, f, perFamily[i].map((argv) => ({ argv, answer: at(argv) })))));
  const routes = states.flatMap((n) => n.routes);
  const mainDefaults = routes.filter((r) => (r.family ?? 4) === 4 && r.table === scope.mainTable && r.dst === 'default');
  return {
    interfaces,
    net: { routes, rules: states.flatMap((n) => n.rules) },
    deviceRoutes: [...mainDefaults, ...(await readDeviceRoutesOf(ip, scope, interfaces, mainDefaults))],
    delegations6,
    ...(scope.links ? { lookups: await readLookups(ip, lookupsOf(scope.links, scope.families, interfaces)) } : {}),
  };
}

function checked(argv: string[], r: RunResult): RunResult {
  if (r.code !== 0) throw new CommandError(['ip', ...argv], r);
  return r;
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
  const perDev = await runBatched(ip, needed.map(readDeviceRoutes));
  return perDev.flatMap((r, i) => (r.code === 0 ? parseRoutes(r.stdout, MAIN_TABLE, 4, needed[i]) : []));
}

/**
 * One family's rules, main's default routes and haip's tables from their answers; a table one of haip's
 * rules still points at (a link removed by a reload) is read after, in a batch of its own.
 */
async function familyState(ip: Runner, scope: ReadScope, family: Family, read: { argv: string[]; answer: RunResult }[]): Promise<NetState> {
  const [rulesRead, mainRead, ...tableReads] = read;
  const rules = parseRules(checked(rulesRead.argv, rulesRead.answer).stdout, family);
  const known = new Set([scope.mainTable, ...scope.tables]);
  const more = [...new Set(rules.filter((r) => r.protocol === scope.protocol).map((r) => r.table))].filter(
    (t) => !known.has(t) && !RESERVED_TABLES.has(t) && !scope.foreign.includes(t),
  );
  const moreArgvs = more.map((t) => readRoutesArgv(t, false, family));
  const moreAnswers = await runBatched(ip, moreArgvs);
  const tables = [...tableReads, ...moreArgvs.map((argv, i) => ({ argv, answer: moreAnswers[i] }))];
  const tableOf = (argv: string[]) => Number(argv[argv.indexOf('table') + 1]);
  tables.sort((a, b) => tableOf(a.argv) - tableOf(b.argv));
  return {
    routes: [mainRead, ...tables].flatMap(({ argv, answer }) => tableRoutes(argv, answer, tableOf(argv), family)),
    rules,
  };
}

/** A table's routes from the answer to its read; a table that does not exist yet holds none. */
function tableRoutes(argv: string[], r: RunResult, table: number, family: Family): Route[] {
  if (r.code === 2 && NO_SUCH_TABLE.test(r.stderr)) return [];
  if (r.code !== 0) throw new CommandError(['ip', ...argv], r);
  return parseRoutes(r.stdout, table, family);
}

export interface ApplyResult {
  applied: Command[];
  errors: CommandError[];
  /** The command each error belongs to, in the same order. */
  failed: Command[];
}

export async function applyCommands(ip: Runner, commands: Command[]): Promise<ApplyResult> {
  return (await applyThenRead(ip, commands, MAIN_TABLE, [])).result;
}

/**
 * Applies the commands and then reads the default routes of `mainTable` back, each family in one
 * batch with its commands. `readBack` throws when the read failed.
 */
export async function applyThenRead(ip: Runner, commands: Command[], mainTable: number, families: Family[]): Promise<{ result: ApplyResult; readBack(): Route[] }> {
  const reads = families.map((f) => readRoutesArgv(mainTable, true, f));
  const answers = await runBatched(ip, [...commands.map(commandArgv), ...reads]);
  const result: ApplyResult = { applied: [], errors: [], failed: [] };
  for (const [i, c] of commands.entries()) {
    const r = answers[i];
    if (acceptedCodes(c).includes(r.code)) result.applied.push(c);
    else {
      result.errors.push(new CommandError(['ip', ...commandArgv(c)], r));
      result.failed.push(c);
    }
  }
  const readAnswers = answers.slice(commands.length);
  return { result, readBack: () => families.flatMap((f, i) => tableRoutes(reads[i], readAnswers[i], mainTable, f)) };
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
