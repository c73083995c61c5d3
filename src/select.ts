// Which link carries the default route: the lowest weight among UP links that are not held back by
// damping, config order breaking ties, and a tie never taking the route from the link carrying it. A
// held-back link is used only when no other link is up, a DEGRADED one (answering, beyond a quality
// limit) only when no link is up at all. With no link answering, the current route stays (a host with a
// stale route beats a host with none).
import { Choice, LinkHealth } from './model';

export interface Candidate {
  name: string;
  weight: number;
  health: LinkHealth;
  /** Why damping holds the link back ("held back 20 s: 4 failures in 10 min"), if it does. */
  held?: string;
}

/** Lower is better: up and unheld, then up and held, then degraded; then the weight. */
const rank = (c: Candidate): [number, number] => [c.health.state === 'degraded' ? 2 : c.held ? 1 : 0, c.weight];
const better = (a: Candidate, b: Candidate) => rank(a)[0] < rank(b)[0] || (rank(a)[0] === rank(b)[0] && rank(a)[1] < rank(b)[1]);
const answers = (c: Candidate) => c.health.state === 'up' || c.health.state === 'degraded';

export function selectRoute(links: Candidate[], current: string | null): Choice {
  let best: Candidate | undefined;
  for (const l of links) if (answers(l) && (!best || better(l, best))) best = l;
  if (!best) {
    if (links.some((l) => l.health.state === 'unknown')) return { active: current, reason: 'waiting for the first probe rounds' };
    return { active: current, reason: current ? `every link is down; keeping the default route on ${current}` : 'every link is down' };
  }
  const was = links.find((l) => l.name === current);
  // Only a strictly better link takes the route from the one carrying it.
  if (was && answers(was) && !better(best, was))
    return { active: current, reason: was.health.state === 'degraded' ? `no link is within its quality limits; keeping ${current}, degraded` : `${current} is the best link that is up` };
  if (best.health.state === 'degraded')
    return { active: best.name, reason: `no link is within its quality limits; ${best.name} is degraded (${best.health.reason}) but answers` };
  if (!was) return { active: best.name, reason: `${best.name} is the best link that is up (weight ${best.weight})${best.held ? `, though ${best.held}` : ''}` };
  if (was.health.state !== 'up')
    return { active: best.name, reason: `${current} is ${was.health.state} (${was.health.reason}); ${best.name} is the best link that is up${best.held ? `, though ${best.held}` : ''}` };
  if (was.held && !best.held) return { active: best.name, reason: `${best.name} is up and ${current} is ${was.held}` };
  return { active: best.name, reason: `${best.name} is up and preferred (weight ${best.weight} < ${was.weight})` };
}
