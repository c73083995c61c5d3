// `lan6` beside the links: RAs go to a LAN, never out of an uplink, and only prefixes of links that
// route IPv6 can be advertised.
import { familyOf } from '../model';
import { Locator, Segment } from './positions';
import { ConfigProblem, pathToString } from './problems';
import { RawConfig } from './raw';

/** haip repeats its RAs every 300 s: a shorter router lifetime would lapse between them. */
export const MIN_ROUTER_LIFETIME_S = 600;

export function lan6Problems(raw: RawConfig, locate: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const lan = raw.lan6;
  if (!lan || typeof lan !== 'object' || !Array.isArray(raw.links)) return out;
  const problem = (path: Segment[], message: string) => out.push({ where: locate(path), path: pathToString(path), message });
  const uplink = raw.links.find((l) => l && typeof l === 'object' && l.interface === lan.interface);
  if (uplink) problem(['lan6', 'interface'], `${lan.interface} is the interface of link "${uplink.name}": router advertisements go to the LAN, never to an uplink`);
  const six = raw.links.filter((l) => l && typeof l === 'object' && l.table !== undefined && (l.probe?.targets ?? raw.probe?.targets ?? []).some((t) => typeof t === 'string' && familyOf(t) === 6));
  if (!uplink && !six.length) problem(['lan6'], 'no link routes IPv6 delegated prefixes (a table and IPv6 probe targets): there is nothing to advertise');
  const life = lan.router_lifetime;
  if (typeof life === 'number' && life > 0 && life < MIN_ROUTER_LIFETIME_S)
    problem(['lan6', 'router_lifetime'], `must be 0 or at least ${MIN_ROUTER_LIFETIME_S}: haip repeats its router advertisements every 300 s, and hosts would lose the default route between them`);
  return out;
}
