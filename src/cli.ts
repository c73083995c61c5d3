// Command-line parsing: haip's subcommands and the original haip's flags (-vv --wait=2 --route ...).
// Pure, so every spelling the original accepted is tested without running anything.

export type Subcommand = 'run' | 'check' | 'status' | 'plan' | 'flush' | 'help' | 'version';

export interface CliArgs {
  command: Subcommand;
  configFile?: string;
  verbosity: number;
  json: boolean;
  routes: string[];
  wait?: string;
  fail?: string;
  toggle?: string;
  stateDir?: string;
}

export class UsageError extends Error {}

const SUBCOMMANDS: Subcommand[] = ['run', 'check', 'status', 'plan', 'flush', 'help', 'version'];
const WITH_VALUE = new Set(['-c', '--config', '--wait', '--fail', '--toggle', '--route', '--state-dir', '-w', '-f', '-t', '-r']);

export function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { command: 'run', verbosity: 0, json: false, routes: [] };
  let commandSeen = false;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let value: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (WITH_VALUE.has(a) && value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      value = argv[++i];
    }
    if (/^-v+$/.test(a)) {
      args.verbosity += a.length - 1;
      continue;
    }
    switch (a) {
      case '--verbose':
        args.verbosity++;
        break;
      case '-c':
      case '--config':
        args.configFile = value;
        break;
      case '-w':
      case '--wait':
        args.wait = value;
        break;
      case '-f':
      case '--fail':
        args.fail = value;
        break;
      case '-t':
      case '--toggle':
        args.toggle = value;
        break;
      case '-r':
      case '--route':
        args.routes.push(value!);
        break;
      case '--state-dir':
        args.stateDir = value;
        break;
      case '--json':
        args.json = true;
        break;
      case '-h':
      case '--help':
        args.command = 'help';
        commandSeen = true;
        break;
      case '--version':
        args.command = 'version';
        commandSeen = true;
        break;
      default:
        if (!a.startsWith('-') && !commandSeen && SUBCOMMANDS.includes(a as Subcommand)) {
          args.command = a as Subcommand;
          commandSeen = true;
        } else if (a.startsWith('-')) {
          throw new UsageError(`unknown option ${a}`);
        } else {
          throw new UsageError(`unknown command "${a}" (commands: ${SUBCOMMANDS.join(', ')})`);
        }
    }
  }
  if (args.routes.length && args.configFile) throw new UsageError('--route and -c do not mix: give links either on the command line or in the file');
  return args;
}

export const USAGE = `usage: haip [run] [-c FILE] [-v|-vv]          run the daemon (default config /etc/haip/haip.yaml)
       haip check [-c FILE]                  validate the config, change nothing
       haip status [-c FILE] [--json]        show what the running daemon sees
       haip plan [-c FILE]                   print the ip commands the config would run here, and why
       haip flush [-c FILE]                  remove every route and rule haip owns
       haip [-v|-vv] [--wait=S] [--fail=N] [--toggle=CMD] --route WEIGHT/TARGET/DEV[:GW][/SRC] ...
                                             the original haip's command line
Options: --state-dir DIR overrides state_dir (where status.json lives).

Exit status 78 means the config is invalid; nothing was changed.`;
