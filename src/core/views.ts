// The views step of a pass: config + observation -> each link's view (source, gateway, why unusable),
// and what a changed view does to the link's health. Pure: the daemon applies the result and tells
// the notes.
import { forceDown, initialHealth } from '../health/hysteresis';
import { Config, Family, LinkConfig, LinkHealth } from '../model';
import { LinkView, learnedGateway6, viewLink, viewLink6 } from '../net/desired';
import { LearnedGateway } from '../net/gateways';
import { Learned6, NOTHING_LEARNED } from '../net/pd';
import { Observation } from '../net/router';
import { fam } from './announce';

/** The link's view in this family, from the observation, (IPv4) the learned gateways and (IPv6) the learned delegated prefixes. */
export function viewFor(family: Family, link: LinkConfig, obs: Observation, learned: Map<string, LearnedGateway>, config: Config, learned6: Learned6 = NOTHING_LEARNED): LinkView {
  const iface = obs.interfaces.get(link.interface);
  return family === 6
    ? viewLink6(link, iface, learnedGateway6(link, obs.net.routes, config), obs.interfaces.values(), learned6.byLink.get(link.name))
    : viewLink(link, iface, learned.get(link.name));
}

export interface ViewNote {
  level: 'warning' | 'notice';
  text: string;
}

export interface ViewStep {
  health: LinkHealth;
  notes: ViewNote[];
  /** The interface may be a new one under the old name: probes bound to the old one are dropped. */
  forgetProbes: boolean;
}

/**
 * What a new view does to a link: an unusable link is down with the reason; a link usable again with
 * a new address, or a gateway other than the one it had, starts without history (its first round
 * decides, as at start); carrier back, or a gateway back after a loss (a router lifetime of 0, a learned
 * gateway that vanished), keeps it down until `up` good rounds. The reason of a link down for its view
 * always says the current view. `seen`: the previous view came from the kernel (the first reading is
 * not a change to tell).
 */
export function foldView(family: Family, link: LinkConfig, before: LinkView, view: LinkView, health: LinkHealth, seen: boolean, now: number): ViewStep {
  const notes: ViewNote[] = [];
  let forgetProbes = false;
  if (family === 6 && view.gateway !== before.gateway && view.learnedFrom && view.gateway)
    notes.push({ level: 'notice', text: `${link.name}: IPv6 gateway ${before.gateway ? `${before.gateway} -> ` : ''}${view.gateway}, learned from the kernel's default route via ${view.learnedFrom}` });
  if (view.unusable) {
    if (view.unusable !== before.unusable && seen) notes.push({ level: 'warning', text: `${link.name}: ${fam(family)}${view.unusable}` });
    // Already down (no address, then a gateway it cannot use): the reason follows the view, never stale.
    const down = forceDown(health, view.unusable, now);
    health = down.reason === view.unusable ? down : { ...down, reason: view.unusable };
  } else if (before.unusable) {
    if (seen) notes.push({ level: 'notice', text: `${link.name}: ${link.interface} is usable again for ${family === 6 ? 'IPv6' : 'IPv4'} (source ${view.source})` });
    // A lost gateway (undefined while unusable) coming back is not a new one.
    const renewed = !before.source || before.source !== view.source || (before.gateway !== undefined && before.gateway !== view.gateway);
    if (renewed) health = { ...initialHealth(now), reason: `${link.interface} appeared` };
    else if (health.state === 'down') {
      const { up } = link.probe;
      health = { ...health, reason: `${link.interface} is usable again; down until ${up} good probe round${up > 1 ? 's' : ''} in a row` };
    }
    forgetProbes = true;
  } else if (before.source !== view.source) {
    notes.push({ level: 'notice', text: `${link.name}: ${fam(family)}source address ${before.source} -> ${view.source}` });
  }
  return { health, notes, forgetProbes };
}
