// The links haip runs, by name in config order: per link its config, what the kernel shows of it, its
// health and its probe history. A reload is a diff: unchanged links keep their state and their probes.
import { DampingState, undamped } from '../health/damping';
import { initialHealth } from '../health/hysteresis';
import { LinkMonitor, RoundResult } from '../health/monitor';
import { QualitySample, trimWindow } from '../health/quality';
import { Family, LinkConfig, LinkHealth } from '../model';
import { LinkView } from '../net/desired';

export interface Round {
  at: number;
  answered: number;
  total: number;
  rttMs?: number;
  perTarget: { address: string; alive: boolean; rttMs?: number; failure?: string }[];
}

/** Per-link bookkeeping: what the config says, what the kernel shows, and how probing goes. */
export interface LinkRuntime {
  /** The family this runtime judges: a dual-stack link has one runtime per family. */
  family: Family;
  /** The link's config as its family sees it: only that family's targets. */
  config: LinkConfig;
  view: LinkView;
  health: LinkHealth;
  monitor: LinkMonitor;
  rounds: Round[];
  roundsTotal: number;
  /** When a round last completed with every probe settled: what the watchdog looks at. */
  lastTurnAt: number;
  lastError?: string;
  /** The probes of the last quality_window while the link answers, for max_loss and max_rtt. */
  quality: QualitySample[];
  /** Whether `view` came from the kernel yet: the first reading is not a change to tell. */
  seen: boolean;
  /** Route-flap damping: the penalty of recent failures. */
  damping: DampingState;
  /** A hold was told, so its end is told too. */
  heldLogged?: boolean;
  /**
   * Why the kernel refused the default route in the link's own table. No probe is sent then: a socket
   * bound to the interface whose lookup fails (the table's unreachable default) is sent on-link by the
   * kernel, and an ISP router answering ARP for everything would make the link look up.
   */
  tableRefused?: string;
}


/** How long probe rounds are kept for loss and RTT in the status. */
export const HISTORY_MS = 60_000;

/** Keeps one round in the link's history (the last HISTORY_MS of it). */
export function recordRound(rt: LinkRuntime, r: RoundResult, now: number): void {
  if (!r.stuck) rt.lastTurnAt = now;
  rt.roundsTotal++;
  rt.rounds.push({
    at: r.at,
    answered: r.answered,
    total: r.total,
    rttMs: r.rttMs,
    perTarget: r.perTarget.map((p) => ({
      address: p.address,
      alive: p.result.alive,
      rttMs: p.result.rttMs,
      ...(p.result.alive ? {} : { failure: (p.result.error ?? p.result.detail ?? 'no answer').slice(0, 200) }),
    })),
  });
  while (rt.rounds.length && rt.rounds[0].at < now - HISTORY_MS) rt.rounds.shift();
  for (const p of r.perTarget) {
    const lost = p.result.lost ?? (p.result.alive ? 0 : 1);
    rt.quality.push({ at: r.at, sent: lost + (p.result.alive ? 1 : 0), lost, ...(p.result.alive && p.result.rttMs !== undefined ? { rttMs: p.result.rttMs } : {}) });
  }
  trimWindow(rt.quality, now, rt.config.probe.qualityWindowMs);
}

/** What a reload changed, by link name. */
export interface ReloadDiff {
  changed: string[];
  removed: string[];
}

export class LinkRegistry {
  private links = new Map<string, LinkRuntime>();

  constructor(
    private readonly newMonitor: (l: LinkConfig) => LinkMonitor,
    private readonly now: () => number,
    readonly family: Family = 4,
  ) {}

  get(name: string): LinkRuntime | undefined {
    return this.links.get(name);
  }

  has(name: string): boolean {
    return this.links.has(name);
  }

  get size(): number {
    return this.links.size;
  }

  all(): LinkRuntime[] {
    return [...this.links.values()];
  }

  add(l: LinkConfig): LinkRuntime {
    const now = this.now();
    const rt: LinkRuntime = {
      family: this.family,
      config: l,
      view: { link: l, unusable: 'not read from the kernel yet', ...(this.family === 6 ? { family: 6 as const } : {}) },
      seen: false,
      health: initialHealth(now),
      monitor: this.newMonitor(l),
      rounds: [],
      roundsTotal: 0,
      lastTurnAt: now,
      quality: [],
      damping: undamped(now),
    };
    this.links.set(l.name, rt);
    return rt;
  }

  startProbing(): void {
    for (const rt of this.links.values()) rt.monitor.start();
  }

  stopProbing(): void {
    for (const rt of this.links.values()) rt.monitor.stop();
  }

  /**
   * Takes the links of a new config. A link whose config is unchanged keeps everything; one on the same
   * interface keeps its state (a reload must not move the default route away and back) and counts new
   * probe settings from the next round; any other is new.
   */
  reload(next: LinkConfig[], probing: boolean): ReloadDiff {
    const before = [...this.links.keys()];
    const unchanged = new Set<string>();
    for (const l of next) {
      const rt = this.links.get(l.name);
      if (rt && JSON.stringify(rt.config) === JSON.stringify(l)) {
        unchanged.add(l.name);
        continue;
      }
      if (rt && rt.config.interface === l.interface) {
        const probingChanged = !sameProbing(rt.config, l);
        rt.config = l;
        rt.monitor.stop();
        rt.monitor = this.newMonitor(l);
        if (probingChanged) {
          rt.health = { ...rt.health, streak: 0 };
          rt.rounds = [];
          rt.quality = [];
        }
        if (probing) rt.monitor.start();
        continue;
      }
      if (rt) rt.monitor.stop();
      this.links.delete(l.name);
      const added = this.add(l);
      if (probing) added.monitor.start();
    }
    for (const name of [...this.links.keys()]) {
      if (!next.some((l) => l.name === name)) {
        this.links.get(name)!.monitor.stop();
        this.links.delete(name);
      }
    }
    // Keep config order.
    this.links = new Map(next.map((l) => [l.name, this.links.get(l.name)!]));
    return {
      changed: next.filter((l) => !unchanged.has(l.name)).map((l) => l.name),
      removed: before.filter((name) => !next.some((n) => n.name === name)),
    };
  }
}

function sameProbing(a: LinkConfig, b: LinkConfig): boolean {
  return a.interface === b.interface && a.source === b.source && a.source6 === b.source6 && JSON.stringify(a.probe) === JSON.stringify(b.probe);
}
