// The daemon's state as a document: written atomically to STATE_DIR/status.json, summarised in one line
// for systemd's STATUS=, and read back by `haip status`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Family, LinkState } from './model';
import { writeFileSafely } from './sys/files';
import type { PoliciesStatus } from './policy/status';
import type { Lan6Status } from './core/lan6';

export interface TargetStatus {
  address: string;
  rtt_ms: number | null;
  loss: number | null;
  /** Why the last probe of it failed ("HTTP 302, expected 204", "no answer within 500 ms"), or null. */
  failure?: string | null;
}

export interface LinkStatus {
  name: string;
  /** The family this row judges: a dual-stack link has a row per family; absent in older files (4). */
  family?: Family;
  interface: string;
  state: LinkState;
  since: string;
  reason: string;
  rtt_ms: number | null;
  loss: number | null;
  weight: number;
  table: number | null;
  source: string | null;
  gateway: string | null;
  targets: TargetStatus[];
  /** RTT of recent rounds, oldest first; null for a round with no answer. */
  recent_rtt_ms: (number | null)[];
  /** Probe rounds completed since the daemon started. */
  rounds: number;
  /** Why damping holds this UP link back ("held back 20 s: 4 failures in 10 min"), or null; absent in older files. */
  held?: string | null;
  /** Why the kernel refused the link's default route (haip tries it again, another link carries the route meanwhile), or null; absent in older files. */
  route_refused?: string | null;
  /** The quality window against the limits; null when the link has no quality limits; absent in older files. */
  quality?: QualityStatus | null;
  /** IPv6 rows: the delegated prefixes this link routes by source, from the config or learned from the DHCPv6 client (`from` says where); absent when none. */
  prefixes6?: { prefix: string; learned: boolean; from: string }[];
  /** IPv6 rows: delegated prefixes this link does not route, and why (a learned one haip refused, a configured one another link owns); absent when none. */
  prefixes6_refused?: { prefix: string; learned: boolean; why: string }[];
}

export interface QualityStatus {
  /** Echoes looked at in the window (fewer than 20: not judged yet). */
  samples: number;
  loss_pct: number | null;
  median_rtt_ms: number | null;
  max_loss_pct: number | null;
  max_rtt_ms: number | null;
  window_s: number;
}

export interface StatusDoc {
  /** The daemon's version; absent in files older than 0.2.0. */
  version?: string;
  /** The link the kernel routes IPv4 by. */
  active: string | null;
  since: string;
  /** IPv6's: the link the kernel routes it by, since when, switches; present when a link probes IPv6. */
  active6?: string | null;
  since6?: string;
  switches6?: number;
  pid: number;
  updated: string;
  /** Default-route switches since the daemon started. */
  switches: number;
  /** What keeps haip from doing its job right now (a refused switch, a hung `ip`); absent in older files. */
  problems?: string[];
  /** How many lookups go another way than haip's choice (each is also a problem); absent: none. */
  misrouted?: number;
  links: LinkStatus[];
  /** Files the daemon could not write at the last attempt ("PATH: reason"), empty when all went well. */
  write_errors?: string[];
  /** `haip status` calls the document stale when `updated` is older than this. */
  stale_after_ms?: number;
  /** Traffic policies: decisions per family, connections per link, the rules; absent without policies. */
  policies?: PoliciesStatus;
  /** haip's router advertisements on the LAN (`lan6`): what the last one said per /64; absent without lan6. */
  lan6?: Lan6Status;
}

/** Where the status document goes; exists so tests can keep it in memory. */
export interface StatusSink {
  write(doc: StatusDoc): void;
  /** The daemon has stopped: say so, or take back what is no longer true. */
  close?(): void;
}

/** How old status.json may get before `haip status` calls it stale: a few probe intervals, at least 10 s. */
export function staleAfterMs(intervalsMs: number[]): number {
  return Math.max(10_000, 3 * Math.max(0, ...intervalsMs) + 2000);
}

/**
 * Writes the daemon's files (status.json, the metrics, the health file) without following links, and
 * remembers each file's last failure until a write of it succeeds, logging each new reason once.
 */
export class FileWriter {
  private errors = new Map<string, string>();

  constructor(
    private readonly onError: (msg: string) => void,
    private readonly writeFile: (path: string, text: string) => void = writeFileSafely,
  ) {}

  attempt(path: string, render: () => string): boolean {
    try {
      this.writeFile(path, render());
      this.errors.delete(path);
      return true;
    } catch (err) {
      const reason = (err as Error).message;
      if (this.errors.get(path) !== reason) this.onError(`cannot write ${path}: ${reason}`);
      this.errors.set(path, reason);
      return false;
    }
  }

  /** "PATH: reason" for each file whose last write failed, other than `except`. */
  failures(except?: string): string[] {
    return [...this.errors].filter(([p]) => p !== except).map(([p, e]) => `${p}: ${e}`);
  }
}

/** status.json in the state dir, rewritten on every change (tmpfs: /run/haip by default). */
export class FileStatus implements StatusSink {
  constructor(
    private readonly paths: () => { stateDir: string; links?: { probe: { intervalMs: number } }[] },
    private readonly files: FileWriter,
  ) {}

  /** Feed it after the other files' sinks, so status.json can say whether they were written. */
  write(doc: StatusDoc): void {
    const { stateDir, links = [] } = this.paths();
    const statusPath = join(stateDir, 'status.json');
    this.files.attempt(statusPath, () =>
      JSON.stringify({ ...doc, write_errors: this.files.failures(statusPath), stale_after_ms: staleAfterMs(links.map((l) => l.probe.intervalMs)) }, null, 2) + '\n',
    );
  }
}

/** Several sinks fed the same documents, each on its own terms. */
export function allSinks(...sinks: StatusSink[]): StatusSink & { close(): void } {
  return {
    write: (doc) => sinks.forEach((s) => s.write(doc)),
    close: () => sinks.forEach((s) => s.close?.()),
  };
}

/** The link the kernel routes a family by, as the document says. */
export function activeOf(doc: StatusDoc, family: Family): string | null {
  return family === 6 ? (doc.active6 ?? null) : doc.active;
}

export function readStatus(dir: string): StatusDoc {
  return JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as StatusDoc;
}

const ms = (x: number | null) => (x === null ? '-' : `${x < 10 ? x.toFixed(2) : x.toFixed(1)}ms`);

/** One line for systemd's STATUS=: who carries the default route, then each link. */
export function statusLine(doc: StatusDoc): string {
  const head = (family: Family, label: string) => {
    const active = doc.links.find((l) => (l.family ?? 4) === family && l.name === activeOf(doc, family));
    return active ? `${label}: ${active.name} (${active.interface}${active.gateway ? ` via ${active.gateway}` : ''})` : `${label}: none`;
  };
  const six = doc.active6 !== undefined;
  const links = doc.links.map((l) => `${l.name}${six ? (l.family === 6 ? '/6' : '/4') : ''} ${l.state}${l.rtt_ms !== null ? ` ${ms(l.rtt_ms)}` : ''}`);
  return `${head(4, 'active')}${six ? `; ${head(6, 'IPv6 active')}` : ''}; ${links.join(', ')}`;
}
