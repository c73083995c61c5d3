// The choice of link for one family's default route, as a plain value: which link carries it (as the
// kernel confirmed), which switch waits for confirmation, which links' routes the kernel refused and
// when each is tried again. `choose` runs before a pass writes the kernel, `settle` after it reads main's
// default routes back; both are pure and return the next record and what happened, for announce().
// The invariant kept here: while some link answers whose route the kernel takes, the choice is never a
// link whose route it refused, so the host is never left without a default route (the refused link is
// tried again in the background, its retry time backing off).
import { backoffMs } from './backoff';
import { Family } from '../model';
import { Candidate, selectRoute } from '../select';


export interface Refusal {
  link: string;
  /** The kernel's words (stderr of the refused `ip route replace`), or that it does not route by it. */
  reason: string;
  /** When it was first refused, in this run of refusals. */
  at: number;
  /** Before this, the link is chosen only if no other link answers. */
  retryAt: number;
  tries: number;
}

export interface Selection {
  family: Family;
  /** The link the last confirmed switch moved the default route to: selection's "current". */
  active: string | null;
  activeSince: number;
  /** The link the kernel routes by, as read back after the last pass: all that status ever names. */
  routedBy: string | null;
  /** A switch chosen but not yet confirmed by the kernel. */
  pending?: { to: string; reason: string };
  refused: Refusal[];
  switches: number;
  allDownWarned: boolean;
}

export type SelectionEvent =
  | { kind: 'switch'; family: Family; from: string | null; to: string; reason: string }
  | { kind: 'refused'; family: Family; link: string; reason: string; routedBy: string | null; fallback: boolean }
  | { kind: 'all-down'; family: Family }
  /** The kernel routes by another link than before, or a refusal was lifted: status must be rewritten. */
  | { kind: 'changed'; family: Family };

export interface Stepped {
  next: Selection;
  events: SelectionEvent[];
}

export function newSelection(family: Family, now: number): Selection {
  return { family, active: null, activeSince: now, routedBy: null, refused: [], switches: 0, allDownWarned: false };
}

const answers = (c: Candidate) => c.health.state === 'up' || c.health.state === 'degraded';

/** The refusal that keeps `link` out of the choice at `now`, if any. */
export function refusalOf(s: Selection, link: string): Refusal | undefined {
  return s.refused.find((r) => r.link === link);
}

/**
 * Picks the link the pass should route by. A link refused until later is left out while another link
 * answers; a refusal is forgotten when its link stops answering (it comes back as a new path), except
 * the carrying link's while no link answers.
 */
export function choose(s: Selection, candidates: Candidate[], now: number): Stepped {
  const events: SelectionEvent[] = [];
  // While no link answers, the carrying link is kept (its route stays, if the kernel still has it): its
  // refusal is kept too, so a route that went away and cannot return is retried on the backoff, not in
  // a loop of passes.
  const keeping = !candidates.some(answers);
  const refused = s.refused.filter((r) => candidates.some((c) => c.name === r.link && (answers(c) || (keeping && r.link === s.active))));
  if (refused.length !== s.refused.length) events.push({ kind: 'changed', family: s.family });
  const waiting = (c: Candidate) => refused.some((r) => r.link === c.name && r.retryAt > now);
  const open = candidates.filter((c) => !waiting(c));
  const pool = open.some(answers) ? open : candidates;
  let choice = selectRoute(pool, s.active);
  const ideal = pool === candidates ? choice : selectRoute(candidates, s.active);
  const passedOver = ideal.active !== choice.active && ideal.active ? refused.find((r) => r.link === ideal.active) : undefined;
  if (passedOver && choice.active) choice = { ...choice, reason: `the kernel refuses ${passedOver.link}'s route (${passedOver.reason}); ${choice.reason}` };
  let next: Selection = { ...s, refused };
  if (choice.active === null || choice.active === s.active) {
    next.pending = undefined;
    if (choice.active === null && s.active === null && candidates.length && !candidates.some((c) => c.health.state !== 'down') && !s.allDownWarned) {
      next.allDownWarned = true;
      events.push({ kind: 'all-down', family: s.family });
    }
  } else if (s.pending?.to !== choice.active) next = { ...next, pending: { to: choice.active, reason: choice.reason } };
  return { next, events };
}

/**
 * The earliest time still ahead at which a refused link may be chosen again, for the wiring's timer;
 * undefined if none. A refusal already due waits for the pass that can try it (its link answering again):
 * a timer for a time gone by would fire at once, pass after pass.
 */
export function nextRetry(s: Selection, now: number): number | undefined {
  const times = s.refused.map((r) => r.retryAt).filter((t) => t > now);
  return times.length ? Math.min(...times) : undefined;
}

/**
 * After a pass: `routedBy` is the link the kernel routes by now; `refusal` the kernel's words if it
 * refused main's default route of this family. A pending switch is confirmed only by the read-back.
 */
export function settle(s: Selection, routedBy: string | null, refusal: string | undefined, now: number): Stepped {
  const events: SelectionEvent[] = [];
  let next: Selection = { ...s, routedBy };
  // The kernel refused to put back the route of the link carrying it (its route went away and cannot
  // return): that link is refused like a switch to it, so the next usable link takes over.
  const p = s.pending ?? (refusal !== undefined && s.active && routedBy !== s.active ? { to: s.active, reason: '' } : undefined);
  if (p && routedBy === p.to) {
    next = { ...next, pending: undefined, active: p.to, activeSince: now, switches: s.switches + 1, allDownWarned: false, refused: s.refused.filter((r) => r.link !== p.to) };
    events.push({ kind: 'switch', family: s.family, from: s.active, to: p.to, reason: p.reason });
    return { next, events };
  }
  if (p) {
    const reason = refusal ?? 'the kernel does not route by it';
    const before = refusalOf(s, p.to);
    const tries = (before?.tries ?? 0) + 1;
    const delay = backoffMs(tries);
    const r: Refusal = { link: p.to, reason, at: before?.at ?? now, retryAt: now + delay, tries };
    next = { ...next, pending: undefined, refused: [...s.refused.filter((x) => x.link !== p.to), r] };
    if (!before || before.reason !== reason) events.push({ kind: 'refused', family: s.family, link: p.to, reason, routedBy, fallback: true });
    events.push({ kind: 'changed', family: s.family });
    return { next, events };
  }
  // The kernel routes by a refused link after all (a foreign obstacle went away): the refusal is over.
  if (routedBy && refusalOf(s, routedBy)) next = { ...next, refused: s.refused.filter((r) => r.link !== routedBy) };
  if (s.routedBy !== routedBy || next.refused !== s.refused) events.push({ kind: 'changed', family: s.family });
  return { next, events };
}

/** After a reload: links that are gone are neither current, pending nor refused. */
export function forgetLinks(s: Selection, has: (link: string) => boolean): Selection {
  return {
    ...s,
    active: s.active && has(s.active) ? s.active : null,
    pending: s.pending && has(s.pending.to) ? s.pending : undefined,
    refused: s.refused.filter((r) => has(r.link)),
  };
}
