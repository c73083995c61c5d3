// The status document (status.json, STATUS=, metrics) as a pure function of the daemon's state.
import { VERSION } from '../version';
import { hasLimits, qualityLimits, windowStats } from '../health/quality';
import { LinkStatus, QualityStatus, StatusDoc } from '../status';
import { Family } from '../model';
import { fam } from './announce';
import { LinkRuntime } from './registry';
import { refusalOf, Selection } from './selector';
import { networkOf6 } from '../net/address';
import { RefusedPrefix6 } from '../net/refused6';
import type { Lan6Status } from './lan6';

export interface StatusInput {
  links: LinkRuntime[];
  /** The link the kernel routes by. */
  active: string | null;
  activeSince: number;
  /** What keeps haip from doing its job right now (a refused switch, a hung `ip`). */
  problems: string[];
  /** How many of the problems are traffic going another way than haip's choice (src/net/effective.ts). */
  misrouted?: number;
  /** Why damping holds an UP link back, or null. */
  held: (rt: LinkRuntime) => string | null;
  /** Why the kernel refused the link's default route (it is tried again), or null. */
  refused: (rt: LinkRuntime) => string | null;
  switches: number;
  /** IPv6's side, when a link probes IPv6: its runtimes, the link the kernel routes IPv6 by. */
  six?: { links: LinkRuntime[]; active: string | null; activeSince: number; switches: number };
  /** Delegated prefixes that route nothing, and why (src/net/refused6.ts). */
  refused6?: RefusedPrefix6[];
  /** haip's router advertisements on the LAN, when `lan6` is configured. */
  lan6?: Lan6Status;
  now: number;
  pid: number;
}

const iso = (t: number) => new Date(t).toISOString();

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The kernel's form of a prefix, as refusals name it. */
const canonical = (p: string) => networkOf6(p.split('/')[0], Number(p.split('/')[1] ?? 128));

export function linkStatus(rt: LinkRuntime, held: string | null = null, refused: string | null = null, refused6: RefusedPrefix6[] = []): LinkStatus {
  const mine = rt.family === 6 ? refused6.filter((r) => r.link === rt.config.name) : [];
  // A configured prefix another link owns routes nothing here: it is shown as refused, not as routed.
  const routed = (rt.view.prefixes6 ?? []).filter((p) => !mine.some((r) => !r.learned && r.prefix === canonical(p.prefix)));
  const last = rt.rounds[rt.rounds.length - 1];
  const sent = rt.rounds.reduce((a, r) => a + r.total, 0);
  const got = rt.rounds.reduce((a, r) => a + r.answered, 0);
  return {
    name: rt.config.name,
    family: rt.family,
    interface: rt.config.interface,
    state: rt.health.state,
    since: iso(rt.health.since),
    reason: rt.health.reason,
    rtt_ms: last?.rttMs !== undefined ? round2(last.rttMs) : null,
    loss: sent ? round2(1 - got / sent) : null,
    weight: rt.config.weight,
    table: rt.config.table ?? null,
    source: rt.view.source ?? null,
    gateway: (rt.view.gateway ?? (rt.family === 6 ? rt.config.gateway6 : rt.config.gateway)) ?? null,
    targets: rt.config.probe.targets.map((address) => {
      const answers = rt.rounds.map((r) => r.perTarget.find((p) => p.address === address)).filter((p) => p !== undefined);
      const lastAnswer = answers[answers.length - 1];
      return {
        address,
        rtt_ms: lastAnswer?.alive && lastAnswer.rttMs !== undefined ? round2(lastAnswer.rttMs) : null,
        loss: answers.length ? round2(answers.filter((p) => !p!.alive).length / answers.length) : null,
        failure: lastAnswer && !lastAnswer.alive ? (lastAnswer.failure ?? 'no answer') : null,
      };
    }),
    recent_rtt_ms: rt.rounds.slice(-30).map((r) => (r.rttMs !== undefined ? round2(r.rttMs) : null)),
    rounds: rt.roundsTotal,
    held,
    route_refused: refused,
    quality: qualityStatus(rt),
    ...(routed.length ? { prefixes6: routed.map((p) => ({ prefix: p.prefix, learned: p.from !== undefined, from: p.from ?? 'config (prefixes6)' })) } : {}),
    ...(mine.length ? { prefixes6_refused: mine.map((r) => ({ prefix: r.prefix, learned: r.learned, why: r.why })) } : {}),
  };
}

function qualityStatus(rt: LinkRuntime): QualityStatus | null {
  const limits = qualityLimits(rt.config);
  if (!hasLimits(limits)) return null;
  const s = windowStats(rt.quality);
  return {
    samples: s.sent,
    loss_pct: s.sent ? round2(s.lossPct) : null,
    median_rtt_ms: s.medianRttMs !== undefined ? round2(s.medianRttMs) : null,
    max_loss_pct: limits.maxLossPct ?? null,
    max_rtt_ms: limits.maxRttMs ?? null,
    window_s: limits.windowMs / 1000,
  };
}

export function statusDocument(s: StatusInput): StatusDoc {
  const six = s.six ? { active6: s.six.active, since6: iso(s.six.activeSince), switches6: s.six.switches } : {};
  const links = [...s.links, ...(s.six?.links ?? [])].map((rt) => linkStatus(rt, s.held(rt), s.refused(rt), s.refused6));
  return { version: VERSION, active: s.active, since: iso(s.activeSince), ...six, pid: s.pid, updated: iso(s.now), switches: s.switches, problems: s.problems, ...(s.misrouted ? { misrouted: s.misrouted } : {}), links, ...(s.lan6 ? { lan6: s.lan6 } : {}) };
}

/** A family's side as the status document reads it. */
export interface StatusLane {
  family: Family;
  links: { all(): LinkRuntime[]; size: number };
  sel: Selection;
}

/** The document from both families' lanes: refused switches come first among the problems. */
export function lanesStatus(
  lanes: [StatusLane, StatusLane],
  problem: string | null,
  held: (rt: LinkRuntime) => string | null,
  now: number,
  pid: number,
  misrouted: string[] = [],
  extra: { refused6?: RefusedPrefix6[]; lan6?: Lan6Status } = {},
): StatusDoc {
  const [four, six] = lanes;
  const refused = lanes.flatMap((l) =>
    l.sel.refused.map((r) => `${fam(l.family)}switch to ${r.link} refused: ${r.reason}; ${l.sel.routedBy && l.sel.routedBy !== r.link ? `${l.sel.routedBy} carries the route meanwhile; ` : ''}retrying`),
  );
  return statusDocument({
    links: four.links.all(),
    active: four.sel.routedBy,
    ...(six.links.size ? { six: { links: six.links.all(), active: six.sel.routedBy, activeSince: six.sel.activeSince, switches: six.sel.switches } } : {}),
    problems: [...refused, problem, ...misrouted].filter((x): x is string => x !== null),
    misrouted: misrouted.length,
    held,
    refused: (rt) => refusalOf(lanes[rt.family === 4 ? 0 : 1].sel, rt.config.name)?.reason ?? null,
    activeSince: four.sel.activeSince,
    switches: four.sel.switches,
    ...extra,
    now,
    pid,
  });
}
