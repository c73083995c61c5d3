// The daemon's state as a document: written atomically to STATE_DIR/status.json, summarised in one line
// for systemd's STATUS=, and read back by `haip status`.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Family, LinkState } from './model';

export interface TargetStatus {
  address: string;
  rtt_ms: number | null;
  loss: number | null;
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
}

export interface StatusDoc {
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
  links: LinkStatus[];
}

/** Where the status document goes; exists so tests can keep it in memory. */
export interface StatusSink {
  write(doc: StatusDoc): void;
}

/** Writes whole files only: a reader sees the old file or the new one, never half of one. */
export function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export class FileStatus implements StatusSink {
  constructor(
    private readonly paths: () => { stateDir: string; metricsFile?: string },
    private readonly onError: (msg: string) => void,
  ) {}

  write(doc: StatusDoc): void {
    const { stateDir, metricsFile } = this.paths();
    const files: [string, () => string][] = [[join(stateDir, 'status.json'), () => JSON.stringify(doc, null, 2) + '\n']];
    if (metricsFile) files.push([metricsFile, () => renderMetrics(doc)]);
    for (const [path, render] of files) {
      try {
        writeAtomic(path, render());
      } catch (err) {
        this.onError(`cannot write ${path}: ${(err as Error).message}`);
      }
    }
  }
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The Prometheus text format, for node_exporter's textfile collector. */
export function renderMetrics(doc: StatusDoc): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, rows: [Record<string, string>, number | null][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) {
      if (value === null) continue;
      const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
    }
  };
  const per = (f: (l: LinkStatus) => number | null) =>
    doc.links.map((l): [Record<string, string>, number | null] => [{ link: l.name, interface: l.interface, family: String(l.family ?? 4) }, f(l)]);
  family('haip_link_up', 'gauge', '1 when the link is up, 0 when down or not yet known.', per((l) => (l.state === 'up' ? 1 : 0)));
  family('haip_link_active', 'gauge', '1 for the link that carries the default route of its family.', per((l) => (l.name === activeOf(doc, l.family ?? 4) ? 1 : 0)));
  family('haip_link_rtt_seconds', 'gauge', 'Mean RTT of the last probe round.', per((l) => (l.rtt_ms === null ? null : l.rtt_ms / 1000)));
  family('haip_link_loss_ratio', 'gauge', 'Share of probes unanswered over the last minute.', per((l) => l.loss));
  family('haip_probe_rounds_total', 'counter', 'Probe rounds completed since haip started.', per((l) => l.rounds));
  family('haip_switches_total', 'counter', 'Default-route switches since haip started.', [
    [{ family: '4' }, doc.switches],
    [{ family: '6' }, doc.switches6 ?? null],
  ]);
  return out.join('\n') + '\n';
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
