// The effective route is the truth: what the kernel does for the router's traffic, read with
// `ip route get fibmatch` for a fixed sample of addresses and the probe targets, with and without each
// link's source, compared with haip's choice. Pure: lookups in, routes to move and problems out.
import { Family, familyLink, InterfaceFacts, LinkConfig, Route, routeToString } from '../model';
import { networkOf, networkOf6 } from './desired';

/**
 * Where the router's traffic for "anywhere" is sampled: spread over the IPv4 unicast space (no 0/8, 127/8
 * or multicast) and over IPv6's global unicast 2000::/3. Only looked up, never sent to.
 */
export const SAMPLES: Record<Family, readonly string[]> = {
  4: ['1.0.0.1', '17.0.0.1', '33.0.0.1', '49.0.0.1', '65.0.0.1', '81.0.0.1', '97.0.0.1', '113.0.0.1', '129.0.0.1', '145.0.0.1', '161.0.0.1', '177.0.0.1', '193.0.0.1', '209.0.0.1', '223.0.0.1'],
  6: ['2001::1', '2400::1', '2600::1', '2800::1', '2a00::1', '2c00::1', '3000::1', '3ffe::1'],
};

/** A foreign route shorter than this carries traffic meant for the default route (`shadow_prefix`). */
export const DEFAULT_SHADOW_PREFIX: Record<Family, number> = { 4: 8, 6: 16 };

/** RTPROT_KERNEL: the connected route of an address, never drift. */
const KERNEL_PROTO = 2;

/** One `ip route get fibmatch DST [from SRC]`: the route that matched, or none (unreachable). */
export interface Lookup {
  family: Family;
  dst: string;
  from?: string;
  /** The link whose source `from` is. */
  link?: string;
  route?: Route;
}

/** What the check needs to know of a link. */
export interface LinkFacts {
  link: LinkConfig;
  family: Family;
  source?: string;
  /** Carries traffic in haip's view (up, or the best there is). */
  usable: boolean;
}

export interface EffectiveInput {
  family: Family;
  links: LinkFacts[];
  /** The link haip chose for the default route, or null. */
  active: string | null;
  mainTable: number;
  protocol: number;
  shadowPrefix: Record<Family, number>;
}

/** The queries of one family: the samples and every probe target, then each source's. */
export function lookupsFor(family: Family, links: LinkFacts[]): Lookup[] {
  const targets = links.flatMap((l) => l.link.probe.targets.map(targetAddress).filter((a): a is string => !!a && familyOfAddress(a) === family));
  const dsts = [...new Set([...SAMPLES[family], ...targets])];
  const out: Lookup[] = dsts.map((dst) => ({ family, dst }));
  for (const l of links) if (l.family === family && l.source && l.link.table !== undefined) for (const dst of dsts) out.push({ family, dst, from: l.source, link: l.link.name });
  return out;
}

/** The address inside a probe target (`tcp://[2001:db8::1]:443`, `dns://198.18.0.53/x`, `198.18.0.1`). */
export function targetAddress(target: string): string | undefined {
  const m = /^[a-z]+:\/\/(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))/.exec(target);
  if (m) return m[1] ?? m[2];
  return /^[0-9a-fA-F:.]+$/.test(target) ? target : undefined;
}

const familyOfAddress = (a: string): Family => (a.includes(':') ? 6 : 4);

export function prefixLength(dst: string, family: Family): number {
  if (dst === 'default') return 0;
  const slash = dst.indexOf('/');
  return slash < 0 ? (family === 6 ? 128 : 32) : Number(dst.slice(slash + 1));
}

/** Does the prefix `dst` hold `address`? */
export function covers(dst: string, address: string, family: Family): boolean {
  const len = prefixLength(dst, family);
  const net = dst === 'default' ? undefined : dst.split('/')[0];
  if (net === undefined) return true;
  return family === 6 ? networkOf6(net, len) === networkOf6(address, len) : networkOf(net, len) === networkOf(address, len);
}

/**
 * A foreign route in main through an uplink's interface that takes traffic meant for the default route:
 * shorter than the limit, or covering a probe target. The kernel's connected routes never are.
 */
export function isShadow(r: Route, input: EffectiveInput, targets: string[]): LinkFacts | undefined {
  if (r.table !== input.mainTable || r.protocol === input.protocol || r.protocol === KERNEL_PROTO || r.dst === 'default' || r.type) return undefined;
  const owner = input.links.find((l) => l.family === input.family && l.link.interface === r.dev && l.link.table !== undefined);
  if (!owner) return undefined;
  const short = prefixLength(r.dst, input.family) < input.shadowPrefix[input.family];
  return short || targets.some((t) => covers(r.dst, t, input.family)) ? owner : undefined;
}

export interface Verdict {
  /** Foreign routes to take out of main, each with the link whose table gets it. */
  shadows: { route: Route; link: LinkFacts }[];
  /** What still goes another way than haip's choice, one line each. */
  problems: string[];
}

const key = (r: Route) => routeToString({ ...r, metric: undefined });

/** Compares the kernel's answers with haip's choice. */
export function judge(input: EffectiveInput, lookups: Lookup[]): Verdict {
  const targets = input.links.flatMap((l) => l.link.probe.targets.map(targetAddress)).filter((a): a is string => !!a && familyOfAddress(a) === input.family);
  const shadows = new Map<string, { route: Route; link: LinkFacts }>();
  const problems = new Map<string, string[]>();
  const byIface = (dev?: string) => input.links.find((l) => l.family === input.family && l.link.interface === dev);
  const active = input.links.find((l) => l.family === input.family && l.link.name === input.active);
  for (const q of lookups) {
    if (q.family !== input.family || !q.route) continue;
    const r = q.route;
    const owner = isShadow(r, input, targets);
    // Moved by this pass; a problem only while the move fails (the daemon trusts a pass that changed nothing).
    if (owner) shadows.set(key(r), { route: r, link: owner });
    // Longer foreign routes are the admin's or the ISP's business (one service through one link).
    const wide = !!owner || r.dst === 'default' || prefixLength(r.dst, input.family) < input.shadowPrefix[input.family];
    const via = byIface(r.dev);
    if (!wide || !via) continue;
    const fam = input.family === 6 ? 'IPv6 ' : '';
    // One line per way traffic goes wrong, naming its destinations (not one per sampled address).
    const add = (why: string) => {
      const k = `${fam}traffic to @${q.from ? ` from ${q.from}` : ''} goes by ${via.link.name} (${routeToString(r)}), ${why}`;
      problems.set(k, [...(problems.get(k) ?? []), q.dst]);
    };
    if (q.from) {
      const mine = input.links.find((l) => l.link.name === q.link);
      if (mine?.usable && via.link.name !== mine.link.name) add(`not by ${mine.link.name} whose address it is`);
    } else if (active && via.link.name !== active.link.name) add(`not by ${active.link.name}, haip's choice`);
    else if (!via.usable) add('which haip considers down');
  }
  const list = (d: string[]) => (d.length <= 2 ? d.join(' and ') : `${d.slice(0, 2).join(', ')} and ${d.length - 2} more`);
  return { shadows: [...shadows.values()], problems: [...problems].map(([k, d]) => k.replace('@', list(d))) };
}

/** The copy of a moved route in its link's table, as haip's. */
export function movedRoute(r: Route, table: number, protocol: number): Route {
  const m: Route = { ...r, table, protocol };
  delete m.metric;
  if (r.metric) m.metric = r.metric;
  return m;
}

/** Every family's queries, with each link's source as the interfaces hold it now. */
export function lookupsOf(links: LinkConfig[], families: Family[], interfaces: Map<string, InterfaceFacts>): Lookup[] {
  return families.flatMap((family) => lookupsFor(family, factsOf(links, family, interfaces, () => true)));
}

/** The check's view of the links of one family; `usable` says which haip considers able to carry traffic. */
export function factsOf(links: LinkConfig[], family: Family, interfaces: Map<string, InterfaceFacts>, usable: (link: string) => boolean): LinkFacts[] {
  return links.flatMap((l) => {
    const fl = familyLink(l, family);
    if (!fl) return [];
    const iface = interfaces.get(l.interface);
    const source = family === 6 ? (l.source6 ?? iface?.addresses6?.[0]?.address) : (l.source ?? iface?.addresses[0]?.address);
    return [{ link: fl, family, ...(source ? { source } : {}), usable: usable(l.name) }];
  });
}
