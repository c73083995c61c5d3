// Where an IPv6 uplink's probes come from. With SLAAC the WAN holds a global address; with the usual
// ISP router setup (RFC 7084) it holds only a link-local one and the customer's prefix, delegated by
// DHCPv6-PD, lives on the LAN: the router then speaks from its own LAN address inside that prefix.
import { InterfaceFacts, LinkConfig } from '../model';
import { networkOf6 } from './address';

export interface Source6 {
  address: string;
  prefixlen: number;
  /** The interface holding it, when not the link's own (an unnumbered WAN). */
  on?: string;
}

const inside = (address: string, prefix: string): boolean => {
  const [net, len] = prefix.split('/');
  return networkOf6(address, Number(len)) === networkOf6(net, Number(len));
};

/**
 * The link's IPv6 source: `source6` wherever the router holds it (the WAN first), else the WAN's first
 * global address, else (unnumbered WAN) the router's first address inside one of the link's delegated
 * prefixes (configured or learned), on any interface, in the order the interfaces are listed.
 */
export function chooseSource6(link: LinkConfig, wan: InterfaceFacts | undefined, all: Iterable<InterfaceFacts> = [], prefixes = link.prefixes6 ?? []): Source6 | undefined {
  const own = wan?.addresses6 ?? [];
  const others = [...all].filter((i) => i.name !== link.interface);
  const elsewhere = (match: (a: string) => boolean): Source6 | undefined => {
    for (const i of others) {
      const a = (i.addresses6 ?? []).find((x) => match(x.address));
      if (a) return { address: a.address, prefixlen: a.prefixlen, on: i.name };
    }
    return undefined;
  };
  if (link.source6) {
    const a = own.find((x) => x.address === link.source6);
    return a ? { address: a.address, prefixlen: a.prefixlen } : elsewhere((x) => x === link.source6);
  }
  if (own[0]) return { address: own[0].address, prefixlen: own[0].prefixlen };
  return prefixes.length ? elsewhere((x) => prefixes.some((p) => inside(x, p))) : undefined;
}
