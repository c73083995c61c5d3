// Which link carries the default route: the lowest weight among UP links, config order breaking ties;
// with none up, a DEGRADED one (answering, beyond a quality limit).
// With no link up, the current route stays (a host with a stale route beats a host with none).
import { Choice, LinkHealth } from './model';

export interface Candidate {
  name: string;
  weight: number;
  health: LinkHealth;
}

function lightest(links: Candidate[], state: Candidate['health']['state']): Candidate | undefined {
  let best: Candidate | undefined;
  for (const l of links) if (l.health.state === state && (!best || l.weight < best.weight)) best = l;
  return best;
}

export function selectRoute(links: Candidate[], current: string | null): Choice {
  const best = lightest(links, 'up');
  if (!best) {
    // A degraded link beats none, and a degraded link carrying the route keeps it against another degraded one.
    const fallback = links.find((l) => l.name === current && l.health.state === 'degraded') ?? lightest(links, 'degraded');
    if (fallback)
      return {
        active: fallback.name,
        reason: fallback.name === current ? `no link is within its quality limits; keeping ${current}, degraded` : `no link is within its quality limits; ${fallback.name} is degraded (${fallback.health.reason}) but answers`,
      };
    if (links.some((l) => l.health.state === 'unknown')) return { active: current, reason: 'waiting for the first probe rounds' };
    return { active: current, reason: current ? `every link is down; keeping the default route on ${current}` : 'every link is down' };
  }
  if (best.name === current) return { active: current, reason: `${current} is the best link that is up` };
  const was = links.find((l) => l.name === current);
  let reason: string;
  if (!was) reason = `${best.name} is the best link that is up (weight ${best.weight})`;
  else if (was.health.state !== 'up') reason = `${current} is ${was.health.state} (${was.health.reason}); ${best.name} is the best link that is up`;
  else reason = `${best.name} is up and preferred (weight ${best.weight} < ${was.weight})`;
  return { active: best.name, reason };
}
