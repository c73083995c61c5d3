// Delegated prefixes haip will not route, with the reason, for status: learned ones the DHCPv6 client's
// record offered but src/net/pd.ts refused (malformed, not a delegation, overlapping another link's),
// and configured ones another link owns first (src/net/ownership.ts). Pure.
import { Conflict } from './ownership';
import { PdRefusal } from './pd';

export interface RefusedPrefix6 {
  link: string;
  prefix: string;
  /** From the DHCPv6 client's record (true) or the config's prefixes6. */
  learned: boolean;
  why: string;
}

export function refusedPrefixes6(learned: PdRefusal[], conflicts: Conflict[]): RefusedPrefix6[] {
  const owned = conflicts
    .filter((c) => c.family === 6 && c.delegated && c.prefix)
    .map((c) => ({ link: c.link, prefix: c.prefix!, learned: false, why: `link "${c.owner}" owns it (or a prefix overlapping it) first: no source rule` }));
  return [...learned.map((r) => ({ link: r.link, prefix: r.prefix, learned: true, why: r.why })), ...owned];
}
