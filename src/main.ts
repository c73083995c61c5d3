// Entry point: reads argv, builds the real dependencies, handles signals. The only file that touches
// process.* (argv, env, exit, signals); everything below it takes what it needs as arguments. What a
// command needs is loaded when it runs: `haip status` starts without the daemon, ajv or winston.
// First import: it holds SIGHUP while the others load (see earlySignals.ts).
import './sys/earlySignals';
import { existsSync } from 'node:fs';
import { CliArgs, commandHelp, COMMANDS, EX_TEMPFAIL, EX_USAGE, parseArgs, Subcommand, UsageError, USAGE } from './cli';
import type { Log } from './log';
import type { Config } from './model';
import { VERSION } from './version';

const DEFAULT_CONFIG = '/etc/haip/haip.yaml';

function loadConfig(args: CliArgs): Config {
  if (args.routes.length) {
    const { legacyConfig } = require('./config/legacy') as typeof import('./config/legacy');
    return legacyConfig({ routes: args.routes, wait: args.wait, fail: args.fail, toggle: args.toggle, stateDir: args.stateDir });
  }
  const { loadConfigFile } = require('./config/load') as typeof import('./config/load');
  const config = loadConfigFile(args.configFile ?? DEFAULT_CONFIG);
  return args.stateDir ? { ...config, stateDir: args.stateDir } : config;
}

async function main(argv: string[]): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    const command = err instanceof UsageError ? err.command : undefined;
    const usage = command ? `usage: haip ${COMMANDS[command].synopsis} (haip ${command} --help for more)` : USAGE;
    process.stderr.write(`haip: ${(err as Error).message}\n${usage}\n`);
    return EX_USAGE;
  }
  // The daemon logs to stdout (the journal); one-shot commands keep stdout for their output.
  const logTo = args.command === 'run' ? process.stdout : process.stderr;
  let logged: { log: Log; journal?: { close(ms: number): Promise<void> } } | undefined;
  // Built on first use: `haip status` and `haip which` never log, and winston is most of a start.
  const logging = () => {
    if (logged) return logged;
    const { createLog, effectiveLevel, logStyle } = require('./log') as typeof import('./log');
    const { JOURNAL_SOCKET, JournalSender } = require('./sys/journal') as typeof import('./sys/journal');
    const style = logStyle(process.env, !!logTo.isTTY);
    // Under journald the daemon's entries carry their fields over the native protocol; the helper's own
    // troubles go to stderr (the journal's stream), never back into the log they are about.
    const journal =
      args.command === 'run' && style === 'journal' && existsSync(JOURNAL_SOCKET) ? new JournalSender(JOURNAL_SOCKET, (m) => process.stderr.write(`haip: ${m}\n`)) : undefined;
    return (logged = { log: createLog(style, effectiveLevel('info', args.verbosity), logTo, journal), journal });
  };
  const ops = () => require('./ops') as typeof import('./ops');
  const runner = (binary: string) => new (require('./sys/runner') as typeof import('./sys/runner')).ProcessRunner(binary);
  const sysctl = () => new (require('./sys/sysctl') as typeof import('./sys/sysctl')).ProcSysctl();
  const view = () => require('./statusView') as typeof import('./statusView');
  const commands: Record<Subcommand, () => Promise<number> | number> = {
    help: () => (process.stdout.write((args.topic ? commandHelp(args.topic) : USAGE) + '\n'), 0),
    version: () => (process.stdout.write(`haip ${VERSION}\n`), 0),
    run: () => {
      const { log, journal } = logging();
      const { runService } = require('./service') as typeof import('./service');
      return runService(args, log, async () => journal?.close(300), loadConfig);
    },
    check: () => {
      const config = loadConfig(args);
      process.stdout.write([ops().checkReport(config), ...ops().checkSysctls(config, sysctl())].join('\n') + '\n');
      return 0;
    },
    status: () => view().statusReport(args, loadStateDir(args), process.stdout),
    which: () => view().whichCommand(args, loadStateDir(args), process.stdout),
    plan: async () => {
      process.stdout.write(await ops().planReport(loadConfig(args), runner('ip')));
      return 0;
    },
    flush: async () => ops().flushOwned(loadConfig(args), runner('ip'), logging().log, runner('nft'), sysctl()),
  };
  try {
    return await commands[args.command]();
  } catch (err) {
    const { AlreadyRunning } = require('./sys/instanceLock') as typeof import('./sys/instanceLock');
    if (err instanceof AlreadyRunning) {
      process.stderr.write(`haip: ${err.message}\n`);
      return EX_TEMPFAIL;
    }
    const { ConfigError, EX_CONFIG } = require('./config/load') as typeof import('./config/load');
    if (err instanceof ConfigError) {
      // The daemon's refusal also reaches the journal with its MESSAGE_ID, which journalctl -x explains.
      if (args.command === 'run') {
        const { noticeFields } = require('./log') as typeof import('./log');
        const { log, journal } = logging();
        log.error(`invalid config, not starting: ${err.total} problem(s); haip check names them`, noticeFields('config-refused'));
        await journal?.close(300);
      }
      for (const line of err.lines()) process.stderr.write(line + '\n');
      process.stderr.write(`haip: invalid config, nothing changed (${err.total} problem${err.total === 1 ? '' : 's'})\n`);
      return EX_CONFIG;
    }
    process.stderr.write(`haip: ${(err as Error).message}\n`);
    return 1;
  }
}

/**
 * `haip status` needs only the state dir: the config may be unreadable to a non-root user, and the
 * validator is most of the time a start takes, so only `state_dir` is read from the YAML.
 */
function loadStateDir(args: CliArgs): string {
  if (args.stateDir) return args.stateDir;
  try {
    if (args.routes.length) return loadConfig(args).stateDir;
    const { stateDirOf } = require('./config/stateDir') as typeof import('./config/stateDir');
    return stateDirOf(args.configFile ?? DEFAULT_CONFIG);
  } catch {
    return '/run/haip';
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`haip: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
