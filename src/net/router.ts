// Reads the kernel's state and applies planned commands through a Runner. Every command is tried;
// failures are collected with their argv and stderr, never thrown past the caller.
import { InterfaceFacts, NetState, Route } from '../model';
import { CommandError, Runner, runChecked } from '../sys/runner';
import { acceptedCodes, Command, commandArgv, parseInterfaces, parseNetState, parseRoutes, READ_ADDRS, READ_ROUTES, READ_RULES, readDeviceRoutes } from './iproute';

export interface Observation {
  interfaces: Map<string, InterfaceFacts>;
  net: NetState;
  /** Every route, any table, through the interfaces asked for (where gateways are learned). */
  deviceRoutes: Route[];
}

/** @param gatewayDevs interfaces whose routes are read for learning gateways (links without one). */
export async function observe(ip: Runner, gatewayDevs: string[] = []): Promise<Observation> {
  const [addrs, routes, rules] = await Promise.all([runChecked(ip, READ_ADDRS), runChecked(ip, READ_ROUTES), runChecked(ip, READ_RULES)]);
  const interfaces = parseInterfaces(addrs.stdout);
  // Only interfaces that exist; one that vanished since (`Cannot find device`) has no routes to learn from.
  const devs = [...new Set(gatewayDevs)].filter((d) => interfaces.has(d));
  const perDev = await Promise.all(devs.map(async (d) => ({ dev: d, r: await ip.run(readDeviceRoutes(d)) })));
  const deviceRoutes = perDev.flatMap(({ dev, r }) => (r.code === 0 ? parseRoutes(r.stdout, dev) : []));
  return { interfaces, net: parseNetState(routes.stdout, rules.stdout), deviceRoutes };
}

export interface ApplyResult {
  applied: Command[];
  errors: CommandError[];
}

export async function applyCommands(ip: Runner, commands: Command[]): Promise<ApplyResult> {
  const out: ApplyResult = { applied: [], errors: [] };
  for (const c of commands) {
    const argv = commandArgv(c);
    const r = await ip.run(argv);
    if (acceptedCodes(c).includes(r.code)) out.applied.push(c);
    else out.errors.push(new CommandError(['ip', ...argv], r));
  }
  return out;
}
