// The checks of `policies:`, `traffic:` and `default_policy` that a schema cannot express: names that must
// be known or unique, lists that must hold links with tables, port ranges the right way up, families that
// agree, and marks that fit in mark_mask.
import { isIPv4 } from 'node:net';
import { planMarks } from '../policy/marks';
import { DEFAULTS } from './convert';
import { portRange } from './policyConvert';
import { Locator, Segment } from './positions';
import { ConfigProblem, pathToString } from './problems';
import { RawConfig } from './raw';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export function policyProblems(raw: RawConfig, locate: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const problem = (path: Segment[], message: string) => out.push({ where: locate(path), path: pathToString(path), message });
  const policies = Array.isArray(raw.policies) ? raw.policies : [];
  const traffic = Array.isArray(raw.traffic) ? raw.traffic : [];
  const links = raw.links.filter((l) => l && typeof l === 'object');
  const linkNames = links.map((l) => l.name);
  const names = new Map<string, number>();
  const lists: { name: string; links: string[]; lastResort: 'unreachable' | 'default' }[] = [];
  policies.forEach((p, i) => {
    if (!p || typeof p !== 'object') return;
    if (typeof p.name === 'string') {
      if (names.has(p.name)) problem(['policies', i, 'name'], `duplicate policy name "${p.name}" (also policies[${names.get(p.name)}])`);
      else names.set(p.name, i);
    }
    const kinds = (['balance', 'prefer'] as const).filter((k) => p[k] !== undefined);
    if (kinds.length !== 1) {
      problem(['policies', i], kinds.length ? 'give balance or prefer, not both' : 'needs balance: [LINKS] or prefer: [LINKS]');
      return;
    }
    const kind = kinds[0];
    const list = p[kind];
    if (!Array.isArray(list)) return;
    if (!list.length) problem(['policies', i, kind], 'an empty list: name at least one link');
    const seen = new Set<string>();
    list.forEach((name, j) => {
      if (typeof name !== 'string') return;
      const at: Segment[] = ['policies', i, kind, j];
      const link = links.find((l) => l.name === name);
      if (!link) problem(at, `unknown link "${name}" (links: ${linkNames.join(', ') || 'none'})`);
      else if (link.table === undefined) problem(at, `link "${name}" has no table: a policy routes its traffic by the link's table`);
      if (seen.has(name)) problem(at, `link "${name}" is named twice`);
      seen.add(name);
    });
    if (p.by !== undefined && kind !== 'balance') problem(['policies', i, 'by'], 'by is for balance policies: prefer sends everything to one link');
    if (p.failback === 'move' && kind !== 'prefer') problem(['policies', i, 'failback'], 'failback: move is for prefer policies: a balance policy gives a returning link exactly its own hosts back');
    const named = list.filter((n): n is string => typeof n === 'string');
    lists.push({ name: String(p.name), links: [...new Set(named)], lastResort: p.last_resort ?? (linkNames.every((n) => named.includes(n)) ? 'default' : 'unreachable') });
  });
  const knownPolicy = (v: unknown, path: Segment[]) => {
    if (typeof v === 'string' && !names.has(v)) problem(path, `unknown policy "${v}" (policies: ${[...names.keys()].join(', ') || 'none'})`);
  };
  traffic.forEach((t, i) => {
    if (!t || typeof t !== 'object') return;
    knownPolicy(t.policy, ['traffic', i, 'policy']);
    for (const key of ['dport', 'sport'] as const) {
      const v = t[key];
      if (v === undefined || (typeof v !== 'number' && typeof v !== 'string')) continue;
      if (typeof v === 'string' && !/^[0-9]{1,5}-[0-9]{1,5}$/.test(v)) continue; // the schema reports it
      const [lo, hi] = portRange(v);
      if (lo < 1 || hi > 65535) problem(['traffic', i, key], `ports run from 1 to 65535, not ${v}`);
      else if (lo > hi) problem(['traffic', i, key], `the range ${v} is upside down: write ${hi}-${lo}`);
      if (!['tcp', 'udp', 'sctp'].includes(String(t.proto))) problem(['traffic', i, key], `${key} needs proto tcp, udp or sctp`);
    }
    const fam = (a: unknown) => (typeof a === 'string' ? (isIPv4(a.split('/')[0]) ? 4 : 6) : undefined);
    const from = fam(t.from);
    const to = fam(t.to);
    if (from && to && from !== to) problem(['traffic', i, 'to'], `from is IPv${from} and to IPv${to}: a rule matches one family`);
    const family = from ?? to;
    if (family === 6 && t.proto === 'icmp') problem(['traffic', i, 'proto'], 'icmp with IPv6 addresses: IPv6 uses icmpv6');
    if (family === 4 && t.proto === 'icmpv6') problem(['traffic', i, 'proto'], 'icmpv6 with IPv4 addresses: IPv4 uses icmp');
    if (typeof t.iif === 'string' && /["\\]/.test(t.iif)) problem(['traffic', i, 'iif'], 'an interface with " or \\ cannot be named in nftables');
  });
  knownPolicy(raw.default_policy, ['default_policy']);
  if (!names.size) return out;
  links.forEach((l, i) => {
    if (typeof l.interface === 'string' && /["\\]/.test(l.interface)) problem(['links', i, 'interface'], 'policies cannot name an interface with " or \\ in nftables');
  });
  const mask = typeof raw.mark_mask === 'number' ? raw.mark_mask >>> 0 : DEFAULTS.markMask;
  const linkMarks = raw.links.map((l, i) => (l && typeof l.mark === 'number' ? l.mark : i + 1));
  const plan = planMarks(mask, linkMarks, lists);
  if (!plan.fits) {
    const pairs = lists.reduce((n, p) => n + p.links.length, 0);
    const refuses = lists.some((p) => p.lastResort === 'unreachable');
    problem(raw.mark_mask !== undefined ? ['mark_mask'] : ['policies'],
      `policies need ${plan.needed} marks (${new Set(linkMarks).size} for the links, ${pairs} for the links of the policies${refuses ? ', 1 for refused traffic' : ''}), but mark_mask ${hex(mask)} holds ${plan.available}: widen mark_mask`);
  }
  return out;
}
