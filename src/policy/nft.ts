// Policies in haip's nftables table `inet haip`: the chains and maps that classify new connections and
// mark them for a link (static, a pure function of the config), and the map elements that follow the
// links' health (replaced alone, atomically, whenever a decision changes).
import { Config, Family } from '../model';
import { markMask } from '../net/desired';
import { BUCKETS, Decision } from './assign';
import { MarkPlan, pairMark, policyMarks } from './marks';
import { classifyText } from './match';
import { PolicyConfig } from './types';

/** The jhash seed: fixed, so a host keeps its bucket across restarts and `haip which` can compute it. */
export const HASH_SEED = 0x68616970;
export const POLICY_TABLE = 'inet haip';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export const policyChain = (config: Config, name: string) => `policy_${config.policies!.findIndex((p) => p.name === name)}`;
const bucketMap = (i: number, f: Family) => `policy_${i}_${f}`;
const preferMap = (i: number) => `policy_${i}`;

export function hasPolicies(config: Config): boolean {
  return !!config.policies?.length;
}

/** `x set x & keep | mark`, or a plain set when the whole mark is haip's. */
function setMark(config: Config, what: 'meta mark' | 'ct mark', mark: number): string {
  const keep = ~markMask(config) >>> 0;
  return keep ? `${what} set ${what} & ${hex(keep)} | ${hex(mark)}` : `${what} set ${hex(mark)}`;
}

function hashKey(p: PolicyConfig, f: Family): string {
  const ip = f === 6 ? 'ip6' : 'ip';
  return p.by === 'connection' ? `${ip} saddr . ${ip} daddr . meta l4proto . th sport . th dport` : `${ip} saddr`;
}

/**
 * The lines policies add inside `table inet haip { ... }` (empty without policies). Every map is
 * declared empty here; policyElements() fills them.
 */
export function policyLines(config: Config): string[] {
  if (!hasPolicies(config)) return [];
  const policies = config.policies!;
  const plan = policyMarks(config);
  const mask = hex(markMask(config));
  const marks = [...(plan.unreachable !== undefined ? [plan.unreachable] : []), ...plan.pairs.map((p) => p.mark)];
  const out: string[] = ['\tmap restore_4 {', '\t\ttype mark : verdict;', '\t}', '\tmap restore_6 {', '\t\ttype mark : verdict;', '\t}'];
  policies.forEach((p, i) => {
    // jhash yields a bare integer; `typeof meta cpu` is a 32-bit integer key that nft 1.0.6 also lists
    // back (it crashes listing `typeof jhash ...`).
    if (p.kind === 'balance') for (const f of [4, 6] as const) out.push(`\tmap ${bucketMap(i, f)} {`, '\t\ttypeof meta cpu : verdict;', '\t}');
    else out.push(`\tmap ${preferMap(i)} {`, '\t\ttype nf_proto : verdict;', '\t}');
  });
  const classify = classifyText(config.traffic ?? [], (name) => policyChain(config, name));
  out.push(...classify.maps);
  for (const m of marks) {
    // Refused traffic never gets the connection mark: once a link returns, the next packet is classified afresh.
    const ct = m === plan.unreachable ? '' : `${setMark(config, 'ct mark', m)} `;
    out.push(`\tchain set_${hex(m)} {`, `\t\t${ct}${setMark(config, 'meta mark', m)}`, '\t}');
    out.push(`\tchain mark_${hex(m)} {`, `\t\t${setMark(config, 'meta mark', m)}`, '\t}');
  }
  policies.forEach((p, i) => {
    out.push(`\tchain policy_${i} {`, `\t\tcomment "${p.name}"`);
    if (p.kind === 'prefer') out.push(`\t\tmeta nfproto vmap @${preferMap(i)}`);
    else for (const f of [4, 6] as const) out.push(`\t\tmeta nfproto ${f === 6 ? 'ipv6' : 'ipv4'} jhash ${hashKey(p, f)} mod ${BUCKETS} seed ${hex(HASH_SEED)} vmap @${bucketMap(i, f)}`);
    out.push('\t}');
  });
  out.push('\tchain policy_classify {', ...classify.rules.map((r) => `\t\t${r}`));
  if (config.defaultPolicy) out.push(`\t\tgoto ${policyChain(config, config.defaultPolicy)} comment "default_policy"`);
  out.push('\t}');
  const restore = [`\t\tmeta nfproto ipv4 ct mark & ${mask} vmap @restore_4`, `\t\tmeta nfproto ipv6 ct mark & ${mask} vmap @restore_6`];
  // Forwarded traffic with the refusing mark meets its `unreachable` rule (policy/rules.ts); the router's
  // own is refused here, before the reroute.
  const refuse = plan.unreachable !== undefined ? [`\t\tmeta mark & ${mask} == ${hex(plan.unreachable)} reject with icmpx admin-prohibited comment "last_resort: unreachable"`] : [];
  // Connections arriving on an uplink are answered through it (sticky's job, or the source rules): never classified.
  const uplinks = [...new Set(config.links.map((l) => `"${l.interface}"`))].join(', ');
  out.push('\tchain policy_prerouting {', '\t\ttype filter hook prerouting priority mangle + 1; policy accept;', ...restore);
  out.push(`\t\tct state new ct mark & ${mask} == 0x0 iifname != { ${uplinks} } jump policy_classify`, '\t}');
  out.push('\tchain policy_output {', '\t\ttype route hook output priority mangle + 1; policy accept;', ...restore);
  out.push(`\t\tct state new ct mark & ${mask} == 0x0 jump policy_classify`, ...refuse, '\t}');
  return out;
}

/** Where a policy sends what it cannot place: the refusing mark, or back to the main default route. */
function lastResortVerdict(p: PolicyConfig, plan: MarkPlan): string {
  return p.lastResort === 'unreachable' && plan.unreachable !== undefined ? `goto set_${hex(plan.unreachable)}` : 'return';
}

/**
 * The elements for the decisions of each family, as one nft script that flushes and refills every map
 * (one transaction: no packet sees a map half-filled). A family without decisions gets empty maps:
 * its traffic is not classified.
 */
export function policyElements(config: Config, decisions: Map<Family, Decision[]>, alive: (link: string, family: Family) => boolean): string {
  if (!hasPolicies(config)) return '';
  const plan = policyMarks(config);
  const out: string[] = [];
  const fill = (map: string, elements: string[]) => {
    out.push(`flush map ${POLICY_TABLE} ${map}`);
    if (elements.length) out.push(`add element ${POLICY_TABLE} ${map} { ${elements.join(', ')} }`);
  };
  const policies = config.policies!;
  const goto = (p: PolicyConfig, link: string | null | undefined) => {
    const m = link ? pairMark(plan, p.name, link) : undefined;
    return m !== undefined ? `goto set_${hex(m)}` : lastResortVerdict(p, plan);
  };
  for (const f of [4, 6] as const) {
    const ds = decisions.get(f);
    const restore: string[] = [];
    if (ds)
      for (const pm of plan.pairs) {
        const p = policies.find((x) => x.name === pm.policy)!;
        // A connection stays on its link until the link dies; then a refusing policy refuses it.
        if (alive(pm.link, f)) restore.push(`${hex(pm.mark)} : jump mark_${hex(pm.mark)}`);
        else if (p.lastResort === 'unreachable' && plan.unreachable !== undefined) restore.push(`${hex(pm.mark)} : jump mark_${hex(plan.unreachable)}`);
      }
    fill(`restore_${f}`, restore);
    policies.forEach((p, i) => {
      if (p.kind !== 'balance') return;
      const d = ds?.find((x) => x.policy === p.name);
      fill(bucketMap(i, f), d?.buckets ? d.buckets.map((link, b) => `${b} : ${goto(p, link)}`) : []);
    });
  }
  policies.forEach((p, i) => {
    if (p.kind !== 'prefer') return;
    const elements: string[] = [];
    for (const f of [4, 6] as const) {
      const d = decisions.get(f)?.find((x) => x.policy === p.name);
      if (d) elements.push(`${f === 6 ? 'ipv6' : 'ipv4'} : ${goto(p, d.chosen)}`);
    }
    fill(preferMap(i), elements);
  });
  return out.join('\n') + '\n';
}
