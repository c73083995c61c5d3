// Prometheus metrics for node_exporter's textfile collector, rendered from the status document. A change
// of state (a link's state, the active link) is written at once; RTT, loss and counters at most every
// metrics_interval, so a file on flash is not rewritten every second. At stop the per-link series go and
// haip_running says 0: values nobody keeps up to date any more are not left looking current.
import { LinkState } from './model';
import { activeOf, FileWriter, LinkStatus, StatusDoc, StatusSink } from './status';
import { Clock, TimerHandle } from './sys/clock';
import { VERSION } from './version';

const STATES: LinkState[] = ['unknown', 'up', 'degraded', 'down'];

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

type Row = [Record<string, string>, number | null];

function family(out: string[], name: string, type: 'gauge' | 'counter', help: string, rows: Row[]) {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of rows) {
    if (value === null) continue;
    const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',');
    out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
  }
}

const RUNNING_HELP = '1 while haip runs; 0 once it has stopped (the link series are then gone).';

/** The Prometheus text format for a running daemon. */
export function renderMetrics(doc: StatusDoc): string {
  const out: string[] = [];
  // A dual-stack link has a row per family.
  const labels = (l: LinkStatus) => ({ link: l.name, interface: l.interface, family: String(l.family ?? 4) });
  const per = (f: (l: LinkStatus) => number | null) => doc.links.map((l): Row => [labels(l), f(l)]);
  family(out, 'haip_running', 'gauge', RUNNING_HELP, [[{}, 1]]);
  family(out, 'haip_build_info', 'gauge', "Always 1; the version label is the running daemon's.", [[{ version: VERSION }, 1]]);
  family(
    out,
    'haip_link_state',
    'gauge',
    'The link\'s state: 1 for the state it is in (unknown until its first probe round, up, degraded: answering beyond max_loss or max_rtt, down), 0 for the others.',
    doc.links.flatMap((l) => STATES.map((s): Row => [{ ...labels(l), state: s }, l.state === s ? 1 : 0])),
  );
  family(out, 'haip_link_up', 'gauge', '1 when the link answers its probes (up or degraded), 0 when down or not yet known (haip_link_state tells those apart).', per((l) => (l.state === 'up' || l.state === 'degraded' ? 1 : 0)));
  family(out, 'haip_link_active', 'gauge', '1 for the link that carries the default route of its family.', per((l) => (l.name === activeOf(doc, l.family ?? 4) ? 1 : 0)));
  family(out, 'haip_link_route_refused', 'gauge', '1 while the kernel refuses the link\'s default route (haip tries it again and routes by another link meanwhile), else 0.', per((l) => (l.route_refused ? 1 : 0)));
  family(out, 'haip_link_rtt_seconds', 'gauge', 'Mean RTT of the last probe round.', per((l) => (l.rtt_ms === null ? null : l.rtt_ms / 1000)));
  family(out, 'haip_link_loss_ratio', 'gauge', 'Share of probes unanswered over the last minute.', per((l) => l.loss));
  family(out, 'haip_probe_rounds_total', 'counter', 'Probe rounds completed since haip started.', per((l) => l.rounds));
  if (doc.policies)
    family(
      out,
      'haip_policy_link_connections',
      'gauge',
      'Connections conntrack tracks for the policy on the link (counted by their mark, both families).',
      doc.policies.policies.flatMap((p) => p.links.map((l): Row => [{ policy: p.name, link: l.name }, l.connections])),
    );
  family(out, 'haip_misrouted', 'gauge', 'Ways the kernel routes sampled destinations other than haip chose, each a problem in haip status; 0 when the effective routes agree.', [[{}, doc.misrouted ?? 0]]);
  family(out, 'haip_switches_total', 'counter', 'Default-route switches since haip started.', [
    [{ family: '4' }, doc.switches],
    [{ family: '6' }, doc.switches6 ?? null],
  ]);
  if (doc.lan6) lan6Metrics(out, doc.lan6);
  return out.join('\n') + '\n';
}

/** `lan6`: what the last router advertisement on the LAN said, and whether they go out. */
function lan6Metrics(out: string[], lan: NonNullable<StatusDoc['lan6']>) {
  const iface = { interface: lan.interface };
  family(
    out,
    'haip_lan6_prefix_preferred',
    'gauge',
    "Per LAN /64 haip advertises: 1 while its last router advertisement said preferred, 0 while deprecated (its uplink's IPv6 is down: hosts number new connections from another prefix).",
    lan.prefixes.filter((p) => p.state !== 'withdrawn').map((p): Row => [{ ...iface, prefix: p.prefix, link: p.link }, p.state === 'preferred' ? 1 : 0]),
  );
  family(out, 'haip_lan6_ra_failing', 'gauge', '1 while haip\'s router advertisements on the LAN cannot be sent (haip status says why), else 0.', [[iface, lan.error === null ? 0 : 1]]);
  family(out, 'haip_lan6_ra_sent_timestamp_seconds', 'gauge', 'When haip\'s last router advertisement on the LAN went out (Unix time); absent before the first.', [
    [iface, lan.sent === null ? null : Date.parse(lan.sent) / 1000],
  ]);
}

/** What the file says once haip has stopped. */
export function stoppedMetrics(): string {
  const out: string[] = [];
  family(out, 'haip_running', 'gauge', RUNNING_HELP, [[{}, 0]]);
  return out.join('\n') + '\n';
}

/** What must reach the file at once when it changes. */
function stateKey(doc: StatusDoc): string {
  const lan6 = doc.lan6 && [doc.lan6.error, doc.lan6.prefixes.map((p) => [p.prefix, p.state])];
  return JSON.stringify([doc.active, doc.switches, doc.misrouted, doc.active6, doc.switches6, doc.links.map((l) => [l.name, l.family, l.interface, l.state]), doc.policies?.policies.map((p) => p.families), lan6]);
}

export interface MetricsSettings {
  metricsFile?: string;
  metricsIntervalMs: number;
}

/** The metrics file: changes of state at once, everything else at most every metrics_interval. */
export class MetricsFile implements StatusSink {
  private lastKey?: string;
  private lastAt = -Infinity;
  private pending?: StatusDoc;
  private timer?: TimerHandle;

  constructor(
    private readonly settings: () => MetricsSettings,
    private readonly clock: Clock,
    private readonly files: FileWriter,
  ) {}

  write(doc: StatusDoc): void {
    const { metricsFile, metricsIntervalMs } = this.settings();
    if (!metricsFile) return;
    const now = this.clock.now();
    if (stateKey(doc) !== this.lastKey || now - this.lastAt >= metricsIntervalMs) {
      this.flush(doc);
      return;
    }
    // The latest values wait for the end of the interval; a newer document replaces the waiting one.
    this.pending = doc;
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.pending) this.flush(this.pending);
    }, this.lastAt + metricsIntervalMs - now);
  }

  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.pending = undefined;
    const { metricsFile } = this.settings();
    if (metricsFile) this.files.attempt(metricsFile, stoppedMetrics);
  }

  private flush(doc: StatusDoc) {
    this.timer?.cancel();
    this.timer = undefined;
    this.pending = undefined;
    this.lastKey = stateKey(doc);
    this.lastAt = this.clock.now();
    const { metricsFile } = this.settings();
    if (metricsFile) this.files.attempt(metricsFile, () => renderMetrics(doc));
  }
}
