// Tells haip that interfaces, addresses, routes or rules changed (`ip monitor`), or that nftables tables
// did (`nft monitor tables`), so it re-reads and reconciles at once instead of waiting for the next probe
// or the periodic pass. The monitors print no JSON, so events only say "look again".
import { isIPv6 } from 'node:net';
import { ChildProcess, spawn } from 'node:child_process';
import { Burst, BURST_MIN_GAP_MS, eventPassStarted, quietBurst } from '../core/burst';
import { Clock, TimerHandle } from './clock';
import { LineBuffer } from './text';

/** Change notifications from the kernel; exists so tests can fire them by hand. */
export interface LinkEvents {
  start(onChange: (what: string) => void): void;
  stop(): void;
}

/** A long-lived monitor process, each output line an event; restarted a second after it dies. */
export class MonitorProcess implements LinkEvents {
  private child?: ChildProcess;
  private restart?: TimerHandle;
  private resume?: TimerHandle;
  /** Reads as event passes run: the first chunk after a quiet spell at once, then one per burst gap. */
  private burst: Burst = quietBurst();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onError: (msg: string) => void,
    private readonly binary: string,
    private readonly args: string[],
    /** How it is named in messages ("ip monitor"). */
    private readonly label: string,
  ) {}

  start(onChange: (what: string) => void): void {
    this.stopped = false;
    const child = spawn(this.binary, this.args, {
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const lines = new LineBuffer((l) => void (l.trim() && onChange(l.trim())));
    child.stdout!.on('data', (d) => {
      lines.push(d);
      this.breathe(child);
    });
    child.stderr!.on('data', (d) => {
      const text = String(d).trim();
      // What the kernel could not queue while haip was not reading (a storm): changes happened, look again.
      if (/No buffer space available/.test(text)) onChange(`${this.label} missed events (netlink buffer full)`);
      else this.onError(`${this.label}: ${text.slice(0, 500)}`);
    });
    child.on('error', (err) => {
      this.onError(`${this.label}: ${err.message}`);
      // Not installed: restarting every second would only repeat this.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.child = undefined;
    });
    child.on('close', (code, signal) => {
      if (this.stopped || this.child !== child) return;
      this.onError(`${this.label} exited (${signal ?? code}); restarting in 1 s`);
      // Whatever changed while it was away is caught by a full re-read when it comes back.
      this.restart = this.clock.setTimeout(() => {
        this.start(onChange);
        onChange(`${this.label} restarted`);
      }, 1000);
    });
  }

  /**
   * During a storm (a carrier bouncing 50 times a second) reading every line costs more than the passes
   * it causes: once a burst outlasts its grace, after each chunk the pipe is left alone for the gap, so what came meanwhile is
   * read in one go, or dropped by the kernel and told as missed (either way it means "look again").
   */
  private breathe(child: ChildProcess) {
    this.burst = eventPassStarted(this.burst, this.clock.now());
    // Not in an ordinary burst (an uplink added): only once it has grown into a storm.
    if (this.resume || this.burst.gap <= BURST_MIN_GAP_MS) return;
    child.stdout!.pause();
    this.resume = this.clock.setTimeout(() => {
      this.resume = undefined;
      child.stdout!.resume();
    }, this.burst.gap);
  }

  stop(): void {
    this.stopped = true;
    this.resume?.cancel();
    this.resume = undefined;
    this.restart?.cancel();
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}

/** Links, addresses, routes and rules, of both families (a reload may add IPv6 targets). */
export class IpMonitor extends MonitorProcess {
  constructor(clock: Clock, onError: (msg: string) => void, binary = 'ip') {
    super(clock, onError, binary, ['monitor', 'link', 'address', 'route', 'rule'], 'ip monitor');
  }
}

/**
 * Whether an `ip monitor` line is about IPv6 only (an inet6 address, a route or rule naming an IPv6
 * address): a config without IPv6 targets ignores those, so router advertisements cost it nothing.
 * Link lines (a MAC address is not an IPv6 address) concern both families.
 */
export function isIPv6Event(line: string): boolean {
  return /\binet6\b/.test(line) || line.split(/\s+/).some((t) => isIPv6(t.split('/')[0]));
}

/** nftables tables created and deleted (`nft flush ruleset` deletes every table, haip's too). */
export class NftMonitor extends MonitorProcess {
  constructor(clock: Clock, onError: (msg: string) => void, binary = 'nft') {
    super(clock, onError, binary, ['monitor', 'tables'], 'nft monitor');
  }
}
