// The daemon's state as a document: written atomically to STATE_DIR/status.json, summarised in one line
// for systemd's STATUS=, and read back by `haip status`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Family, LinkState } from './model';
import { writeFileSafely } from './sys/files';

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
  /** The quality window against the limits; null when the link has no quality limits; absent in older files. */
  quality?: QualityStatus | null;
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
  /** Files the daemon could not write at the last attempt ("PATH: reason"), empty when all went well. */
  write_errors?: string[];
  /** `haip status` calls the document stale when `updated` is older than this. */
  stale_after_ms?: number;
}

/** Where the status document goes; exists so tests can keep it in memory. */
export interface StatusSink {
  write(doc: StatusDoc): void;
}

/** How old status.json may get before `haip status` calls it stale: a few probe intervals, at least 10 s. */
export function staleAfterMs(intervalsMs: number[]): number {
  return Math.max(10_000, 3 * Math.max(0, ...intervalsMs) + 2000);
}

export class FileStatus implements StatusSink {
  /** The last failure per file, until a write of it succeeds; each logged once per new reason. */
  private errors = new Map<string, string>();

  constructor(
    private readonly paths: () => { stateDir: string; metricsFile?: string; links?: { probe: { intervalMs: number } }[] },
    private readonly onError: (msg: string) => void,
  ) {}

  write(doc: StatusDoc): void {
    const { stateDir, metricsFile, links = [] } = this.paths();
    const statusPath = join(stateDir, 'status.json');
    // Metrics first, so status.json can say whether they were written.
    if (metricsFile) this.attempt(metricsFile, () => renderMetrics(doc));
    this.attempt(statusPath, () => {
      const others = [...this.errors].filter(([p]) => p !== statusPath).map(([p, e]) => `${p}: ${e}`);
      return JSON.stringify({ ...doc, write_errors: others, stale_after_ms: staleAfterMs(links.map((l) => l.probe.intervalMs)) }, null, 2) + '\n';
    });
  }

  private attempt(path: string, render: () => string) {
    try {
      writeFileSafely(path, render());
      this.errors.delete(path);
    } catch (err) {
      const reason = (err as Error).message;
      if (this.errors.get(path) !== reason) this.onError(`cannot write ${path}: ${reason}`);
      this.errors.set(path, reason);
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
  family('haip_link_up', 'gauge', '1 when the link answers its probes (up or degraded), 0 when down or not yet known.', per((l) => (l.state === 'up' || l.state === 'degraded' ? 1 : 0)));
  family('haip_link_degraded', 'gauge', '1 when the link answers but is beyond max_loss or max_rtt.', per((l) => (l.state === 'degraded' ? 1 : 0)));
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
