// Replies leave by the uplink their connection came in on (issue 20). A connection arriving on an uplink
// (a port forward to a LAN server, a service on the router) gets that uplink's mark, with or without
// sticky; every later packet of it gets the mark back (prerouting for the LAN server's answers, output
// for the router's own), and the link's fwmark rule routes it by the link's table. Without this the
// answers follow main's default route out of another uplink, from the arrival uplink's address, and
// that ISP drops them (BCP 38). These rules go into haip's one table, `inet haip` (nft.ts).
import { Config } from '../model';
import { linkMark, markMask } from './desired';

export const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export interface MarkedLink {
  name: string;
  interface: string;
  mark: number;
}

/** The links whose connections carry a mark: those with a table for their fwmark rule to route by. */
export function markedLinks(config: Config): MarkedLink[] {
  return config.links.flatMap((l, i) => (l.table === undefined ? [] : [{ name: l.name, interface: l.interface, mark: linkMark(config, i) }]));
}

/**
 * `meta mark set meta mark & ~mask | MARK`: only the bits in mark_mask are written, so other users of
 * fwmark keep theirs (nft 1.0 cannot merge two registers, hence constants per link). With the whole
 * mark haip's, `mark & 0 | x` is just `x`.
 */
export function setMark(config: Config, what: 'meta mark' | 'ct mark', mark: number): string {
  const keep = ~markMask(config) >>> 0;
  return keep ? `${what} set ${what} & ${hex(keep)} | ${hex(mark)}` : `${what} set ${hex(mark)}`;
}

/** prerouting and output: a marked connection's packets get its mark, so its link's fwmark rule routes them. */
export function restoreRules(config: Config): string[] {
  const mask = markMask(config);
  return markedLinks(config).map(({ name, mark }) => `ct mark & ${hex(mask)} == ${hex(mark)} ${setMark(config, 'meta mark', mark)} comment "${name}: restore"`);
}

/**
 * prerouting: a new connection arriving on an uplink is that uplink's, and so is its first packet (the
 * reverse-path check of rp_filter=1 looks it up with this mark when src_valid_mark is on, see rpfilter.ts).
 */
export function incomingRules(config: Config): string[] {
  return markedLinks(config).map(
    ({ name, interface: dev, mark }) => `ct state new iifname "${dev}" ${setMark(config, 'ct mark', mark)} ${setMark(config, 'meta mark', mark)} comment "${name}: incoming"`,
  );
}
