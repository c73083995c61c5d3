// The decision of each policy, pure: from the links' health in one family to the link a prefer policy
// uses, or the bucket -> link table of a balance policy. Balancing is consistent: 64 buckets are dealt
// to the links by share (their homes); a bucket leaves its home only while its home is not usable, and
// a bucket on a usable link never moves because another link failed or returned.
import { LinkState } from '../model';
import { PolicyConfig } from './types';

/** Hash buckets of a balance policy: `jhash ... mod BUCKETS` in nftables. */
export const BUCKETS = 64;

/** A link's health in one family, as haip judges it; `held`: up, but damping holds it back. */
export interface Standing {
  state: LinkState;
  held?: boolean;
}

/** Better is higher: up, then degraded or held back (used only when nothing is up), then not yet known. */
export function tier(s: Standing | undefined): number {
  if (!s) return 0;
  if (s.state === 'up') return s.held ? 2 : 3;
  if (s.state === 'degraded') return 2;
  return s.state === 'unknown' ? 1 : 0;
}

/** The links of a list that may carry traffic now: those of the best tier present, in list order. */
export function usableLinks(links: string[], standing: (link: string) => Standing | undefined): string[] {
  const best = Math.max(0, ...links.map((l) => tier(standing(l))));
  return best ? links.filter((l) => tier(standing(l)) === best) : [];
}

/** Each bucket's home: the links dealt round by share (smooth weighted round robin), so shares are exact to a bucket. */
export function homeBuckets(links: { name: string; share: number }[]): string[] {
  const total = links.reduce((n, l) => n + l.share, 0);
  const current = links.map(() => 0);
  const out: string[] = [];
  for (let b = 0; b < BUCKETS; b++) {
    let best = 0;
    links.forEach((l, i) => {
      current[i] += l.share;
      if (current[i] > current[best]) best = i;
    });
    current[best] -= total;
    out.push(links[best].name);
  }
  return out;
}

/** FNV-1a, 32 bits: a stable hash for rendezvous scores (not the packet hash). */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** Weighted rendezvous hashing: the usable link an orphaned bucket goes to, the same whatever else changes. */
export function rendezvous(bucket: number, links: { name: string; share: number }[]): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const l of links) {
    const u = (fnv(`${bucket}/${l.name}`) + 0.5) / 2 ** 32;
    const score = -l.share / Math.log(u);
    if (!best || score > best.score) best = { name: l.name, score };
  }
  return best?.name;
}

/**
 * The buckets' links now. A bucket is at home while its home is usable; otherwise it stays on the link
 * it was on (when that one is still usable) or goes to one by rendezvous. null: no usable link.
 */
export function assignBuckets(homes: string[], usable: { name: string; share: number }[], previous?: (string | null)[]): (string | null)[] {
  const live = new Set(usable.map((l) => l.name));
  return homes.map((home, b) => {
    if (live.has(home)) return home;
    const was = previous?.[b];
    if (was && live.has(was)) return was;
    return rendezvous(b, usable) ?? null;
  });
}

/** One policy's decision in one family. */
export interface Decision {
  policy: string;
  kind: PolicyConfig['kind'];
  usable: string[];
  /** prefer: the link its new connections take; null: none usable (last resort). */
  chosen?: string | null;
  /** balance: each bucket's link; null where no link is usable. */
  buckets?: (string | null)[];
}

export function decide(policy: PolicyConfig, shareOf: (link: string) => number, standing: (link: string) => Standing | undefined, previous?: Decision): Decision {
  const usable = usableLinks(policy.links, standing);
  if (policy.kind === 'prefer') return { policy: policy.name, kind: 'prefer', usable, chosen: usable[0] ?? null };
  const homes = homeBuckets(policy.links.map((name) => ({ name, share: shareOf(name) })));
  const buckets = assignBuckets(homes, usable.map((name) => ({ name, share: shareOf(name) })), previous?.buckets);
  return { policy: policy.name, kind: 'balance', usable, buckets };
}

/** The links a decision sends new connections to. */
export function linksInUse(d: Decision): string[] {
  if (d.kind === 'prefer') return d.chosen ? [d.chosen] : [];
  return [...new Set((d.buckets ?? []).filter((b): b is string => b !== null))];
}
