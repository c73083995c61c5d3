// The daemon's state as a document: written atomically to STATE_DIR/status.json, summarised in one line
// for systemd's STATUS=, and read back by `haip status`.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LinkState } from './model';

export interface TargetStatus {
  address: string;
  rtt_ms: number | null;
  loss: number | null;
}

export interface LinkStatus {
  name: string;
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
}

export interface StatusDoc {
  active: string | null;
  since: string;
  pid: number;
  updated: string;
  /** Default-route switches since the daemon started. */
  switches: number;
  links: LinkStatus[];
}

/** Where the status document goes; exists so tests can keep it in memory. */
export interface StatusSink {
  write(doc: StatusDoc): void;
  /** The daemon has stopped: say so, or take back what is no longer true. */
  close?(): void;
}

/** Writes whole files only: a reader sees the old file or the new one, never half of one. */
export function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** status.json in the state dir, rewritten on every change (tmpfs: /run/haip by default). */
export class FileStatus implements StatusSink {
  constructor(
    private readonly stateDir: () => string,
    private readonly onError: (msg: string) => void,
  ) {}

  write(doc: StatusDoc): void {
    const path = join(this.stateDir(), 'status.json');
    try {
      writeAtomic(path, JSON.stringify(doc, null, 2) + '\n');
    } catch (err) {
      this.onError(`cannot write ${path}: ${(err as Error).message}`);
    }
  }
}

/** Several sinks fed the same documents, each on its own terms. */
export function allSinks(...sinks: StatusSink[]): StatusSink & { close(): void } {
  return {
    write: (doc) => sinks.forEach((s) => s.write(doc)),
    close: () => sinks.forEach((s) => s.close?.()),
  };
}

export function readStatus(dir: string): StatusDoc {
  return JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as StatusDoc;
}

const ms = (x: number | null) => (x === null ? '-' : `${x < 10 ? x.toFixed(2) : x.toFixed(1)}ms`);

/** One line for systemd's STATUS=: who carries the default route, then each link. */
export function statusLine(doc: StatusDoc): string {
  const active = doc.links.find((l) => l.name === doc.active);
  const head = active ? `active: ${active.name} (${active.interface}${active.gateway ? ` via ${active.gateway}` : ''})` : 'active: none';
  const links = doc.links.map((l) => `${l.name} ${l.state}${l.rtt_ms !== null ? ` ${ms(l.rtt_ms)}` : ''}`);
  return `${head}; ${links.join(', ')}`;
}
