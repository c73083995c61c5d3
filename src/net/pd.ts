// Delegated IPv6 prefixes learned from the DHCPv6 client, for links without `prefixes6`. The client's
// hook (etc/dhcpcd/70-haip for dhcpcd) leaves one kernel record per delegated prefix in main:
//     unreachable 2001:db8:1:100::/56 dev lo proto dhcp metric 7202      (7200 + the uplink's ifindex)
// The prefix itself comes from the ISP: it is checked here before it routes anything, and a prefix that
// could capture another link's traffic is refused, never installed. Pure: records and facts in, prefixes out.
import { isIPv6 } from 'node:net';
import { InterfaceFacts, LinkConfig, Route } from '../model';
import { networkOf6 } from './address';

/** A record's metric is this plus the ifindex of the uplink whose DHCPv6 client was delegated the prefix. */
export const PD_METRIC_BASE = 7200;
/** ISPs delegate one prefix, rarely two: more from one uplink is refused rather than routed. */
export const MAX_LEARNED_PER_LINK = 4;
/** Delegations are /48 (a site) to /64 (one LAN); anything wider or narrower is not a delegation. */
export const PD_MIN_LEN = 48;
export const PD_MAX_LEN = 64;

/** Where records are read: main's IPv6 unreachable routes of proto dhcp (the kernel filters the dump). */
export const READ_DELEGATIONS = ['-6', '-j', '-N', 'route', 'show', 'table', 'main', 'type', 'unreachable', 'proto', 'dhcp'];

export interface LearnedPrefix6 {
  prefix: string;
  /** The record it was read from, for the log, status and plan. */
  from: string;
}

export interface PdRefusal {
  link: string;
  prefix: string;
  why: string;
}

export interface Learned6 {
  byLink: Map<string, LearnedPrefix6[]>;
  refused: PdRefusal[];
}

/** A link learns its delegated prefixes when its config lists none and it has a table to route them into. */
export const learnsPrefixes6 = (link: LinkConfig): boolean => link.prefixes6 === undefined && link.table !== undefined;

const overlap = (a: string, b: string): boolean => {
  const [na, la] = a.split('/');
  const [nb, lb] = b.split('/');
  const len = Math.min(Number(la ?? 128), Number(lb ?? 128));
  return networkOf6(na, len) === networkOf6(nb, len);
};

/** Why an ISP's prefix cannot be a delegated prefix, or undefined when it can. */
export function badDelegation(prefix: string): string | undefined {
  const [address, len, extra] = prefix.split('/');
  if (extra !== undefined || len === undefined || !/^\d{1,3}$/.test(len) || !isIPv6(address)) return 'not an IPv6 prefix';
  const bits = Number(len);
  if (bits < PD_MIN_LEN || bits > PD_MAX_LEN) return `/${bits} is not a delegation (/${PD_MIN_LEN} to /${PD_MAX_LEN})`;
  if (networkOf6(address, 3) !== '2000::/3') return 'not global unicast (2000::/3)';
  if (networkOf6(address, bits) !== prefix) return 'host bits set';
  return undefined;
}

/** What another link owns: its prefixes6, source6 and the prefixes of its WAN's global addresses. */
function claimsOf(link: LinkConfig, interfaces: Map<string, InterfaceFacts>): string[] {
  const wan = interfaces.get(link.interface)?.addresses6 ?? [];
  return [...(link.prefixes6 ?? []), ...(link.source6 ? [link.source6] : []), ...wan.map((a) => networkOf6(a.address, a.prefixlen))];
}

/**
 * Each learning link's delegated prefixes from the records (`links`: the links probing IPv6). A record
 * belongs to the first learning link on the interface its metric names; records of other interfaces are
 * not haip's business. Refused: a malformed, non-global or oddly sized prefix, one overlapping what
 * another link owns or another link's learned prefix (both refused: neither ISP may capture the other's
 * hosts), and those past MAX_LEARNED_PER_LINK.
 */
export function learnPrefixes6(links: LinkConfig[], records: Route[], interfaces: Map<string, InterfaceFacts>): Learned6 {
  const byIndex = new Map<number, string>();
  for (const i of interfaces.values()) if (i.index !== undefined) byIndex.set(i.index, i.name);
  const refused: PdRefusal[] = [];
  const candidates: { link: LinkConfig; p: LearnedPrefix6 }[] = [];
  for (const r of records) {
    if (r.family !== 6 || r.type !== 'unreachable' || r.metric === undefined) continue;
    const dev = byIndex.get(r.metric - PD_METRIC_BASE);
    const link = links.find((l) => l.interface === dev && learnsPrefixes6(l));
    if (!link) continue;
    const why = badDelegation(r.dst);
    if (why) refused.push({ link: link.name, prefix: r.dst, why });
    else if (!candidates.some((c) => c.link === link && c.p.prefix === r.dst)) candidates.push({ link, p: { prefix: r.dst, from: `${dev}'s DHCPv6 client (unreachable ${r.dst} proto dhcp metric ${r.metric})` } });
  }
  const byLink = new Map<string, LearnedPrefix6[]>();
  for (const { link, p } of candidates) {
    const owner = links.find((l) => l !== link && claimsOf(l, interfaces).some((c) => overlap(c, p.prefix)));
    const rival = candidates.find((c) => c.link !== link && overlap(c.p.prefix, p.prefix));
    if (owner) refused.push({ link: link.name, prefix: p.prefix, why: `overlaps what link "${owner.name}" owns` });
    else if (rival) refused.push({ link: link.name, prefix: p.prefix, why: `overlaps ${rival.p.prefix}, delegated to link "${rival.link.name}"` });
    else {
      const mine = byLink.get(link.name) ?? [];
      if (mine.length < MAX_LEARNED_PER_LINK) byLink.set(link.name, [...mine, p]);
      else refused.push({ link: link.name, prefix: p.prefix, why: `more than ${MAX_LEARNED_PER_LINK} delegated prefixes` });
    }
  }
  return { byLink, refused };
}

/** The log lines for what changed between two learnings: prefixes learned, moved or gone, and new refusals. */
export function learnedNotes(before: Learned6, now: Learned6): { level: 'notice' | 'warning'; text: string }[] {
  const notes: { level: 'notice' | 'warning'; text: string }[] = [];
  const list = (xs: LearnedPrefix6[] | undefined) => (xs ?? []).map((x) => x.prefix).join(', ');
  for (const name of new Set([...before.byLink.keys(), ...now.byLink.keys()])) {
    const [was, is] = [list(before.byLink.get(name)), list(now.byLink.get(name))];
    if (was === is) continue;
    const from = now.byLink.get(name)?.[0]?.from;
    notes.push({ level: 'notice', text: `${name}: delegated IPv6 prefixes ${was || 'none'} -> ${is || 'none'}${from ? `, learned from ${from}` : ''}` });
  }
  const key = (r: PdRefusal) => `${r.link} ${r.prefix} ${r.why}`;
  const old = new Set(before.refused.map(key));
  for (const r of now.refused)
    if (!old.has(key(r))) notes.push({ level: 'warning', text: `${r.link}: delegated IPv6 prefix ${r.prefix} refused: ${r.why}; it routes nothing` });
  return notes;
}

export const NOTHING_LEARNED: Learned6 = { byLink: new Map(), refused: [] };
