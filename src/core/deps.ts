// What the daemon is built from: the kernel, probes, clock, notifier, log and the optional sinks.
import { HookRunner } from '../hooks';
import { Log } from '../log';
import { Config } from '../model';
import { Clock } from '../sys/clock';
import { LinkEvents } from '../sys/linkEvents';
import { Notifier } from '../sys/notifier';
import { Prober } from '../sys/prober';
import { Runner } from '../sys/runner';
import { StatusSink } from '../status';

export interface DaemonDeps {
  ip: Runner;
  prober: Prober;
  clock: Clock;
  notifier: Notifier;
  log: Log;
  events?: LinkEvents;
  /** nftables table events (`nft monitor tables`), watched while sticky is on. */
  nftEvents?: LinkEvents;
  hooks?: HookRunner;
  status?: StatusSink;
  /** Half of WATCHDOG_USEC in ms, or null without a watchdog. */
  watchdogMs?: number | null;
  /** `nft` and `conntrack`, for sticky connections; without them sticky is logged as unavailable. */
  nft?: Runner;
  conntrack?: Runner;
  /** Called after config changes are applied, e.g. to write table names. */
  onConfig?: (c: Config) => void;
}
