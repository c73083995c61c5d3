// One bounded counter per link (keepalived's vrrp_track): `down` bad rounds in a row take an UP link
// DOWN, `up` good rounds in a row bring a DOWN link back, and the first round decides an UNKNOWN link.
import { LinkHealth } from '../model';

export interface Thresholds {
  up: number;
  down: number;
}

export function initialHealth(now: number): LinkHealth {
  return { state: 'unknown', streak: 0, since: now, reason: 'starting' };
}

export function stepHealth(h: LinkHealth, ok: boolean, t: Thresholds, now: number, detail = ''): LinkHealth {
  const why = detail ? `: ${detail}` : '';
  switch (h.state) {
    case 'unknown':
      return ok
        ? { state: 'up', streak: 0, since: now, reason: `first probe round answered${why}` }
        : { state: 'down', streak: 0, since: now, reason: `first probe round failed${why}` };
    case 'up':
    case 'degraded': // answering, if badly: failed rounds take it down as they take an UP link
      if (ok) return h.streak === 0 ? h : { ...h, streak: 0 };
      if (h.streak + 1 >= t.down)
        return { state: 'down', streak: 0, since: now, reason: `${t.down} failed probe round${t.down > 1 ? 's' : ''} in a row${why}` };
      return { ...h, streak: h.streak + 1 };
    case 'down':
      if (!ok) return h.streak === 0 ? h : { ...h, streak: 0 };
      if (h.streak + 1 >= t.up)
        return { state: 'up', streak: 0, since: now, reason: `${t.up} good probe round${t.up > 1 ? 's' : ''} in a row${why}` };
      return { ...h, streak: h.streak + 1 };
  }
}

/** Carrier loss, a vanished interface or a lost address: down at once, no probes needed. */
export function forceDown(h: LinkHealth, reason: string, now: number): LinkHealth {
  if (h.state === 'down') return h.streak === 0 ? h : { ...h, streak: 0 };
  return { state: 'down', streak: 0, since: now, reason };
}
