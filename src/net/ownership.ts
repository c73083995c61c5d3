// Addresses and prefixes have one owner: a source address or prefix that two uplinks claim (isp1's lease
// renumbering the router to isp2's address, isp1's RA advertising isp2's or the LAN's prefix), or a
// link's address inside another link's prefix, belongs to the link that had it first (in config order
// when both appear at once). The newcomer gets no source rule for it: its `from X lookup T` at a lower
// priority would carry the owner's traffic into the newcomer's table. A delegated prefix (`prefixes6`)
// is a claim too, and the admin's word outranks what an upstream hands out: configured prefixes come
// first. Pure: claims and the owners so far in, owners and conflicts out.
import { Family, NetState } from '../model';
import { networkOf6 } from './address';
import { covers } from './effective';

export interface Claim {
  link: string;
  family: Family;
  /** The source address. */
  address: string;
  /** Its connected prefix (configured or learned), when it has one. */
  prefix?: string;
  /** A delegated prefix from the config (`prefixes6`): `address` is its first address. */
  delegated?: boolean;
}

export interface Conflict {
  /** The newcomer, which gets no source rule. */
  link: string;
  family: Family;
  address: string;
  delegated?: boolean;
  /** delegated: the prefix itself, in the kernel's form. */
  prefix?: string;
  owner: string;
  /** One line naming both links. */
  text: string;
}

/**
 * What a link's source rule selects: its IPv4 address, its IPv6 prefix (SLAAC gives several addresses).
 * Two links overlap when one's selector holds the other's address. Two IPv4 links with different
 * addresses in one subnet (two modems on 192.168.1.0/24) do not: each rule holds one address.
 */
const selector = (c: Claim) => (c.family === 6 && c.prefix ? c.prefix : c.address);
/** What a claim is called in a warning: a delegated prefix by itself, anything else by its address. */
const named = (c: Claim) => (c.delegated ? `the delegated prefix ${c.prefix}` : c.address);

function overlap(a: Claim, b: Claim): string | undefined {
  if (a.family !== b.family) return undefined;
  if (a.delegated && b.delegated && a.prefix === b.prefix) return `the delegated prefix ${a.prefix}`;
  if (a.delegated || b.delegated) {
    // Aligned prefixes meet only when one holds the other's first address.
    if (covers(selector(b), a.address, a.family) || covers(selector(a), b.address, a.family)) return `${named(a)} and ${named(b)}, which overlap`;
    return undefined;
  }
  if (a.address === b.address) return `the address ${a.address}`;
  if (selector(b) !== b.address && covers(selector(b), a.address, a.family)) return `${a.address} inside ${selector(b)}`;
  if (selector(a) !== a.address && covers(selector(a), b.address, a.family)) return `${b.address} inside ${selector(a)}`;
  return undefined;
}

const keyOf = (c: Claim) => `${c.family}|${c.link}|${c.delegated ? c.prefix : c.address}`;

/**
 * @param claims in config order.
 * @param seen the claims held at the last call (keys from `keyOf`), in the order they appeared.
 */
export function owners(claims: Claim[], seen: string[]): { seen: string[]; conflicts: Conflict[] } {
  const rank = (c: Claim) => {
    const i = seen.indexOf(keyOf(c));
    const order = i < 0 ? seen.length + claims.indexOf(c) : i;
    return c.delegated ? order - seen.length - claims.length : order;
  };
  const ordered = [...claims].sort((a, b) => rank(a) - rank(b));
  const conflicts: Conflict[] = [];
  const kept: Claim[] = [];
  for (const c of ordered) {
    const clash = kept.map((k) => ({ k, why: overlap(c, k) })).find((x) => x.why && x.k.link !== c.link);
    if (!clash) {
      kept.push(c);
      continue;
    }
    conflicts.push({
      link: c.link,
      family: c.family,
      address: c.address,
      ...(c.delegated ? { delegated: true, prefix: c.prefix } : {}),
      owner: clash.k.link,
      text: `${c.link} and ${clash.k.link} both claim ${clash.why}: it stays ${clash.k.link}'s (${clash.k.delegated ? 'delegated to it in the config' : 'first seen there'}), ${c.link} gets no source rule for ${selector(c)}`,
    });
  }
  return { seen: ordered.map(keyOf), conflicts };
}

/** The desired state without the newcomers' source rules. */
export function withoutConflictedSources(state: NetState, conflicts: Conflict[], tableOf: (link: string) => number | undefined, claims: Claim[]): NetState {
  if (!conflicts.length) return state;
  const drop = conflicts.map((c) => {
    const claim = claims.find((x) => x.link === c.link && x.family === c.family && x.address === c.address && !!x.delegated === !!c.delegated);
    return { family: c.family, table: tableOf(c.link), from: [c.address, claim?.prefix].filter((x): x is string => !!x) };
  });
  const rules = state.rules.filter((r) => !drop.some((d) => d.table === r.table && (r.family ?? 4) === d.family && r.from !== undefined && d.from.includes(r.from)));
  return { ...state, rules };
}

/**
 * The claims of haip's views: every usable link's source, with its connected prefix, and (IPv6) its
 * delegated prefixes in the kernel's form, which get source rules under the same condition.
 */
export function claimsOf(
  lanes: { family: Family; views: { link: { name: string; prefixes6?: string[] }; source?: string; connected?: string; unusable?: string }[] }[],
): Claim[] {
  return lanes.flatMap((l) =>
    l.views.flatMap((v): Claim[] => {
      if (!v.source || v.unusable) return [];
      const own: Claim = { link: v.link.name, family: l.family, address: v.source, ...(v.connected ? { prefix: v.connected } : {}) };
      const delegated = l.family === 6 ? (v.link.prefixes6 ?? []).map((p) => networkOf6(p.split('/')[0], Number(p.split('/')[1]))) : [];
      return [own, ...delegated.map((prefix) => ({ link: v.link.name, family: 6 as const, address: prefix.split('/')[0], prefix, delegated: true }))];
    }),
  );
}

/** The conflicts not told at the last call: each warning is logged once while its conflict lasts. */
export function freshConflicts(told: Set<string>, conflicts: Conflict[]): { fresh: Conflict[]; told: Set<string> } {
  return { fresh: conflicts.filter((c) => !told.has(c.text)), told: new Set(conflicts.map((c) => c.text)) };
}
