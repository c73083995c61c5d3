// The mark layout of policies: one connection mark per (policy, link) pair, so conntrack can count and
// flush a policy's connections on one link, and one mark that refuses traffic (last_resort: unreachable).
// They are taken from the top of mark_mask down, skipping the links' own (sticky) marks at the bottom.
import { Config } from '../model';
import { linkMark, markMask } from '../net/marks';
import { PolicyConfig } from './types';

const bits = (mask: number) => {
  const out: number[] = [];
  for (let b = 0; b < 32; b++) if ((mask >>> b) & 1) out.push(b);
  return out;
};

/** The k-th value inside `mask`: k's bits put into the mask's bits, lowest first (k < 2^popcount). */
export function deposit(k: number, mask: number): number {
  let v = 0;
  bits(mask).forEach((b, i) => {
    if (Math.floor(k / 2 ** i) % 2) v += 2 ** b;
  });
  return v >>> 0;
}

/** Non-zero values the mask can hold. */
export function markCapacity(mask: number): number {
  return 2 ** bits(mask >>> 0).length - 1;
}

export interface PairMark {
  policy: string;
  link: string;
  mark: number;
}

export interface MarkPlan {
  pairs: PairMark[];
  /** The mark of refused traffic; absent when no policy refuses. */
  unreachable?: number;
  /** Marks in use: the links' own, the pairs, the refusing one. */
  needed: number;
  available: number;
  /** Whether every mark found a place. */
  fits: boolean;
}

/** Pure: the marks for these policies under `mask`, beside the links' own marks. */
export function planMarks(mask: number, linkMarks: number[], policies: Pick<PolicyConfig, 'name' | 'links' | 'lastResort'>[]): MarkPlan {
  const taken = new Set(linkMarks.map((m) => m >>> 0));
  const available = markCapacity(mask);
  let k = available;
  const next = (): number | undefined => {
    while (k > 0 && taken.has(deposit(k, mask))) k--;
    if (k <= 0) return undefined;
    const m = deposit(k--, mask);
    taken.add(m);
    return m;
  };
  const refuses = policies.some((p) => p.lastResort === 'unreachable');
  const unreachable = refuses ? next() : undefined;
  const pairs: PairMark[] = [];
  let fits = !refuses || unreachable !== undefined;
  for (const p of policies)
    for (const link of p.links) {
      const mark = next();
      if (mark === undefined) fits = false;
      else pairs.push({ policy: p.name, link, mark });
    }
  const needed = new Set(linkMarks).size + policies.reduce((n, p) => n + p.links.length, 0) + (refuses ? 1 : 0);
  return { pairs, ...(unreachable !== undefined ? { unreachable } : {}), needed, available, fits: fits && needed <= available };
}

/** The running config's mark plan. */
export function policyMarks(config: Config): MarkPlan {
  return planMarks(markMask(config), config.links.map((_, i) => linkMark(config, i)), config.policies ?? []);
}

export function pairMark(plan: MarkPlan, policy: string, link: string): number | undefined {
  return plan.pairs.find((p) => p.policy === policy && p.link === link)?.mark;
}
