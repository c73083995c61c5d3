// Reads the kernel's state and applies planned commands through a Runner. Every command is tried;
// failures are collected with their argv and stderr, never thrown past the caller.
import { InterfaceFacts, NetState } from '../model';
import { CommandError, Runner, runChecked } from '../sys/runner';
import { acceptedCodes, Command, commandArgv, parseInterfaces, parseNetState, READ_ADDRS, READ_ROUTES, READ_RULES } from './iproute';

export interface Observation {
  interfaces: Map<string, InterfaceFacts>;
  net: NetState;
}

export async function observe(ip: Runner): Promise<Observation> {
  const [addrs, routes, rules] = await Promise.all([runChecked(ip, READ_ADDRS), runChecked(ip, READ_ROUTES), runChecked(ip, READ_RULES)]);
  return { interfaces: parseInterfaces(addrs.stdout), net: parseNetState(routes.stdout, rules.stdout) };
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
