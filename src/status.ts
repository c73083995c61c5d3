// The daemon's state as a document: written atomically to STATE_DIR/status.json, summarised in one line
// for systemd's STATUS=, and read back by `haip status`.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
}

export interface StatusDoc {
  active: string | null;
  since: string;
  pid: number;
  updated: string;
  links: LinkStatus[];
}

/** Where the status document goes; exists so tests can keep it in memory. */
export interface StatusSink {
  write(doc: StatusDoc): void;
}

export class FileStatus implements StatusSink {
  constructor(
    private readonly dir: () => string,
    private readonly onError: (msg: string) => void,
  ) {}

  write(doc: StatusDoc): void {
    const dir = this.dir();
    try {
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `.status.json.${process.pid}`);
      writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
      renameSync(tmp, join(dir, 'status.json'));
    } catch (err) {
      this.onError(`cannot write ${join(dir, 'status.json')}: ${(err as Error).message}`);
    }
  }
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
