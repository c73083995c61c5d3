// From validated `policies:` and `traffic:` entries to the policy types: defaults filled in, ports as ranges.
import { PolicyConfig, Proto, TrafficRule } from '../policy/types';
import { RawConfig } from './raw';

/** A port or "LOW-HIGH" as an inclusive range. */
export function portRange(v: number | string): [number, number] {
  if (typeof v === 'number') return [v, v];
  const [a, b] = v.split('-').map(Number);
  return [a, b];
}

export function toPolicies(raw: RawConfig): Pick<{ policies?: PolicyConfig[]; traffic?: TrafficRule[]; defaultPolicy?: string }, 'policies' | 'traffic' | 'defaultPolicy'> {
  if (!raw.policies?.length) return {};
  const linkNames = raw.links.map((l) => l.name);
  const policies = raw.policies.map((p): PolicyConfig => {
    const links = (p.balance ?? p.prefer ?? []) as string[];
    const namesEvery = linkNames.every((n) => links.includes(n));
    return {
      name: p.name,
      kind: p.balance ? 'balance' : 'prefer',
      links,
      by: p.by ?? 'source',
      lastResort: p.last_resort ?? (namesEvery ? 'default' : 'unreachable'),
      failback: p.failback ?? 'keep',
    };
  });
  const traffic = (raw.traffic ?? []).map((t): TrafficRule => ({
    ...(t.from !== undefined ? { from: t.from } : {}),
    ...(t.to !== undefined ? { to: t.to } : {}),
    ...(t.proto !== undefined ? { proto: t.proto as Proto } : {}),
    ...(t.dport !== undefined ? { dport: portRange(t.dport) } : {}),
    ...(t.sport !== undefined ? { sport: portRange(t.sport) } : {}),
    ...(t.iif !== undefined ? { iif: t.iif } : {}),
    ...(t.dscp !== undefined ? { dscp: t.dscp } : {}),
    policy: t.policy,
  }));
  return { policies, traffic, ...(raw.default_policy !== undefined ? { defaultPolicy: raw.default_policy } : {}) };
}
