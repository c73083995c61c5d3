// Plain data of traffic policies: which links a class of traffic may use, and the rules that pick the
// class. Built from `policies:` and `traffic:` in haip.yaml (config/convert.ts).

/** What a policy does when none of its links is usable: refuse (nothing leaks) or follow main's default route. */
export type LastResort = 'unreachable' | 'default';

export interface PolicyConfig {
  name: string;
  /** balance: spread over every usable link by share; prefer: the first usable link in list order. */
  kind: 'balance' | 'prefer';
  links: string[];
  /** balance only: hash the source address (a host stays on one uplink) or the whole 5-tuple. */
  by: 'source' | 'connection';
  lastResort: LastResort;
  /** move: when the preferred link returns, its connections on the backup are flushed so they move back. */
  failback: 'keep' | 'move';
}

export type Proto = 'tcp' | 'udp' | 'sctp' | 'icmp' | 'icmpv6';

/** One `traffic:` rule: every field given must match; the first matching rule picks the policy. */
export interface TrafficRule {
  from?: string;
  to?: string;
  proto?: Proto;
  /** Inclusive port ranges; a single port is [p, p]. */
  dport?: [number, number];
  sport?: [number, number];
  iif?: string;
  dscp?: number;
  policy: string;
}
