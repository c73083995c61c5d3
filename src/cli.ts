// Command-line parsing: haip's subcommands, each with its own options, and the original haip's flags
// (-vv --wait=2 --route ...). node:util's parseArgs splits argv into tokens; which options a command
// takes, and the messages, are ours. Pure, so every spelling the original accepted is tested without
// running anything.
import { isIP } from 'node:net';
import { parseArgs as tokenize, type ParseArgsConfig } from 'node:util';
import type { Flow } from './policy/match';
import type { Proto } from './policy/types';

export type Subcommand = 'run' | 'check' | 'status' | 'which' | 'plan' | 'flush' | 'help' | 'version';

export interface CliArgs {
  command: Subcommand;
  /** `haip help COMMAND` and `haip COMMAND --help`: the command whose help to print. */
  topic?: Subcommand;
  configFile?: string;
  verbosity: number;
  json: boolean;
  routes: string[];
  wait?: string;
  fail?: string;
  toggle?: string;
  stateDir?: string;
  /** `haip which`: the flow asked about. */
  flow?: Flow;
}

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to show with the message. */
    readonly command?: Subcommand,
  ) {
    super(message);
  }
}

export const EX_USAGE = 64;
/** `haip status` when the daemon is not running (LSB's "program is not running"). */
export const EX_NOT_RUNNING = 3;
/** `haip status` when status.json may not be the current state: stale, or a file the daemon could not write (LSB's "unknown"). */
export const EX_STALE = 4;
/** `haip run` when another daemon already runs in this network namespace. */
export const EX_TEMPFAIL = 75;
/** Every exit status haip uses, with its meaning: the usage text and haip(8) list these. */
export const EXIT_STATUS: [number, string][] = [
  [0, 'success'],
  [1, 'a failed operation'],
  [EX_NOT_RUNNING, '(status) the daemon is not running'],
  [EX_STALE, '(status) status.json is stale or the daemon could not write a file'],
  [EX_USAGE, 'a wrong command line'],
  [EX_TEMPFAIL, '(run) another haip daemon runs in this network namespace'],
  [78, 'an invalid config, nothing changed'],
];

export const SUBCOMMANDS: Subcommand[] = ['run', 'check', 'status', 'which', 'plan', 'flush', 'help', 'version'];

type OptionName = 'config' | 'verbose' | 'state-dir' | 'json' | 'route' | 'wait' | 'fail' | 'toggle' | 'help' | 'version' | FlowOption;
type FlowOption = 'from' | 'to' | 'proto' | 'sport' | 'dport' | 'iif' | 'dscp';
const FLOW: FlowOption[] = ['from', 'to', 'proto', 'sport', 'dport', 'iif', 'dscp'];

interface OptionSpec {
  short?: string;
  value?: string;
  help: string;
}

export const OPTIONS: Record<OptionName, OptionSpec> = {
  config: { short: 'c', value: 'FILE', help: 'the config file (default /etc/haip/haip.yaml)' },
  verbose: { short: 'v', help: 'log info; twice (-vv) debug' },
  'state-dir': { value: 'DIR', help: 'where status.json lives, instead of state_dir' },
  json: { help: 'print the status document as JSON' },
  route: { short: 'r', value: 'WEIGHT/TARGET/DEV[:GW][/SRC]', help: 'one link of the original command line (repeat it)' },
  wait: { short: 'w', value: 'S', help: 'with --route: seconds between probe rounds' },
  fail: { short: 'f', value: 'N', help: 'with --route: bad rounds that take a link down (and good ones that bring it back)' },
  toggle: { short: 't', value: 'CMD', help: 'with --route: a shell command run on every switch (IFNAME, GATEWAY set)' },
  help: { short: 'h', help: 'this help' },
  version: { help: 'print the version' },
  from: { value: 'ADDR', help: 'the flow\'s source address' },
  to: { value: 'ADDR', help: 'the flow\'s destination address' },
  proto: { value: 'PROTO', help: 'tcp, udp, sctp, icmp or icmpv6' },
  sport: { value: 'PORT', help: 'the flow\'s source port' },
  dport: { value: 'PORT', help: 'the flow\'s destination port' },
  iif: { value: 'IF', help: 'the interface the flow arrives on' },
  dscp: { value: 'N', help: 'the flow\'s DSCP value (0-63)' },
};

/** The original command line: a link source of its own, for every command that reads a config. */
const LEGACY: OptionName[] = ['route', 'wait', 'fail', 'toggle'];

interface CommandSpec {
  synopsis: string;
  summary: string;
  options: OptionName[];
}

export const COMMANDS: Record<Subcommand, CommandSpec> = {
  run: { synopsis: '[run] [-c FILE] [-v|-vv] [--state-dir DIR]', summary: 'run the daemon (the default command)', options: ['config', 'verbose', 'state-dir', ...LEGACY] },
  check: { synopsis: 'check [-c FILE]', summary: 'validate the config and change nothing; exit 78 when invalid', options: ['config', ...LEGACY] },
  status: { synopsis: 'status [-c FILE] [--state-dir DIR] [--json]', summary: 'show what the running daemon sees; exit 3 when it is not running', options: ['config', 'state-dir', 'json'] },
  which: {
    synopsis: 'which [--from ADDR] [--to ADDR] [--proto PROTO] [--sport PORT] [--dport PORT] [--iif IF] [--dscp N] [--state-dir DIR]',
    summary: 'the traffic rule, policy and uplink a flow takes now, and why (from the running daemon)',
    options: ['config', 'state-dir', ...FLOW],
  },
  plan: { synopsis: 'plan [-c FILE]', summary: 'print the ip and nft commands the config would run on this host, and why', options: ['config', ...LEGACY] },
  flush: { synopsis: 'flush [-c FILE] [-v]', summary: 'remove every route, rule and nft table haip owns; the default route stays, as proto static', options: ['config', 'verbose', ...LEGACY] },
  help: { synopsis: 'help [COMMAND]', summary: 'this help, or one command\'s', options: [] },
  version: { synopsis: 'version', summary: 'print the version', options: [] },
};

function spelling(name: OptionName): string {
  const o = OPTIONS[name];
  return `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
}

export function parseArgs(argv: string[]): CliArgs {
  const { tokens } = tokenize({
    args: argv,
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(
      Object.entries(OPTIONS).map(([name, o]) => [name, { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}), multiple: true }]),
    ) as ParseArgsConfig['options'],
  });

  const args: CliArgs = { command: 'run', verbosity: 0, json: false, routes: [] };
  let commandSeen = false;
  let help = false;
  const given: { name: OptionName; raw: string }[] = [];
  for (const t of tokens ?? []) {
    if (t.kind === 'positional') {
      if (!commandSeen && SUBCOMMANDS.includes(t.value as Subcommand)) {
        args.command = t.value as Subcommand;
        commandSeen = true;
      } else if (commandSeen && args.command === 'help' && !args.topic && SUBCOMMANDS.includes(t.value as Subcommand)) {
        args.topic = t.value as Subcommand;
      } else {
        throw new UsageError(`unknown command "${t.value}" (commands: ${SUBCOMMANDS.join(', ')})`, commandSeen ? args.command : undefined);
      }
      continue;
    }
    if (t.kind !== 'option') continue;
    const name = t.name as OptionName;
    const spec = OPTIONS[name];
    if (!spec) throw new UsageError(`unknown option ${t.rawName}`);
    if (spec.value && t.value === undefined) throw new UsageError(`${t.rawName} needs a value`);
    if (!spec.value && t.inlineValue) throw new UsageError(`${t.rawName} takes no value`);
    given.push({ name, raw: t.rawName });
    const value = t.value as string;
    switch (name) {
      case 'verbose':
        args.verbosity++;
        break;
      case 'config':
        args.configFile = value;
        break;
      case 'wait':
        args.wait = value;
        break;
      case 'fail':
        args.fail = value;
        break;
      case 'toggle':
        args.toggle = value;
        break;
      case 'route':
        args.routes.push(value);
        break;
      case 'state-dir':
        args.stateDir = value;
        break;
      case 'json':
        args.json = true;
        break;
      case 'help':
        help = true;
        break;
      case 'from':
      case 'to':
        if (!isIP(value)) throw new UsageError(`--${name} needs an IPv4 or IPv6 address, not "${value}"`, args.command);
        args.flow = { ...args.flow, [name]: value };
        break;
      case 'proto':
        if (!['tcp', 'udp', 'sctp', 'icmp', 'icmpv6'].includes(value)) throw new UsageError(`--proto is tcp, udp, sctp, icmp or icmpv6, not "${value}"`, args.command);
        args.flow = { ...args.flow, proto: value as Proto };
        break;
      case 'sport':
      case 'dport':
      case 'dscp': {
        const n = Number(value);
        const max = name === 'dscp' ? 63 : 65535;
        if (!/^[0-9]+$/.test(value) || n > max || (name !== 'dscp' && n < 1)) throw new UsageError(`--${name} is a number from ${name === 'dscp' ? 0 : 1} to ${max}, not "${value}"`, args.command);
        args.flow = { ...args.flow, [name]: n };
        break;
      }
      case 'iif':
        args.flow = { ...args.flow, iif: value };
        break;
      case 'version':
        if (commandSeen && args.command !== 'version') throw new UsageError(`--version is a command of its own, not an option of ${args.command}`, args.command);
        args.command = 'version';
        commandSeen = true;
        break;
    }
  }
  if (help) {
    // `haip check --help`: the command's help, whatever else is on the line.
    return commandSeen && args.command !== 'help' ? { ...emptyArgs(), command: 'help', topic: args.command } : { ...emptyArgs(), command: 'help', ...(args.topic ? { topic: args.topic } : {}) };
  }
  const allowed = COMMANDS[args.command].options;
  for (const g of given) {
    if (g.name === 'version' && args.command === 'version') continue;
    if (!allowed.includes(g.name)) {
      const takes = allowed.length ? `it takes ${allowed.map((n) => (OPTIONS[n].short ? `-${OPTIONS[n].short}/--${n}` : `--${n}`)).join(', ')}` : 'it takes none';
      throw new UsageError(`${args.command} takes no ${g.raw} option (${takes})`, args.command);
    }
  }
  if (args.routes.length && args.configFile) throw new UsageError('--route and -c do not mix: give links either on the command line or in the file', args.command);
  return args;
}

function emptyArgs(): CliArgs {
  return { command: 'help', verbosity: 0, json: false, routes: [] };
}

/** One command's help: synopsis, what it does, its options. */
export function commandHelp(command: Subcommand): string {
  const c = COMMANDS[command];
  const lines = [`usage: haip ${c.synopsis}`, `       ${c.summary}`];
  if (command === 'run' || command === 'check' || command === 'plan' || command === 'flush') {
    lines.push(`       haip ${command === 'run' ? '' : `${command} `}[--wait=S] [--fail=N] [--toggle=CMD] --route WEIGHT/TARGET/DEV[:GW][/SRC] ...`);
    lines.push(`       the links from the original haip's command line instead of a file`);
  }
  const opts = [...c.options, 'help' as const];
  const width = Math.max(...opts.map((n) => spelling(n).length));
  lines.push('options:', ...opts.map((n) => `  ${spelling(n).padEnd(width)}  ${OPTIONS[n].help}`));
  return lines.join('\n');
}

export const USAGE = `usage: haip [run] [-c FILE] [-v|-vv]          run the daemon (default config /etc/haip/haip.yaml)
       haip check [-c FILE]                  validate the config, change nothing
       haip status [-c FILE] [--json]        show what the running daemon sees
       haip which --from ADDR [--to ADDR] [--proto P] [--dport N] ...
                                             which rule, policy and uplink a flow takes now
       haip plan [-c FILE]                   print the ip commands the config would run here, and why
       haip flush [-c FILE]                  remove every route and rule haip owns
       haip help [COMMAND], haip COMMAND --help, haip version
       haip [-v|-vv] [--wait=S] [--fail=N] [--toggle=CMD] --route WEIGHT/TARGET/DEV[:GW][/SRC] ...
                                             the original haip's command line
Options: --state-dir DIR overrides state_dir (where status.json lives).

Exit status:
${EXIT_STATUS.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}`).join('\n')}`;
