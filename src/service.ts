// The long-running service (`haip run`): builds the real dependencies, starts the daemon, handles SIGTERM,
// SIGINT and SIGHUP. Loaded only by `haip run`, so the one-shot commands (`haip status`) start without it.
import { takeOverSighup } from './sys/earlySignals';
import { CliArgs } from './cli';
import { ConfigError } from './config/load';
import { Daemon } from './daemon';
import { ProcessHooks } from './hooks';
import { effectiveLevel, Log, noticeFields } from './log';
import { Config } from './model';
import { writeNameFiles } from './net/names';
import { systemClock } from './sys/clock';
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
import { holdInstanceLock } from './sys/instanceLock';

/** `flushLog` resolves once the log's last lines are out (the journal helper has sent them). */
export async function runService(args: CliArgs, log: Log, flushLog: () => Promise<void>, loadConfig: (args: CliArgs) => Config): Promise<number> {
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
