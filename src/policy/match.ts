// Traffic rules as nftables lookups: consecutive rules of one shape (the same fields, one family) that do
// not overlap become one map, so a hundred rules cost one lookup, not a hundred; an overlap starts a new
// map, which keeps "first match wins". The same rules answer `haip which` for one flow.
import { isIPv4 } from 'node:net';
import { parse6 } from '../net/address';
import { Proto, TrafficRule } from './types';

export type RuleFamily = 4 | 6 | 'any';
type Field = 'iif' | 'from' | 'to' | 'proto' | 'sport' | 'dport' | 'dscp';
/** Key order in every map. */
const FIELDS: Field[] = ['iif', 'from', 'to', 'proto', 'sport', 'dport', 'dscp'];

export const PROTO_NUMBER: Record<Proto, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 };

/** One rule as one family sees it (a rule without addresses but with dscp has an entry per family). */
export interface Entry {
  index: number;
  family: RuleFamily;
  rule: TrafficRule;
}

export interface Run {
  family: RuleFamily;
  fields: Field[];
  entries: Entry[];
}

const familyOfAddress = (a: string): 4 | 6 => (isIPv4(a.split('/')[0]) ? 4 : 6);

export function ruleFamily(r: TrafficRule): RuleFamily {
  const a = r.from ?? r.to;
  if (a) return familyOfAddress(a);
  if (r.proto === 'icmp') return 4;
  if (r.proto === 'icmpv6') return 6;
  return 'any';
}

export function entries(rules: TrafficRule[]): Entry[] {
  return rules.flatMap((rule, index): Entry[] => {
    const family = ruleFamily(rule);
    // dscp sits in a family's own header: a rule for both families needs a lookup in each.
    if (family === 'any' && rule.dscp !== undefined) return [4, 6].map((f) => ({ index, family: f as 4 | 6, rule }));
    return [{ index, family, rule }];
  });
}

const fieldsOf = (r: TrafficRule) => FIELDS.filter((f) => r[f] !== undefined);

/** An address or prefix as (network bits, length, width). */
function prefix(p: string): { n: bigint; len: number; width: number } {
  const [a, l] = p.split('/');
  const width = isIPv4(a) ? 32 : 128;
  const n = width === 32 ? a.split('.').reduce((acc, o) => (acc << 8n) + BigInt(Number(o)), 0n) : parse6(a);
  return { n, len: l === undefined ? width : Number(l), width };
}

/** Whether `addr` lies inside `pfx` (both of one family). */
export function inPrefix(addr: string, pfx: string): boolean {
  const a = prefix(addr);
  const p = prefix(pfx);
  if (a.width !== p.width) return false;
  const shift = BigInt(p.width - p.len);
  return a.n >> shift === p.n >> shift;
}

function prefixesOverlap(a: string, b: string): boolean {
  const pa = prefix(a);
  const pb = prefix(b);
  return pa.len <= pb.len ? inPrefix(b.split('/')[0], a) : inPrefix(a.split('/')[0], b);
}

const rangesOverlap = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];

/** Whether one packet could match both rules (of one shape). */
export function overlap(a: TrafficRule, b: TrafficRule): boolean {
  return fieldsOf(a).every((f) => {
    if (f === 'from' || f === 'to') return prefixesOverlap(a[f]!, b[f]!);
    if (f === 'sport' || f === 'dport') return rangesOverlap(a[f]!, b[f]!);
    return a[f] === b[f];
  });
}

/** The rules in order as runs: one map lookup each. */
export function runs(rules: TrafficRule[]): Run[] {
  const out: Run[] = [];
  for (const e of entries(rules)) {
    const fields = fieldsOf(e.rule);
    const last = out[out.length - 1];
    const same = last && last.family === e.family && last.fields.join() === fields.join() && fields.length > 0;
    if (same && !last.entries.some((x) => overlap(x.rule, e.rule))) last.entries.push(e);
    else out.push({ family: e.family, fields, entries: [e] });
  }
  return out;
}

const ip = (f: RuleFamily) => (f === 6 ? 'ip6' : 'ip');

/** The nft expression and element type of each field. */
function fieldSyntax(f: Field, family: RuleFamily): { expr: string; type: string } {
  switch (f) {
    case 'iif':
      return { expr: 'iifname', type: 'ifname' };
    case 'from':
      return { expr: `${ip(family)} saddr`, type: family === 6 ? 'ipv6_addr' : 'ipv4_addr' };
    case 'to':
      return { expr: `${ip(family)} daddr`, type: family === 6 ? 'ipv6_addr' : 'ipv4_addr' };
    case 'proto':
      return { expr: 'meta l4proto', type: 'inet_proto' };
    case 'sport':
      return { expr: 'th sport', type: 'inet_service' };
    case 'dport':
      return { expr: 'th dport', type: 'inet_service' };
    case 'dscp':
      return { expr: `${ip(family)} dscp`, type: 'dscp' };
  }
}

function fieldValue(f: Field, r: TrafficRule): string {
  const v = r[f]!;
  if (f === 'iif') return `"${v}"`;
  if (f === 'proto') return String(PROTO_NUMBER[v as Proto]);
  if (Array.isArray(v)) return v[0] === v[1] ? String(v[0]) : `${v[0]}-${v[1]}`;
  return String(v);
}

const ranged = (run: Run) => run.entries.some((e) => run.fields.some((f) => (f === 'from' || f === 'to' ? e.rule[f]!.includes('/') : (f === 'sport' || f === 'dport') && e.rule[f]![0] !== e.rule[f]![1])));

/**
 * nft text for the runs: the maps (declared in the table) and the classify chain's rules. `verdict`
 * names the chain of a rule's policy.
 */
export function classifyText(rules: TrafficRule[], verdict: (policy: string) => string): { maps: string[]; rules: string[] } {
  const maps: string[] = [];
  const lines: string[] = [];
  runs(rules).forEach((run, n) => {
    const guard = run.family === 'any' || run.fields.some((f) => f === 'from' || f === 'to') ? '' : `meta nfproto ${run.family === 6 ? 'ipv6' : 'ipv4'} `;
    const target = (e: Entry) => `goto ${verdict(e.rule.policy)}`;
    if (!run.fields.length) {
      lines.push(`${guard}${target(run.entries[0])} comment "traffic[${run.entries[0].index}]"`);
      return;
    }
    const syntax = run.fields.map((f) => fieldSyntax(f, run.family));
    const name = `traffic_${n}`;
    const elements = run.entries.map((e) => `${run.fields.map((f) => fieldValue(f, e.rule)).join(' . ')} : ${target(e)}`);
    const flags = ranged(run) ? ' flags interval;' : '';
    maps.push(`\tmap ${name} {\n\t\ttype ${syntax.map((s) => s.type).join(' . ')} : verdict;${flags}\n\t\telements = { ${elements.join(',\n\t\t\t')} }\n\t}`);
    const which = run.entries.map((e) => e.index);
    const span = which.length > 1 ? `traffic[${which[0]}..${which[which.length - 1]}]` : `traffic[${which[0]}]`;
    lines.push(`${guard}${syntax.map((s) => s.expr).join(' . ')} vmap @${name} comment "${span}"`);
  });
  return { maps, rules: lines };
}

/** A flow as `haip which` describes it; unset fields are unknown, and rules that test them do not match. */
export interface Flow {
  from?: string;
  to?: string;
  proto?: Proto;
  sport?: number;
  dport?: number;
  iif?: string;
  dscp?: number;
}

export function flowFamily(flow: Flow): 4 | 6 | undefined {
  const a = flow.from ?? flow.to;
  return a ? familyOfAddress(a) : undefined;
}

/** Whether a rule matches a flow: every field the rule gives must be known in the flow and match. */
export function matches(r: TrafficRule, flow: Flow): boolean {
  const fam = ruleFamily(r);
  const ff = flowFamily(flow);
  if (fam !== 'any' && ff !== undefined && fam !== ff) return false;
  return fieldsOf(r).every((f) => {
    const v = flow[f];
    if (v === undefined) return false;
    if (f === 'from' || f === 'to') return familyOfAddress(String(v)) === familyOfAddress(r[f]!) && inPrefix(String(v), r[f]!);
    if (f === 'sport' || f === 'dport') return (v as number) >= r[f]![0] && (v as number) <= r[f]![1];
    return v === r[f];
  });
}

/** The first rule that matches, and its index; undefined when none does. */
export function firstMatch(rules: TrafficRule[], flow: Flow): { index: number; rule: TrafficRule } | undefined {
  const index = rules.findIndex((r) => matches(r, flow));
  return index < 0 ? undefined : { index, rule: rules[index] };
}
