// The LAN side of an IPv6 failover (`lan6`): which of the LAN's /64s haip advertises, and how, in its own
// router advertisements. A LAN /64 is haip's to advertise only when the router holds an address in it on
// the LAN interface and it lies inside one link's delegated prefixes (prefixes6, configured or learned,
// not refused): nothing else ever goes into an RA. While that link's IPv6 is down and another link's
// prefix on the LAN is alive, the /64 goes out with preferred lifetime 0, so hosts keep their address
// (connections still open stay) but pick the live prefix for new ones (RFC 6724 rule 3); it returns
// with its normal lifetimes. A /64 that leaves the LAN is withdrawn (preferred 0, valid 0) a few times.
// Lifetimes follow RFC 9096: never more than ND_VALID_LIMIT / ND_PREFERRED_LIMIT, and never more than the
// delegation still has (the router's LAN address in the /64 counts the lease down when a DHCPv6 client
// numbered it), so hosts drop a prefix the ISP took back instead of holding it for days.
// Pure: the LAN's addresses, the links' prefixes and health in; entries and the packet's bytes out.
import { InterfaceFacts, LinkState } from '../model';

/** The router's global IPv6 addresses as the observation reads them, lifetimes left included. */
type Addresses6 = NonNullable<InterfaceFacts['addresses6']>;
import { networkOf6, parse6 } from './address';
import { covers } from './effective';

/** RFC 9096 ND_VALID_LIMIT and ND_PREFERRED_LIMIT: the most an advertised /64's lifetimes say. */
export const VALID_S = 5_400;
export const PREFERRED_S = 2_700;
/** A lease's expiry moving by more than this (renewed, or cut by the ISP) is a change the LAN hears at once. */
export const LEASE_SLACK_MS = 10_000;
/** SLAAC numbers hosts from /64s only (RFC 4862 with Ethernet's 64-bit interface identifiers). */
export const SLAAC_LEN = 64;
/** How many RAs carry a withdrawn /64 before it is forgotten (an RA is multicast: one may be lost). */
export const WITHDRAW_SENDS = 3;
/** More PIOs than this in one RA is not a LAN haip routes (each link has at most a few delegations). */
export const MAX_PREFIXES = 16;

export type AdvertState = 'preferred' | 'deprecated' | 'withdrawn';

export interface AdvertEntry {
  /** The LAN's /64, in the kernel's form. */
  prefix: string;
  /** The link whose delegated prefix holds it. */
  link: string;
  state: AdvertState;
  /** Why it is in this state, for the log and status. */
  why: string;
  /** withdrawn only: RAs still to carry it. */
  sendsLeft?: number;
}

export interface LanInput {
  /** The router's global IPv6 addresses on the LAN interface (not tentative or deprecated). */
  addresses: { address: string; prefixlen: number }[];
  /** The links probing IPv6: their delegated prefixes (refused ones left out) and IPv6 health. */
  links: { name: string; prefixes: string[]; state: LinkState }[];
  /** Deprecate a down link's /64 while another is alive. */
  deprecate: boolean;
}

export interface LanPlan {
  entries: AdvertEntry[];
  /** LAN addresses inside a delegated prefix that cannot be advertised, with the reason. */
  skipped: { address: string; why: string }[];
}

/** Alive for the LAN: answering (degraded links still carry traffic), or not judged yet. */
const alive = (s: LinkState) => s !== 'down';

/**
 * What the LAN interface's RAs say now, given what they said before (`previous`): one entry per /64 of
 * the router's LAN addresses inside exactly one link's delegated prefixes, and the /64s that left.
 */
export function planLan(input: LanInput, previous: AdvertEntry[]): LanPlan {
  const skipped: LanPlan['skipped'] = [];
  const found: { prefix: string; link: string; state: LinkState }[] = [];
  for (const a of input.addresses) {
    const owners = input.links.filter((l) => l.prefixes.some((p) => covers(p, a.address, 6)));
    if (!owners.length) continue; // not haip's: the admin's own or ULA prefixes are the admin's RA daemon's
    if (owners.length > 1) {
      skipped.push({ address: a.address, why: `inside the delegated prefixes of ${owners.map((o) => o.name).join(' and ')}` });
      continue;
    }
    if (a.prefixlen !== SLAAC_LEN) {
      skipped.push({ address: a.address, why: `/${a.prefixlen}: hosts number themselves (SLAAC) from a /64 only` });
      continue;
    }
    const prefix = networkOf6(a.address, SLAAC_LEN);
    if (!found.some((f) => f.prefix === prefix)) found.push({ prefix, link: owners[0].name, state: owners[0].state });
  }
  // In the links' order, whatever order the kernel lists the LAN's addresses in.
  const rank = (f: { link: string }) => input.links.findIndex((l) => l.name === f.link);
  found.sort((a, b) => rank(a) - rank(b) || (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  const kept = found.slice(0, MAX_PREFIXES);
  for (const f of found.slice(MAX_PREFIXES)) skipped.push({ address: f.prefix, why: `more than ${MAX_PREFIXES} prefixes on the LAN` });
  // Deprecating is worth it only when hosts have a live prefix to move to; with every uplink down the
  // prefixes stay as they are (like the default route), and nothing flaps when they return.
  const someAlive = kept.some((f) => alive(f.state));
  const entries: AdvertEntry[] = kept.map((f) => {
    if (input.deprecate && !alive(f.state) && someAlive) return { prefix: f.prefix, link: f.link, state: 'deprecated', why: `${f.link}'s IPv6 is down` };
    const why = alive(f.state) ? `${f.link}'s IPv6 is ${f.state === 'unknown' ? 'not judged yet' : f.state}` : `${f.link}'s IPv6 is down, but no other prefix on the LAN is alive`;
    return { prefix: f.prefix, link: f.link, state: 'preferred', why };
  });
  for (const p of previous) {
    if (entries.some((e) => e.prefix === p.prefix)) continue;
    const sendsLeft = p.state === 'withdrawn' ? (p.sendsLeft ?? 0) : WITHDRAW_SENDS;
    if (sendsLeft > 0) entries.push({ prefix: p.prefix, link: p.link, state: 'withdrawn', why: p.state === 'withdrawn' ? p.why : 'the router no longer holds an address in it on the LAN', sendsLeft });
  }
  return { entries, skipped };
}

/** The entries after one RA carried them: each withdrawn /64 has one send fewer to go. */
export function afterSend(entries: AdvertEntry[]): AdvertEntry[] {
  return entries.flatMap((e) => (e.state !== 'withdrawn' ? [e] : (e.sendsLeft ?? 0) > 1 ? [{ ...e, sendsLeft: (e.sendsLeft ?? 0) - 1 }] : []));
}

/** Whether two plans advertise the same thing (a withdrawn entry's countdown is not a change). */
export function sameAdverts(a: AdvertEntry[], b: AdvertEntry[]): boolean {
  const key = (xs: AdvertEntry[]) => xs.map((e) => `${e.prefix} ${e.link} ${e.state}`).join('\n');
  return key(a) === key(b);
}

export interface RaPrefix {
  prefix: string;
  validS: number;
  preferredS: number;
}

/** What the delegation behind a /64 still allows: when the router's LAN address in it expires (ms); absent: never. */
export interface Lease {
  validUntil?: number;
  preferredUntil?: number;
}

/** Per /64, the latest expiry among the router's LAN addresses in it, from the seconds left at a read at `now`. */
export function leasesOf(addresses: Addresses6, now: number): Map<string, Lease> {
  // Forever is Infinity here, so the latest expiry is a plain max; it is undefined again on the way out.
  const until = (s: number | undefined) => (s === undefined ? Infinity : now + s * 1000);
  const latest = new Map<string, { valid: number; preferred: number }>();
  for (const a of addresses) {
    if (a.prefixlen !== SLAAC_LEN) continue;
    const prefix = networkOf6(a.address, SLAAC_LEN);
    const seen = latest.get(prefix) ?? { valid: -Infinity, preferred: -Infinity };
    latest.set(prefix, { valid: Math.max(seen.valid, until(a.validS)), preferred: Math.max(seen.preferred, until(a.preferredS)) });
  }
  const finite = (t: number) => (t === Infinity ? undefined : t);
  return new Map([...latest].map(([p, l]) => [p, { validUntil: finite(l.valid), preferredUntil: finite(l.preferred) }]));
}

/** The /64s whose lease moved by more than LEASE_SLACK_MS between two reads (a renewal, or the ISP cutting it short). */
export function leasesMoved(before: Map<string, Lease>, after: Map<string, Lease>): string[] {
  const moved = (a: number | undefined, b: number | undefined) => (a === undefined) !== (b === undefined) || (a !== undefined && b !== undefined && Math.abs(a - b) > LEASE_SLACK_MS);
  return [...after].filter(([p, l]) => before.has(p) && (moved(before.get(p)!.validUntil, l.validUntil) || moved(before.get(p)!.preferredUntil, l.preferredUntil))).map(([p]) => p);
}

/** The lifetimes each state puts on the wire at `now`: capped by RFC 9096's limits and by the lease. */
export function lifetimesOf(e: AdvertEntry, lease: Lease | undefined = undefined, now = 0): RaPrefix {
  const left = (until: number | undefined, limit: number) => (until === undefined ? limit : Math.max(0, Math.min(limit, Math.floor((until - now) / 1000))));
  const validS = left(lease?.validUntil, VALID_S);
  if (e.state === 'preferred') return { prefix: e.prefix, validS, preferredS: Math.min(validS, left(lease?.preferredUntil, PREFERRED_S)) };
  // Valid stays: the address and the connections on it live on; only new connections move.
  if (e.state === 'deprecated') return { prefix: e.prefix, validS, preferredS: 0 };
  // RFC 7084 L-13: a prefix that left is advertised with both lifetimes 0 (hosts keep it 2 h at most).
  return { prefix: e.prefix, validS: 0, preferredS: 0 };
}

const ND_ROUTER_ADVERT = 134;
const ND_OPT_PREFIX_INFORMATION = 3;
/** L (on-link) and A (autonomous address configuration). */
const PIO_FLAGS = 0x80 | 0x40;

/**
 * The ICMPv6 router advertisement (RFC 4861 4.2) carrying `prefixes`, checksum 0 (the kernel fills it in
 * for raw ICMPv6 sockets). Current hop limit, reachable time and retransmit timer are 0 (unspecified: the
 * hosts keep theirs), M and O clear, no options besides the prefixes.
 */
export function buildRouterAdvert(routerLifetimeS: number, prefixes: RaPrefix[]): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt8(ND_ROUTER_ADVERT, 0);
  header.writeUInt16BE(Math.min(Math.max(0, Math.round(routerLifetimeS)), 9000), 6);
  const options = prefixes.slice(0, MAX_PREFIXES).map((p) => {
    const [address, len] = p.prefix.split('/');
    const o = Buffer.alloc(32);
    o.writeUInt8(ND_OPT_PREFIX_INFORMATION, 0);
    o.writeUInt8(4, 1); // in units of 8 bytes
    o.writeUInt8(Number(len), 2);
    o.writeUInt8(PIO_FLAGS, 3);
    o.writeUInt32BE(p.validS >>> 0, 4);
    o.writeUInt32BE(Math.min(p.preferredS, p.validS) >>> 0, 8);
    addressBytes(address).copy(o, 16);
    return o;
  });
  return Buffer.concat([header, ...options]);
}

function addressBytes(address: string): Buffer {
  const b = Buffer.alloc(16);
  let n = parse6(address);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return b;
}

/**
 * The prefix information options of a router advertisement another router sent on the LAN (read only to
 * warn that it advertises haip's prefixes too). Bytes from the LAN: options are walked within the packet,
 * a zero or overlong length ends the walk, and at most MAX_PREFIXES are taken.
 */
export function prefixesOf(packet: Buffer): RaPrefix[] {
  const out: RaPrefix[] = [];
  if (packet.length < 16 || packet[0] !== ND_ROUTER_ADVERT) return out;
  for (let o = 16; o + 8 <= packet.length && out.length < MAX_PREFIXES; ) {
    const len = packet[o + 1] * 8;
    if (len === 0 || o + len > packet.length) break;
    if (packet[o] === ND_OPT_PREFIX_INFORMATION && len === 32 && packet[o + 2] <= 128) {
      const groups = Array.from({ length: 8 }, (_, i) => packet.readUInt16BE(o + 16 + 2 * i).toString(16));
      out.push({ prefix: networkOf6(groups.join(':'), packet[o + 2]), validS: packet.readUInt32BE(o + 4), preferredS: packet.readUInt32BE(o + 8) });
    }
    o += len;
  }
  return out;
}
