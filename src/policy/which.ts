// `haip which`: for one flow, the traffic rule that matches, its policy, the uplink the flow takes now and
// why, from the running daemon's status.json (its decisions) and the kernel's own hash.
import { isIPv4, isIPv6 } from 'node:net';
import { Family } from '../model';
import { activeOf, StatusDoc } from '../status';
import { neutralise } from '../sys/text';
import { homeBuckets } from './assign';
import { jhashMod } from './jhash';
import { Flow, flowFamily, firstMatch, PROTO_NUMBER } from './match';
import { PolicyStatus } from './status';
import { TrafficRule } from './types';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

function addressBytes(a: string): number[] {
  if (isIPv4(a)) return a.split('.').map(Number);
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = parseInt(g || '0', 16);
    return [n >> 8, n & 255];
  });
}

/** The bytes nft hashes: each field in a 4-byte register of its own, zero-padded (a port is 2 bytes, the protocol 1). */
export function hashKey(flow: Flow, by: 'source' | 'connection'): Uint8Array | undefined {
  if (!flow.from) return undefined;
  if (by === 'source') return Uint8Array.from(addressBytes(flow.from));
  if (!flow.to || !flow.proto || flow.sport === undefined || flow.dport === undefined) return undefined;
  const port = (p: number) => [p >> 8, p & 255, 0, 0];
  return Uint8Array.from([...addressBytes(flow.from), ...addressBytes(flow.to), PROTO_NUMBER[flow.proto], 0, 0, 0, ...port(flow.sport), ...port(flow.dport)]);
}

const describeRule = (r: TrafficRule) =>
  Object.entries(r)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? (v[0] === v[1] ? v[0] : `${v[0]}-${v[1]}`) : v}`)
    .join(', ');

function describeFlow(f: Flow): string {
  const port = (p?: number) => (p === undefined ? '' : `:${p}`);
  return `${f.proto ?? 'any protocol'} ${f.from ?? '?'}${port(f.sport)} -> ${f.to ?? '?'}${port(f.dport)}${f.iif ? ` in ${f.iif}` : ''}${f.dscp !== undefined ? ` dscp ${f.dscp}` : ''}`;
}

/** The report's lines; `ok` false when the flow cannot be placed (no status of policies, no family). */
export function whichReport(doc: StatusDoc, flow: Flow): { lines: string[]; ok: boolean } {
  const lines = [`flow: ${describeFlow(flow)}`];
  for (const a of [flow.from, flow.to]) if (a !== undefined && !isIPv4(a) && !isIPv6(a)) return { lines: [...lines, `not an address: ${a}`], ok: false };
  const family: Family | undefined = flowFamily(flow);
  if (!family) return { lines: [...lines, 'give --from or --to: the family decides the maps'], ok: false };
  const main = activeOf(doc, family);
  const followMain = `the main ${family === 6 ? 'IPv6 ' : ''}default route (${main ?? 'none chosen'})`;
  const p = doc.policies;
  if (!p) return { lines: [...lines, `no policies configured: the flow follows ${followMain}`], ok: true };
  const hit = firstMatch(p.traffic, flow);
  let policyName: string;
  if (hit) {
    const earlier = hit.index ? `; traffic[0..${hit.index - 1}] do not match` : '';
    lines.push(`rule: traffic[${hit.index}] { ${describeRule(hit.rule)} } (first match${earlier})`);
    policyName = hit.rule.policy;
  } else if (p.default_policy) {
    lines.push(`rule: none of the ${p.traffic.length} traffic rules matches: default_policy`);
    policyName = p.default_policy;
  } else {
    lines.push(`rule: none of the ${p.traffic.length} traffic rules matches`, `uplink: ${followMain}`);
    return { lines, ok: true };
  }
  const pol = p.policies.find((x) => x.name === policyName)!;
  lines.push(`policy: ${pol.name}: ${pol.kind} [${pol.links.map((l) => l.name).join(', ')}]${pol.kind === 'balance' ? ` by ${pol.by}` : ''}, last resort ${pol.last_resort}`);
  const fam = pol.families.find((x) => x.family === family);
  if (!fam) {
    lines.push(`uplink: haip routes no IPv${family} through its links, so policies leave this flow alone: ${followMain}`);
    return { lines, ok: true };
  }
  const usable = fam.usable.length ? `usable now: ${fam.usable.join(', ')}` : 'no link of the policy is usable now';
  let link: string | null | undefined;
  let why: string;
  if (pol.kind === 'prefer') {
    link = fam.chosen;
    why = link ? (link === pol.links[0].name ? 'the first link of the list, and usable' : `${pol.links.slice(0, pol.links.findIndex((l) => l.name === link)).map((l) => l.name).join(', ')} not usable`) : '';
  } else {
    const key = hashKey(flow, pol.by ?? 'source');
    if (!key) {
      const spread = new Map<string, number>();
      for (const b of fam.buckets ?? []) if (b) spread.set(b, (spread.get(b) ?? 0) + 1);
      lines.push(`uplink: depends on the ${pol.by === 'connection' ? 'whole connection (give --from, --to, --proto, --sport, --dport)' : 'source (give --from)'}; buckets now: ${[...spread].map(([l, n]) => `${l} ${n}`).join(', ') || 'none'}; ${usable}`);
      return { lines, ok: true };
    }
    const bucket = jhashMod(key, p.buckets, p.hash_seed);
    link = fam.buckets?.[bucket];
    const home = homeBuckets(pol.links.map((l) => ({ name: l.name, share: l.share })))[bucket];
    why = `jhash(${pol.by === 'connection' ? 'the connection' : flow.from}) mod ${p.buckets} = bucket ${bucket}, whose home is ${home}${link && link !== home ? `; ${home} is not usable, so the bucket is on ${link} until ${home} returns` : ''}`;
  }
  if (link) {
    const l = pol.links.find((x) => x.name === link)!;
    lines.push(`uplink: ${link} (mark ${l.mark === null ? '?' : hex(l.mark)}, table ${l.table ?? '?'}): ${why}; ${usable}`);
    lines.push('(an existing connection keeps the uplink it started on until that link goes down)');
  } else lines.push(pol.last_resort === 'unreachable' ? `uplink: none: refused (last_resort: unreachable); ${usable}` : `uplink: ${followMain} (last_resort: default); ${usable}`);
  return { lines: lines.map((x) => neutralise(x)), ok: true };
}

/** `haip status`'s lines about policies. */
export function policyLines(p: PolicyStatus, six: boolean): string[] {
  const head = `policy ${p.name} (${p.kind}${p.kind === 'balance' ? ` by ${p.by}` : ''}, last resort ${p.last_resort})`;
  const out: string[] = [];
  for (const f of p.families) {
    const label = six ? ` IPv${f.family}` : '';
    let now: string;
    if (p.kind === 'prefer') now = f.chosen ? `uses ${f.chosen}` : 'no usable link';
    else {
      const n = new Map<string, number>();
      for (const b of f.buckets ?? []) if (b) n.set(b, (n.get(b) ?? 0) + 1);
      now = n.size ? `buckets ${[...n].map(([l, c]) => `${l} ${c}`).join(', ')}` : 'no usable link';
    }
    out.push(`${head}${label}: ${now}; usable: ${f.usable.join(', ') || 'none'}`);
  }
  if (!p.families.length) out.push(`${head}: not decided yet`);
  const conns = p.links.map((l) => `${l.name} ${l.connections ?? '-'}`).join(', ');
  out.push(`  connections: ${conns}`);
  return out.map((x) => neutralise(x));
}
