// The daemon's side of policies, behind one call after each reconcile pass: decide each policy from the
// links' health, put the decisions into nftables' maps (elements only, one transaction), flush the
// connections that must move (a dead link's; a preferred link's return with `failback: move`), and
// count connections per (policy, link) for status and metrics.
import { Log } from '../log';
import { Config, configFamilies, Family } from '../model';
import { flushMarked } from '../net/conntrack';
import { markMask } from '../net/desired';
import { Runner } from '../sys/runner';
import { BUCKETS, decide, Decision, Standing, tier } from './assign';
import { pairMark, policyMarks } from './marks';
import { HASH_SEED, hasPolicies, policyElements, POLICY_TABLE } from './nft';
import { PoliciesStatus } from './status';
import { PolicyConfig } from './types';

export interface PolicyDeps {
  log: Log;
  nft?: Runner;
  conntrack?: Runner;
  now: () => number;
  /** After a kicked pass changed a decision or the counts: status.json and the metrics are due. */
  onChange?: () => void;
}

/** A link's standing in a family, as the daemon judges it (undefined: the link does not route that family). */
export type StandingOf = (link: string, family: Family) => Standing | undefined;

/** Connection counts are read at most this often (a conntrack dump per family). */
export const COUNT_EVERY_MS = 5000;

const hex = (n: number) => '0x' + (n >>> 0).toString(16);
const fam = (f: Family) => (f === 6 ? ' (IPv6)' : '');

export class PolicyEngine {
  private decisions = new Map<Family, Decision[]>();
  private alive = new Map<string, boolean>();
  private lastError?: string;
  private counts = new Map<number, number>();
  private countedAt = -Infinity;
  private config?: Config;

  private running?: Promise<void>;
  private queued?: { config: Config; standing: StandingOf };

  constructor(private readonly deps: PolicyDeps) {}

  /**
   * The daemon's one call, after every reconcile pass: runs afterPass now, or once more after the one in
   * flight (with the latest health), never two at a time.
   */
  kick(config: Config, standing: StandingOf): Promise<void> {
    this.queued = { config, standing };
    this.running ??= (async () => {
      try {
        while (this.queued) {
          const { config: c, standing: s } = this.queued;
          this.queued = undefined;
          const before = JSON.stringify(this.status(c));
          await this.afterPass(c, s);
          if (JSON.stringify(this.status(c)) !== before) this.deps.onChange?.();
        }
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** After each pass: true when nft refused the elements (a retry is due). */
  async afterPass(config: Config, standing: StandingOf): Promise<boolean> {
    // A reload that changes the policies or the shares starts afresh; one that does not keeps the orphans' places.
    if (this.config && this.config !== config && policyKey(this.config) !== policyKey(config)) this.decisions.clear();
    this.config = config;
    if (!hasPolicies(config)) {
      this.decisions.clear();
      return false;
    }
    const next = new Map<Family, Decision[]>();
    const shareOf = (name: string) => config.links.find((l) => l.name === name)?.share ?? 1;
    for (const f of configFamilies(config)) {
      const before = this.decisions.get(f);
      next.set(
        f,
        config.policies!.map((p) => decide(p, shareOf, (l) => standing(l, f), before?.find((d) => d.policy === p.name))),
      );
    }
    const aliveNow = (link: string, f: Family) => tier(standing(link, f)) > 0;
    const previous = this.decisions;
    this.decisions = next;
    this.tell(config, previous, next);
    const failed = await this.push(config, next, aliveNow);
    await this.flush(config, previous, next, aliveNow);
    await this.count(config);
    return failed;
  }

  private tell(config: Config, before: Map<Family, Decision[]>, after: Map<Family, Decision[]>) {
    for (const [f, ds] of after)
      for (const d of ds) {
        const was = before.get(f)?.find((x) => x.policy === d.policy);
        const p = config.policies!.find((x) => x.name === d.policy)!;
        const now = describe(p, d);
        if (was && describe(p, was) !== now) this.deps.log.notice(`policy ${d.policy}${fam(f)}: ${describe(p, was)} -> ${now}`);
        else if (!was) this.deps.log.info(`policy ${d.policy}${fam(f)}: ${now}`);
      }
  }

  private async push(config: Config, decisions: Map<Family, Decision[]>, alive: (l: string, f: Family) => boolean): Promise<boolean> {
    const { nft, log } = this.deps;
    if (!nft) return false;
    // Every pass: the table may have been put back (start, reload, drift) with empty maps.
    const r = await nft.run(['-f', '-'], policyElements(config, decisions, alive));
    if (r.code === 0) {
      this.lastError = undefined;
      return false;
    }
    const msg = `policies: nft -f - (the maps of ${POLICY_TABLE}): exit ${r.code}: ${r.stderr.trim() || r.stdout.trim() || 'no output'}`;
    if (msg !== this.lastError) log.error(`${msg}; will retry`);
    this.lastError = msg;
    return true;
  }

  /** A link that died loses its connections; `failback: move` takes a prefer policy's connections back. */
  private async flush(config: Config, before: Map<Family, Decision[]>, after: Map<Family, Decision[]>, alive: (l: string, f: Family) => boolean) {
    const { conntrack, log } = this.deps;
    const plan = policyMarks(config);
    const mask = markMask(config);
    const moves: { policy: string; link: string; family: Family; why: string }[] = [];
    for (const [f, ds] of after) {
      for (const p of config.policies!) {
        for (const link of p.links) {
          const key = `${p.name}/${link}/${f}`;
          const was = this.alive.get(key);
          const is = alive(link, f);
          this.alive.set(key, is);
          if (was && !is) moves.push({ policy: p.name, link, family: f, why: `${link} is down` });
        }
        const d = ds.find((x) => x.policy === p.name)!;
        const was = before.get(f)?.find((x) => x.policy === p.name);
        if (p.failback === 'move' && p.kind === 'prefer' && was?.chosen && d.chosen && was.chosen !== d.chosen && p.links.indexOf(d.chosen) < p.links.indexOf(was.chosen))
          for (const link of p.links) if (link !== d.chosen && alive(link, f)) moves.push({ policy: p.name, link, family: f, why: `${d.chosen} is back (failback: move)` });
      }
    }
    if (!conntrack) return;
    for (const m of moves) {
      const mark = pairMark(plan, m.policy, m.link);
      if (mark === undefined) continue;
      try {
        const n = await flushMarked(conntrack, mark, mask, m.family);
        (n ? log.notice : log.info)(`policy ${m.policy}${fam(m.family)}: ${m.why}: flushed its ${n} connection(s) on ${m.link} (mark ${hex(mark)})`);
      } catch (err) {
        log.error(`policy ${m.policy}: flushing the connections on ${m.link}: ${(err as Error).message}`);
      }
    }
  }

  /** Connections per mark from one conntrack dump per family, at most every COUNT_EVERY_MS. */
  private async count(config: Config) {
    const { conntrack } = this.deps;
    const now = this.deps.now();
    if (!conntrack || now - this.countedAt < COUNT_EVERY_MS) return;
    this.countedAt = now;
    const mask = markMask(config);
    const counts = new Map<number, number>();
    for (const f of configFamilies(config)) {
      const r = await conntrack.run(['-L', '-f', f === 6 ? 'ipv6' : 'ipv4']);
      if (r.code !== 0) return;
      for (const m of r.stdout.matchAll(/\bmark=(\d+)/g)) {
        const k = (Number(m[1]) & mask) >>> 0;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
    this.counts = counts;
  }

  /** Decisions and counts as status.json carries them; undefined without policies. */
  status(config: Config): PoliciesStatus | undefined {
    if (!hasPolicies(config)) return undefined;
    const plan = policyMarks(config);
    const counted = this.countedAt > -Infinity;
    return {
      policies: config.policies!.map((p) => ({
        name: p.name,
        kind: p.kind,
        ...(p.kind === 'balance' ? { by: p.by } : {}),
        last_resort: p.lastResort,
        failback: p.failback,
        links: p.links.map((name) => {
          const link = config.links.find((l) => l.name === name);
          const mark = pairMark(plan, p.name, name) ?? null;
          return { name, share: link?.share ?? 1, mark, table: link?.table ?? null, connections: counted && mark !== null ? (this.counts.get(mark) ?? 0) : null };
        }),
        families: [...this.decisions].flatMap(([family, ds]) => {
          const d = ds.find((x) => x.policy === p.name);
          return d ? [{ family, usable: d.usable, ...(d.kind === 'prefer' ? { chosen: d.chosen ?? null } : { buckets: d.buckets ?? [] }) }] : [];
        }),
      })),
      traffic: config.traffic ?? [],
      default_policy: config.defaultPolicy ?? null,
      mark_mask: markMask(config),
      unreachable_mark: plan.unreachable ?? null,
      hash_seed: HASH_SEED,
      buckets: BUCKETS,
    };
  }
}

const policyKey = (c: Config) => JSON.stringify([c.policies, c.links.map((l) => [l.name, l.share])]);

/** "dsl" (prefer), "dsl 32, cable 32" (balance), or what the last resort does. */
export function describe(p: PolicyConfig, d: Decision): string {
  const none = p.lastResort === 'unreachable' ? 'no usable link: refused' : 'no usable link: the main default route';
  if (d.kind === 'prefer') return d.chosen ?? none;
  const per = new Map<string, number>();
  for (const b of d.buckets ?? []) if (b) per.set(b, (per.get(b) ?? 0) + 1);
  return per.size ? [...per].map(([l, n]) => `${l} ${n}/${BUCKETS}`).join(', ') : none;
}
