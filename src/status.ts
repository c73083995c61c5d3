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
  /** The quality window against the limits; null when the link has no quality limits. */
  quality: QualityStatus | null;
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
  const per = (f: (l: LinkStatus) => number | null) => doc.links.map((l): [Record<string, string>, number | null] => [{ link: l.name, interface: l.interface }, f(l)]);
  family('haip_link_up', 'gauge', '1 when the link answers its probes (up or degraded), 0 when down or not yet known.', per((l) => (l.state === 'up' || l.state === 'degraded' ? 1 : 0)));
  family('haip_link_degraded', 'gauge', '1 when the link answers but is beyond max_loss or max_rtt.', per((l) => (l.state === 'degraded' ? 1 : 0)));
  family('haip_link_active', 'gauge', '1 for the link that carries the default route.', per((l) => (l.name === doc.active ? 1 : 0)));
  family('haip_link_rtt_seconds', 'gauge', 'Mean RTT of the last probe round.', per((l) => (l.rtt_ms === null ? null : l.rtt_ms / 1000)));
  family('haip_link_loss_ratio', 'gauge', 'Share of probes unanswered over the last minute.', per((l) => l.loss));
  family('haip_probe_rounds_total', 'counter', 'Probe rounds completed since haip started.', per((l) => l.rounds));
  family('haip_switches_total', 'counter', 'Default-route switches since haip started.', [[{}, doc.switches]]);
  return out.join('\n') + '\n';
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
