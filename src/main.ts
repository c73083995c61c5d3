// Entry point: reads argv, builds the real dependencies, handles signals. The only file that touches
// process.* (argv, env, exit, signals); everything below it takes what it needs as arguments.
// First import: it holds SIGHUP while the others load (see earlySignals.ts).
import { takeOverSighup } from './sys/earlySignals';
import { existsSync } from 'node:fs';
import { CliArgs, commandHelp, COMMANDS, EX_TEMPFAIL, EX_USAGE, parseArgs, Subcommand, UsageError, USAGE } from './cli';
import { legacyConfig } from './config/legacy';
import { ConfigError, EX_CONFIG, loadConfigFile } from './config/load';
import { Daemon } from './daemon';
import { ProcessHooks } from './hooks';
import { createLog, effectiveLevel, Log, logStyle, noticeFields } from './log';
import { Config } from './model';
import { writeNameFiles } from './net/names';
import { checkReport, checkSysctls, flushOwned, planReport } from './ops';
import { systemClock } from './sys/clock';
import { JOURNAL_SOCKET, JournalSender } from './sys/journal';
import { IpMonitor, NftMonitor } from './sys/linkEvents';
import { createNotifier, watchdogIntervalMs } from './sys/notify';
import { icmpProber } from './sys/icmpProber';
import { KindProber, SocketProber } from './sys/socketProber';
import { ProcessRunner } from './sys/runner';
import { ProcSysctl } from './sys/sysctl';
import { perlRaPort } from './sys/raPort';
import { HealthFile } from './healthFile';
import { MetricsFile } from './metrics';
import { allSinks, FileStatus, FileWriter } from './status';
import { AlreadyRunning, holdInstanceLock } from './sys/instanceLock';
import { statusReport, whichCommand } from './statusView';
import { VERSION } from './version';

const DEFAULT_CONFIG = '/etc/haip/haip.yaml';

function loadConfig(args: CliArgs): Config {
  if (args.routes.length)
    return legacyConfig({ routes: args.routes, wait: args.wait, fail: args.fail, toggle: args.toggle, stateDir: args.stateDir });
  const config = loadConfigFile(args.configFile ?? DEFAULT_CONFIG);
  return args.stateDir ? { ...config, stateDir: args.stateDir } : config;
}

/** `flushLog` resolves once the log's last lines are out (the journal helper has sent them). */
async function run(args: CliArgs, log: Log, flushLog: () => Promise<void>): Promise<number> {
  // Before anything touches the kernel: a second daemon must leave the first one's routes alone.
  await holdInstanceLock(process.pid);
  const config = loadConfig(args);
  log.setLevel(effectiveLevel(config.logLevel, args.verbosity));
  const clock = systemClock;
  const notifier = createNotifier(process.env, log);
  const ip = new ProcessRunner('ip');
  let current = config;
  const files = new FileWriter((m) => log.error(m));
  // status.json last: it says which of the other files could not be written.
  const status = allSinks(new HealthFile(() => current.stateDir, files), new MetricsFile(() => current, clock, files), new FileStatus(() => current, files));
  const daemon = new Daemon(config, {
    ip,
    nft: new ProcessRunner('nft'),
    conntrack: new ProcessRunner('conntrack'),
    sysctl: new ProcSysctl(),
    raPorts: perlRaPort,
    prober: new KindProber(icmpProber((m) => log.warning(m)), new SocketProber()),
    clock,
    notifier,
    log,
    events: new IpMonitor(clock, (m) => log.warning(m)),
    nftEvents: new NftMonitor(clock, (m) => log.warning(m)),
    hooks: new ProcessHooks(() => current, log),
    status,
    watchdogMs: watchdogIntervalMs(process.env, process.pid),
    onConfig: (c) => {
      current = c;
      for (const p of writeNameFiles(c)) log.warning(p);
    },
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    // Exit within a second whatever happens below.
    setTimeout(() => process.exit(0), 900).unref();
    try {
      await daemon.stop();
    } catch (err) {
      log.error(`stopping: ${(err as Error).message}`);
    }
    // The health file and the metrics say that haip has stopped.
    status.close();
    notifier.close();
    await flushLog();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  let reloading: Promise<void> = Promise.resolve();
  const onHup = () => {
    // Reloads run one after another; a storm of SIGHUPs collapses into the ones still queued.
    reloading = reloading.then(async () => {
      if (stopping) return;
      notifier.notify({ RELOADING: '1' });
      try {
        const next = loadConfig(args);
        log.setLevel(effectiveLevel(next.logLevel, args.verbosity));
        await daemon.reload(next);
      } catch (err) {
        if (err instanceof ConfigError) {
          log.error(`reload refused, keeping the running config: ${err.total} problem(s)`, noticeFields('config-refused'));
          for (const line of err.lines()) log.error(line);
        } else log.error(`reload failed, keeping the running config: ${(err as Error).message}`);
      }
      notifier.notify({ READY: '1' });
    });
  };

  await daemon.start();
  // A SIGHUP that came while starting (earlySignals.ts held it) reloads now, not half-way through start().
  takeOverSighup(onHup);
  return new Promise<number>(() => {}); // runs until a signal
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
  const style = logStyle(process.env, !!logTo.isTTY);
  // Under journald the daemon's entries carry their fields over the native protocol; the helper's own
  // troubles go to stderr (the journal's stream), never back into the log they are about.
  const journal =
    args.command === 'run' && style === 'journal' && existsSync(JOURNAL_SOCKET) ? new JournalSender(JOURNAL_SOCKET, (m) => process.stderr.write(`haip: ${m}\n`)) : undefined;
  const log = createLog(style, effectiveLevel('info', args.verbosity), logTo, journal);
  const commands: Record<Subcommand, () => Promise<number> | number> = {
    help: () => (process.stdout.write((args.topic ? commandHelp(args.topic) : USAGE) + '\n'), 0),
    version: () => (process.stdout.write(`haip ${VERSION}\n`), 0),
    run: () => run(args, log, async () => journal?.close(300)),
    check: () => {
      const config = loadConfig(args);
      process.stdout.write([checkReport(config), ...checkSysctls(config, new ProcSysctl())].join('\n') + '\n');
      return 0;
    },
    status: () => statusReport(args, loadStateDir(args), process.stdout),
    which: () => whichCommand(args, loadStateDir(args), process.stdout),
    plan: async () => {
      process.stdout.write(await planReport(loadConfig(args), new ProcessRunner('ip')));
      return 0;
    },
    flush: async () => flushOwned(loadConfig(args), new ProcessRunner('ip'), log, new ProcessRunner('nft'), new ProcSysctl()),
  };
  try {
    return await commands[args.command]();
  } catch (err) {
    if (err instanceof AlreadyRunning) {
      process.stderr.write(`haip: ${err.message}\n`);
      return EX_TEMPFAIL;
    }
    if (err instanceof ConfigError) {
      // The daemon's refusal also reaches the journal with its MESSAGE_ID, which journalctl -x explains.
      if (args.command === 'run') {
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

/** `haip status` needs only the state dir: the config may be unreadable to a non-root user. */
function loadStateDir(args: CliArgs): string {
  if (args.stateDir) return args.stateDir;
  try {
    return loadConfig(args).stateDir;
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
