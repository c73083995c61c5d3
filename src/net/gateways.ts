// Gateways learned from the kernel for links whose config names none: the default route that a DHCP
// client (dhcpcd, udhcpc, dhclient through haip's exit hook), systemd-networkd, NetworkManager or an
// admin installed for the link's interface, in any table, at any metric. Pure: observation in, one
// learned gateway per link out.
import { InterfaceFacts, LinkConfig, Route, routeToString } from '../model';
import { networkOf } from './address';

/** The interfaces whose routes are read to learn a gateway: those of links without one in the config. */
export function gatewayDevices(config: { links: { interface: string; gateway?: string }[] }): string[] {
  return config.links.filter((l) => !l.gateway).map((l) => l.interface);
}

export interface LearnedGateway {
  gateway: string;
  /** The route it was learned from, for the log and status. */
  from: string;
  /** Outside every prefix of the interface: the client's route said `onlink` or a host route reached it. */
  onlink?: boolean;
}

/** Does `gateway` lie inside a prefix of one of the interface's addresses (or is it a peer)? */
export function reachableFrom(iface: InterfaceFacts, gateway: string): boolean {
  return iface.addresses.some(
    (a) => a.peer?.split('/')[0] === gateway || (a.prefixlen < 32 && networkOf(a.address, a.prefixlen) === networkOf(gateway, a.prefixlen)),
  );
}

/** A route without a gateway through `dev` covering `gateway` (option 121's `GW/32 dev IF` as dhcpcd and networkd install it). */
export function linkRouteTo(gateway: string, dev: string, routes: Route[]): boolean {
  if (gateway.includes(':')) return false;
  return routes.some((r) => {
    if (r.family === 6 || r.dev !== dev || r.gateway || r.type || r.dst === 'default') return false;
    const [net, len] = r.dst.split('/');
    const bits = len === undefined ? 32 : Number(len);
    return networkOf(net, bits) === networkOf(gateway, bits);
  });
}

/**
 * The best foreign default route through `dev` with a gateway: lowest metric, main first. The kernel
 * holds only routes whose gateway it can reach: inside a prefix, `onlink` (netplan's on-link, networkd's
 * GatewayOnLink, a hoster's /32), or through a host route to it (DHCP option 121 as dhcpcd installs it).
 */
export function gatewayRoute(dev: string, iface: InterfaceFacts, routes: Route[], protocol: number, mainTable: number): Route | undefined {
  const candidates = routes.filter(
    (r) => r.dst === 'default' && !r.type && r.dev === dev && r.gateway && r.protocol !== protocol && (reachableFrom(iface, r.gateway) || r.onlink || linkRouteTo(r.gateway, dev, routes)),
  );
  const rank = (r: Route) => [r.metric ?? 0, r.table === mainTable ? -1 : r.table];
  candidates.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1];
  });
  return candidates[0];
}

/**
 * One learned gateway per link that has no `gateway` in its config. A gateway stays learned while it
 * stays inside a prefix of the interface (an on-link one while the link's address stays), so a client's route that haip takes over in main (same
 * metric) or that the client briefly removes while renewing does not make the link unusable; a move to
 * another subnet forgets it until the client's new route shows.
 *
 * @param routes foreign and own routes through the links' interfaces (any table).
 * @param previous what the last call returned.
 */
export function learnGateways(
  links: LinkConfig[],
  interfaces: Map<string, InterfaceFacts>,
  routes: Route[],
  previous: Map<string, LearnedGateway>,
  protocol: number,
  mainTable: number,
): Map<string, LearnedGateway> {
  const out = new Map<string, LearnedGateway>();
  for (const link of links) {
    if (link.gateway) continue;
    const iface = interfaces.get(link.interface);
    const address = link.source ?? iface?.addresses[0]?.address;
    if (!iface || !address || !iface.addresses.some((a) => a.address === address)) continue;
    const route = gatewayRoute(link.interface, iface, routes, protocol, mainTable);
    if (route) {
      const learned: LearnedGateway = { gateway: route.gateway!, from: routeToString(route) };
      if (!reachableFrom(iface, route.gateway!)) learned.onlink = true;
      out.set(link.name, learned);
      continue;
    }
    const before = previous.get(link.name);
    if (before && (before.onlink || reachableFrom(iface, before.gateway))) out.set(link.name, before);
  }
  return out;
}
