// Strict reverse-path filtering and haip's marks. With rp_filter=1 the kernel looks up the way back to
// each arriving packet's source and drops it unless that way leaves by the interface it came in on. A
// connection that arrives on a standby uplink (a port forward, a service on a second address) has only
// its mark to say so, and the lookup ignores the mark unless src_valid_mark is on: its packets are
// dropped silently. haip sets net.ipv4.conf.all.src_valid_mark=1 when a marked uplink filters strictly
// (logged, recorded in STATE_DIR, set back by `haip flush`); rp_filter itself stays as the admin has it.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Log } from '../log';
import { Config } from '../model';
import { removeFileIf, writeFileSafely } from '../sys/files';
import { Sysctl, sysctlName } from '../sys/sysctl';
import { MarkedLink, markedLinks } from './replies';

export const SRC_VALID_MARK = ['net', 'ipv4', 'conf', 'all', 'src_valid_mark'];
const SRC_VALID_MARK_NAME = sysctlName(SRC_VALID_MARK);
/** Where haip records what it set, so that `haip flush` (another process, maybe after a restart) can set it back. */
export const RESTORE_FILE = 'sysctl-restore';
const RESTORE_MARKER = '# haip: sysctls haip set, set back by haip flush';

/** One interface's settings; a setting absent from the kernel is undefined. */
export interface ConfFacts {
  rpFilter?: number;
  srcValidMark?: number;
}

export interface RpFacts {
  all: ConfFacts;
  /** What an interface created later (ppp0 redialing) starts with. */
  default: ConfFacts;
  /** undefined conf: the interface does not exist now. */
  links: { link: MarkedLink; conf?: ConfFacts }[];
}

export interface RpLinkVerdict {
  link: MarkedLink;
  /** The kernel uses the larger of all's and the interface's (the default's while it is absent). */
  rpFilter: number;
  /** all's OR the interface's. */
  srcValidMark: boolean;
  absent: boolean;
}

export interface RpVerdict {
  links: RpLinkVerdict[];
  /** Links whose marked packets the strict check would drop as things are. */
  dropped: RpLinkVerdict[];
  /** all.src_valid_mark's value now ('0' when unknown). */
  was: string;
}

const num = (s: string | undefined) => (s === undefined || !/^\d+$/.test(s) ? undefined : Number(s));

function readConf(sysctl: Sysctl, dev: string): ConfFacts | undefined {
  const rp = sysctl.read(['net', 'ipv4', 'conf', dev, 'rp_filter']);
  if (rp === undefined) return undefined;
  return { rpFilter: num(rp), srcValidMark: num(sysctl.read(['net', 'ipv4', 'conf', dev, 'src_valid_mark'])) };
}

/** Reads what the verdict needs; throws when /proc/sys cannot be read at all. */
export function readRpFacts(sysctl: Sysctl, links: MarkedLink[]): RpFacts {
  const all = readConf(sysctl, 'all');
  if (!all) throw new Error(`${sysctlName(['net', 'ipv4', 'conf', 'all', 'rp_filter'])} cannot be read`);
  return { all, default: readConf(sysctl, 'default') ?? {}, links: links.map((link) => ({ link, conf: readConf(sysctl, link.interface) })) };
}

export function judgeRpFilter(facts: RpFacts): RpVerdict {
  const links = facts.links.map(({ link, conf }): RpLinkVerdict => {
    const own = conf ?? facts.default;
    return {
      link,
      rpFilter: Math.max(facts.all.rpFilter ?? 0, own.rpFilter ?? 0),
      srcValidMark: facts.all.srcValidMark === 1 || own.srcValidMark === 1,
      absent: conf === undefined,
    };
  });
  return { links, dropped: links.filter((v) => v.rpFilter === 1 && !v.srcValidMark), was: String(facts.all.srcValidMark ?? 0) };
}

const where = (v: RpLinkVerdict) => `${v.link.interface} (${v.link.name}${v.absent ? ', absent: its default' : ''})`;

/** `haip check`'s lines on rp_filter; facts undefined with the reason they could not be read. */
export function rpFilterReport(config: Config, facts: RpFacts | Error): string[] {
  if (!markedLinks(config).length) return [];
  if (facts instanceof Error) return [`  rp_filter: cannot read it (${facts.message}): whether strict reverse-path filtering drops replies through a standby uplink is unknown`];
  const v = judgeRpFilter(facts);
  const byValue = (n: number) => v.links.filter((l) => l.rpFilter === n).map(where);
  const values = [0, 1, 2].filter((n) => byValue(n).length).map((n) => `${n} on ${byValue(n).join(', ')}`).join('; ');
  if (v.dropped.length)
    return [`  rp_filter: ${values}: strict (1) drops marked replies while ${SRC_VALID_MARK_NAME}=${v.was}; haip sets ${SRC_VALID_MARK_NAME}=1 when it starts (haip flush sets it back)`];
  const strict = v.links.some((l) => l.rpFilter === 1);
  return [`  rp_filter: ${values}: ${strict ? 'src_valid_mark is on, so' : 'no strict check, so'} replies by the arrival uplink pass`];
}

export interface RpDeps {
  log: Log;
  sysctl?: Sysctl;
}

/** At start and reload: sets all.src_valid_mark when a marked uplink filters strictly. Never throws. */
export function syncRpFilter(config: Config, deps: RpDeps): void {
  const { log, sysctl } = deps;
  const links = markedLinks(config);
  if (!sysctl || !links.length) return;
  let verdict: RpVerdict;
  try {
    verdict = judgeRpFilter(readRpFacts(sysctl, links));
  } catch (err) {
    log.warning(`cannot read the rp_filter settings (${(err as Error).message}): if strict reverse-path filtering is on, replies through a standby uplink may be dropped`);
    return;
  }
  if (!verdict.dropped.length) return;
  const why = `rp_filter=1 on ${verdict.dropped.map(where).join(', ')} drops the packets of connections that arrive on a standby uplink unless the check uses their mark`;
  try {
    sysctl.write(SRC_VALID_MARK, '1');
  } catch (err) {
    log.error(`${why}, and ${SRC_VALID_MARK_NAME} could not be set to 1 (${(err as Error).message}): add "${SRC_VALID_MARK_NAME} = 1" to a file in /etc/sysctl.d/`);
    return;
  }
  try {
    recordRestore(config.stateDir, verdict.was);
  } catch (err) {
    log.error(`set ${SRC_VALID_MARK_NAME}=1, but could not record it for haip flush: ${(err as Error).message}`);
  }
  log.notice(`set ${SRC_VALID_MARK_NAME}=1 (was ${verdict.was}): ${why}; haip flush sets it back`);
}

/** Keeps the first value: a second start must not record haip's own 1 as the admin's. */
function recordRestore(stateDir: string, was: string): void {
  const path = join(stateDir, RESTORE_FILE);
  if (parseRestore(readOrEmpty(path)) !== undefined) return;
  writeFileSafely(path, `${RESTORE_MARKER}\n${SRC_VALID_MARK_NAME}=${was}\n`);
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The recorded previous value; only this one setting and 0 or 1, whatever else the file holds. */
export function parseRestore(text: string): string | undefined {
  if (!text.startsWith(RESTORE_MARKER + '\n')) return undefined;
  const m = new RegExp(`^${SRC_VALID_MARK_NAME.replace(/\./g, '\\.')}=([01])$`, 'm').exec(text);
  return m?.[1];
}

/** `haip flush`: sets back what haip set, if it is still haip's value; the log line, or undefined. */
export function restoreSysctls(stateDir: string, sysctl: Sysctl): string | undefined {
  const path = join(stateDir, RESTORE_FILE);
  const was = parseRestore(readOrEmpty(path));
  if (was === undefined) return undefined;
  let line: string;
  if (sysctl.read(SRC_VALID_MARK) === '1' && was !== '1') {
    sysctl.write(SRC_VALID_MARK, was);
    line = `flush: ${SRC_VALID_MARK_NAME}=${was} (set back)`;
  } else line = `flush: ${SRC_VALID_MARK_NAME} left as it is (no longer haip's 1)`;
  removeFileIf(path, (t) => parseRestore(t) !== undefined, (p) => readFileSync(p, 'utf8'));
  return line;
}
