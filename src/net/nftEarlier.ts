// Recognises the `inet haip` table haip 0.1.0 wrote: the same three chains and haip's own rule comments,
// but no marker comment (the marker came later). Such a table is haip's and is taken over on start; an
// `inet haip` with anything else in it (another chain, a set, a counter, a rule of any other shape, a
// comment that is not haip's) stays someone else's. Works on `nft list table inet haip` output, which
// prints marks as 0x%08x and folds `mark & ~mask | x` into `mark & (~mask | x) | x`.

const HEX = '0x[0-9a-f]+';
const NAME = '[^"\\\\]+';
/** `ct mark & MASK == MARK` or, with the whole mark haip's, `ct mark MARK`. */
const MATCH_MARK = `ct mark(?: & ${HEX})? (?:== )?${HEX}`;
const SET = (what: 'ct' | 'meta') => `${what} mark set (?:${what} mark & ${HEX} \\| )?${HEX}`;

const RULES: Record<string, RegExp> = {
  restore: new RegExp(`^${MATCH_MARK} ${SET('meta')} comment "${NAME}: restore"$`),
  incoming: new RegExp(`^ct state new iifname "${NAME}" ${SET('ct')} ${SET('meta')} comment "${NAME}: incoming"$`),
  outgoing: new RegExp(`^${MATCH_MARK} oifname "${NAME}" ${SET('ct')} comment "${NAME}: outgoing"$`),
};

/** Each chain 0.1.0 wrote: its type line and the rules it may hold. */
const CHAINS: Record<string, { type: string; rules: RegExp[] }> = {
  prerouting: { type: 'type filter hook prerouting priority mangle; policy accept;', rules: [RULES.restore, RULES.incoming] },
  output: { type: 'type route hook output priority mangle; policy accept;', rules: [RULES.restore] },
  postrouting: { type: 'type filter hook postrouting priority mangle; policy accept;', rules: [RULES.outgoing] },
};

/** True when the listing is exactly a table haip 0.1.0 wrote: three chains, nothing but haip's rules. */
export function isEarlierHaipTable(listing: string): boolean {
  const lines = listing.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines[0] !== 'table inet haip {' || lines[lines.length - 1] !== '}') return false;
  const seen = new Set<string>();
  let i = 1;
  while (i < lines.length - 1) {
    const m = /^chain (\w+) \{$/.exec(lines[i]);
    const chain = m && CHAINS[m[1]];
    if (!m || !chain || seen.has(m[1]) || lines[i + 1] !== chain.type) return false;
    seen.add(m[1]);
    i += 2;
    for (; i < lines.length - 1 && lines[i] !== '}'; i++) if (!chain.rules.some((r) => r.test(lines[i]))) return false;
    if (lines[i] !== '}') return false;
    i++;
  }
  return seen.size === Object.keys(CHAINS).length;
}
