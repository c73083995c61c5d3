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
import { Sysctl } from '../sys/sysctl';
import { RaPortFactory } from '../sys/raPort';

export interface DaemonDeps {
  ip: Runner;
  prober: Prober;
  clock: Clock;
  notifier: Notifier;
  log: Log;
  events?: LinkEvents;
  /** nftables table events (`nft monitor tables`), watched while haip has a table (a link with a table, or policies). */
  nftEvents?: LinkEvents;
  hooks?: HookRunner;
  status?: StatusSink;
  /** Half of WATCHDOG_USEC in ms, or null without a watchdog. */
  watchdogMs?: number | null;
  /** `nft` (haip's table: replies, sticky, policies) and `conntrack` (flushes); without them this is logged as unavailable. */
  nft?: Runner;
  conntrack?: Runner;
  /** /proc/sys, for rp_filter and src_valid_mark (net/rpfilter.ts). */
  sysctl?: Sysctl;
  /** Router advertisements on the LAN (`lan6`); without it lan6 is logged as unavailable. */
  raPorts?: RaPortFactory;
  /** Called after config changes are applied, e.g. to write table names. */
  onConfig?: (c: Config) => void;
}
