// haip's nftables table `inet haip`: replies leave by the uplink their connection came in on (always,
// replies.ts) and, with `sticky: true`, each outgoing connection stays on the uplink it started on
// (Varabitti's CONNMARK, done with nft). The text is a pure function of the config; the table is
// replaced atomically with `nft -f -` and never touches anyone else's tables.
import { Config } from '../model';
import { Runner } from '../sys/runner';
import { markMask } from './desired';
import { isEarlierHaipTable } from './nftEarlier';
import { policyLines } from '../policy/nft';
import { hex, incomingRules, markedLinks, restoreRules, setMark } from './replies';

export const STICKY_TABLE = 'inet haip';
/** The comment that makes `inet haip` haip's: a table of that name without it is someone else's. */
export const TABLE_MARKER = 'haip: managed by haip(8), replaced on start and reload';

/**
 * The table for a config: replies by the arrival uplink for every link with a table, sticky's
 * outgoing chain, and the chains of policies (policy/nft.ts); undefined when there is none of them.
 *
 * - prerouting/output restore the connection's mark into the packet, so the link's fwmark rule routes it;
 * - prerouting gives a new connection arriving on an uplink that uplink's mark (replies go back the way
 *   the connection came in, also on a standby uplink), sticky or not;
 * - with sticky, postrouting gives every other connection the mark of the uplink its first packet leaves
 *   by, which is the active uplink for anything following the default route. A switch therefore changes
 *   only what new connections get, and the table does not change on a switch at all.
 */
export function haipTable(config: Config): string | undefined {
  const links = markedLinks(config);
  const policies = policyLines(config);
  if (!links.length) return policies.length ? [`table ${STICKY_TABLE} {`, `\tcomment "${TABLE_MARKER}"`, ...policies, '}'].join('\n') + '\n' : undefined;
  const restore = restoreRules(config).map((r) => `\t\t${r}`);
  const out: string[] = [`table ${STICKY_TABLE} {`, `\tcomment "${TABLE_MARKER}"`, '\tchain prerouting {', '\t\ttype filter hook prerouting priority mangle; policy accept;', ...restore];
  out.push(...incomingRules(config).map((r) => `\t\t${r}`));
  out.push('\t}', '', '\tchain output {', '\t\ttype route hook output priority mangle; policy accept;', ...restore, '\t}');
  if (config.sticky) {
    out.push('', '\tchain postrouting {', '\t\ttype filter hook postrouting priority mangle; policy accept;');
    for (const { name, interface: dev, mark } of links)
      out.push(`\t\tct mark & ${hex(markMask(config))} == 0x0 oifname "${dev}" ${setMark(config, 'ct mark', mark)} comment "${name}: outgoing"`);
    out.push('\t}');
  }
  out.push(...policies, '}');
  return out.join('\n') + '\n';
}

/** One transaction: create-if-missing, delete, create; so the replace works whether or not it existed. */
export function replaceScript(table: string): string {
  return `table ${STICKY_TABLE} {}\ndelete table ${STICKY_TABLE}\n${table}`;
}

export const DELETE_SCRIPT = `table ${STICKY_TABLE} {}\ndelete table ${STICKY_TABLE}\n`;

export type TableOwner = 'absent' | 'ours' | 'earlier' | 'foreign';

/**
 * 'absent', 'ours' (carries TABLE_MARKER), 'earlier' (the unmarked table haip 0.1.0 wrote, see
 * nftEarlier.ts) or 'foreign': an `inet haip` someone else made.
 */
export async function tableOwner(nft: Runner): Promise<TableOwner> {
  const r = await nft.run(['list', 'table', 'inet', 'haip']);
  if (r.code !== 0) return 'absent';
  if (r.stdout.includes(`comment "${TABLE_MARKER}"`)) return 'ours';
  return isEarlierHaipTable(r.stdout) ? 'earlier' : 'foreign';
}

export const TOOK_OVER = `took over nftables table ${STICKY_TABLE} left by haip 0.1.0 (no marker comment, but only haip's chains and rules): replaced with this version's`;

const FOREIGN = `an nftables table ${STICKY_TABLE} exists without haip's marker comment: it is someone else's, and haip neither replaces nor deletes it (rename it, or delete it if it is a leftover)`;

/**
 * Installs the table, replacing haip's previous one atomically, 0.1.0's unmarked one included; never a
 * foreign one. Returns true when it took over 0.1.0's table. Throws an Error.
 */
export async function applyStickyTable(nft: Runner, table: string): Promise<boolean> {
  const owner = await tableOwner(nft);
  if (owner === 'foreign') throw new Error(FOREIGN);
  const r = await nft.run(['-f', '-'], replaceScript(table));
  if (r.code !== 0) throw new Error(`nft -f - (replacing table ${STICKY_TABLE}): exit ${r.code}: ${r.stderr.trim() || r.stdout.trim() || 'no output'}`);
  return owner === 'earlier';
}

/** Removes haip's table (0.1.0's unmarked one too); true when there was one. Other tables are never listed or touched. */
export async function removeStickyTable(nft: Runner): Promise<boolean> {
  const list = await nft.run(['list', 'tables', 'inet']);
  if (list.code !== 0) throw new Error(`nft list tables inet: exit ${list.code}: ${list.stderr.trim() || 'no output'}`);
  if (!/^table inet haip$/m.test(list.stdout)) return false;
  if ((await tableOwner(nft)) === 'foreign') throw new Error(FOREIGN);
  const r = await nft.run(['-f', '-'], DELETE_SCRIPT);
  if (r.code !== 0) throw new Error(`nft delete table ${STICKY_TABLE}: exit ${r.code}: ${r.stderr.trim() || 'no output'}`);
  return true;
}

/** Whether haip's table is in the kernel (someone may have flushed the ruleset). */
export async function stickyPresent(nft: Runner): Promise<boolean> {
  return (await tableOwner(nft)) === 'ours';
}
