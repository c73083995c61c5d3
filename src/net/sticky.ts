// The daemon's side of haip's nftables table: keeps `inet haip` matching the config (replies by the
// arrival uplink always, sticky connections when on) and, with sticky, flushes the connections of links
// that went down. Called after every reconcile pass, so a flushed connection's next packet already
// finds the new default route.
import { CHECKS_NFT, PassReason } from '../core/reasons';
import { Log } from '../log';
import { Config, Family, LinkState } from '../model';
import { Runner } from '../sys/runner';
import { flushMarked } from './conntrack';
import { linkMark, markMask } from './desired';
import { applyStickyTable, haipTable, removeStickyTable, STICKY_TABLE, stickyPresent, TOOK_OVER } from './nft';

export interface StickyState {
  /** The table text last applied; '' once haip's table is known to be absent; undefined: unknown. */
  applied?: string;
  /** Links that went down since the last pass, whose connections are still to be flushed. */
  pendingFlush: Set<string>;
  /** The same for IPv6: a link whose IPv6 went down loses only its IPv6 connections. */
  pendingFlush6?: Set<string>;
  warnedUnavailable?: boolean;
  /** The last failure, logged once until it changes or the table goes in (a foreign table stays for hours). */
  lastError?: string;
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/** One pass; true when something failed and a retry is due. */
export async function syncSticky(
  state: StickyState,
  why: PassReason,
  config: Config,
  deps: { log: Log; nft?: Runner; conntrack?: Runner },
  active: string | null,
  healthOf: (link: string, family: Family) => LinkState | undefined,
  active6: string | null = null,
): Promise<boolean> {
  const { log, nft, conntrack } = deps;
  let failed = false;
  const table = haipTable(config);
  if (table === undefined) {
    // No link with a table, nothing to mark: no table at all. A leftover goes, once, quietly if nft is missing.
    if (state.applied !== '' && nft) {
      try {
        if (await removeStickyTable(nft)) log.notice(`no link has a table: removed nftables table ${STICKY_TABLE}`);
      } catch (err) {
        log.debug(`no link has a table; could not check for a leftover table ${STICKY_TABLE}: ${(err as Error).message}`);
      }
    }
    state.applied = '';
    state.pendingFlush.clear();
    state.pendingFlush6?.clear();
    return false;
  }
  if (!config.sticky) {
    // Flushing is sticky's: an incoming connection's uplink going down ends it anyway.
    state.pendingFlush.clear();
    state.pendingFlush6?.clear();
  }
  // Only a daemon built without them (tests) lacks the runners; a missing binary is handled below.
  if (!nft || (config.sticky && !conntrack)) {
    if (!state.warnedUnavailable && config.sticky) log.error('sticky: true, but haip was started without nft/conntrack; connections are not kept on their uplink');
    state.warnedUnavailable = true;
    state.pendingFlush.clear();
    state.pendingFlush6?.clear();
    return false;
  }
  try {
    const drifted = state.applied === table && CHECKS_NFT.has(why) && !(await stickyPresent(nft));
    if (state.applied !== table || drifted) {
      if (drifted) log.warning(`changed outside haip, putting back: nftables table ${STICKY_TABLE}`);
      // Once per daemon: afterwards the table carries the marker.
      if (await applyStickyTable(nft, table)) log.notice(TOOK_OVER);
      state.applied = table;
      state.lastError = undefined;
      log.info(`applied: nftables table ${STICKY_TABLE} (${config.links.map((l, i) => `${l.name} mark ${hex(linkMark(config, i))}`).join(', ')}; mask ${hex(markMask(config))})`);
    }
  } catch (err) {
    const msg = (err as Error).message;
    // Without nftables installed (it is only recommended) there is nothing to retry until someone installs it.
    const missing = !config.sticky && /: exit 127: /.test(msg);
    if (msg !== state.lastError)
      log.error(missing ? `nft is not installed: replies to connections arriving on a standby uplink leave by the default route (install nftables)` : `${why}: ${msg}; will retry`);
    state.lastError = msg;
    state.applied = undefined;
    failed = !missing;
  }
  // The table may be there for policies alone: then no connection carries a link's own mark.
  if (!config.sticky) {
    state.pendingFlush.clear();
    state.pendingFlush6?.clear();
  }
  for (const [family, pending, now] of [
    [4, state.pendingFlush, active],
    [6, state.pendingFlush6, active6],
  ] as const) {
    for (const name of [...(pending ?? [])]) {
      pending!.delete(name);
      const i = config.links.findIndex((l) => l.name === name);
      // A link that came back before this pass keeps its connections.
      if (i < 0 || healthOf(name, family) !== 'down') continue;
      const mark = linkMark(config, i);
      const what = family === 6 ? 'IPv6 ' : '';
      try {
        const n = await flushMarked(conntrack!, mark, markMask(config), family);
        log.notice(`sticky: ${name} is down${family === 6 ? ' for IPv6' : ''}: flushed its ${n} ${what}connection(s) (mark ${hex(mark)}); their next packets take ${now ?? `the ${what}default route`}`);
      } catch (err) {
        log.error(`sticky: flushing the ${what}connections of ${name}: ${(err as Error).message}`);
      }
    }
  }
  return failed;
}
