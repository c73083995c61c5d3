// The checks a schema cannot express: names and tables that must be unique or known, durations a timer
// can hold, quorums the targets can meet, sticky marks and priorities that fit.
import { DURATION_PATTERN } from './schema';
import { parseTarget } from '../sys/probeTarget';
import { isIPv6 } from 'node:net';
import { FAMILIES, familyOf } from '../model';
import { networkOf6, STICKY_RULE_OFFSET } from '../net/desired';
import { IPV6_DEFAULT_METRIC } from '../net/plan';
import { DEFAULTS, parseDuration, RESERVED_TABLES, resolveTable } from './convert';
import { Locator, Segment } from './positions';
import { ConfigProblem, pathToString } from './problems';
import { RawConfig, RawProbe } from './raw';
import { policyProblems } from './policyChecks';
import { lan6Problems } from './lan6Checks';

const MAX_DURATION_MS = 86_400_000;

export function semanticProblems(raw: RawConfig, locate: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.links)) return out;
  const tables = raw.tables && typeof raw.tables === 'object' ? raw.tables : {};
  const problem = (path: Segment[], message: string) => out.push({ where: locate(path), path: pathToString(path), message });
  for (const [name, n] of Object.entries(tables as Record<string, unknown>)) {
    if (Object.hasOwn(RESERVED_TABLES, name) || n === 253 || n === 254 || n === 255)
      problem(['tables', name], `table ${name}: ${n} is reserved for the kernel's own tables (main, default, local)`);
  }
  // Node turns a timer longer than 2^31-1 ms (or Infinity, YAML's .inf) into 1 ms: a spinning loop.
  const duration = (v: unknown, path: Segment[]) => {
    // Only what the schema lets through: it reports the rest (0, -1, "2 h") itself.
    if (!(typeof v === 'number' && v > 0) && !(typeof v === 'string' && new RegExp(DURATION_PATTERN).test(v))) return;
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch {
      return;
    }
    if (ms < 1) problem(path, 'must be a duration such as "500ms", "2s", "1m" or a number of seconds, above 0');
    else if (!(ms <= MAX_DURATION_MS)) problem(path, `must be at most a day (86400s), not ${String(v)}`);
  };
  const probeDurations = (pr: unknown, path: Segment[]) => {
    if (!pr || typeof pr !== 'object') return;
    duration((pr as RawProbe).interval, [...path, 'interval']);
    duration((pr as RawProbe).timeout, [...path, 'timeout']);
    duration((pr as RawProbe).max_rtt, [...path, 'max_rtt']);
    duration((pr as RawProbe).quality_window, [...path, 'quality_window']);
  };
  probeDurations(raw.probe, ['probe']);
  duration(raw.hook_timeout, ['hook_timeout']);
  duration(raw.metrics_interval, ['metrics_interval']);
  raw.links.forEach((l, i) => l && typeof l === 'object' && probeDurations(l.probe, ['links', i, 'probe']));
  const names = new Map<string, number>();
  const linkTables = new Map<number, number>();
  let mainMetricTold = false;
  raw.links.forEach((l, i) => {
    if (!l || typeof l !== 'object') return;
    // A missing name is the schema's to report ("missing required field"), not a duplicate "undefined".
    if (typeof l.name === 'string') {
      if (names.has(l.name)) problem(['links', i, 'name'], `duplicate link name "${l.name}" (also links[${names.get(l.name)}])`);
      else names.set(l.name, i);
    }
    if (typeof l.table === 'string' || typeof l.table === 'number') {
      const t = resolveTable(l.table, tables);
      if (t === undefined) problem(['links', i, 'table'], `unknown table "${l.table}": add it under tables`);
      else if (t === 253 || t === 254 || t === 255) problem(['links', i, 'table'], `table ${l.table} is the kernel's own; give the link a table of its own`);
      else if (linkTables.has(t)) problem(['links', i, 'table'], `table ${l.table} is already used by links[${linkTables.get(t)}]`);
      else linkTables.set(t, i);
    }
    // Named as the admin wrote it; a link whose name is missing or not a string (the schema says so) by its index.
    const who = typeof l.name === 'string' ? `link "${l.name}"` : `links[${i}]`;
    const targets = l.probe?.targets ?? raw.probe?.targets;
    if (targets !== undefined && !Array.isArray(targets)) return;
    if (!targets) problem(['links', i], `no probe targets: set probe.targets at the top level or in this link`);
    const quorum = l.probe?.quorum ?? raw.probe?.quorum ?? DEFAULTS.quorum;
    const quorumAt: Segment[] = l.probe?.quorum !== undefined ? ['links', i, 'probe', 'quorum'] : ['probe', 'quorum'];
    // Each family is judged on its own, so the quorum must be reachable in each family the link probes.
    const perFamily = FAMILIES.map((f) => ({ f, n: (targets ?? []).filter((t) => typeof t === 'string' && familyOf(t) === f).length })).filter((x) => x.n);
    const mixed = perFamily.length > 1;
    // A quorum that is no whole number >= 1 is the schema's to report.
    if (Number.isInteger(quorum) && quorum >= 1)
      for (const { f, n } of perFamily)
        if (quorum > n) problem(quorumAt, `quorum ${quorum} is more than the ${n} ${mixed ? `IPv${f} ` : ''}target(s) of ${who}${mixed ? ': each family is judged on its own' : ''}`);
    const has6 = perFamily.some((x) => x.f === 6);
    if (Array.isArray(l.prefixes6) && l.prefixes6.length && l.table === undefined) problem(['links', i, 'prefixes6'], `${who} has no table: delegated prefixes are routed by source rules into the link's table; add a table`);
    for (const key of ['gateway6', 'source6', 'prefixes6'] as const)
      if (l[key] !== undefined && !has6) problem(['links', i, key], `${who} has no IPv6 probe targets, so haip does not route IPv6 through it: add an IPv6 target or drop ${key}`);
    if (has6 && typeof raw.main_metric === 'number' && raw.main_metric >= IPV6_DEFAULT_METRIC && !mainMetricTold) {
      mainMetricTold = true;
      problem(['main_metric'], `must be below ${IPV6_DEFAULT_METRIC} with IPv6 targets: the kernel's router-advertisement routes sit at ${IPV6_DEFAULT_METRIC}, and haip would delete them as drift while the kernel puts them back`);
    }
  });
  (Array.isArray(raw.rules) ? raw.rules : []).forEach((r, i) => {
    if (!r || typeof r !== 'object' || (typeof r.table !== 'string' && typeof r.table !== 'number')) return;
    if (resolveTable(r.table, tables) === undefined) problem(['rules', i, 'table'], `unknown table "${r.table}": add it under tables`);
    if (r.mask !== undefined && r.fwmark === undefined) problem(['rules', i, 'mask'], 'mask needs fwmark');
    // One kernel rule matches one family: `ip rule` refuses a mixed pair, so refuse it here, before anything changes.
    if (typeof r.from === 'string' && typeof r.to === 'string' && familyOf(r.from) !== familyOf(r.to)) {
      problem(['rules', i, 'to'], `to ${r.to} is IPv${familyOf(r.to)} but from ${r.from} is IPv${familyOf(r.from)}: a rule matches one family; write one rule per family`);
    }
  });
  for (const p of stickyProblems(raw, locate)) out.push(p);
  for (const p of misroutingProblems(raw, locate, tables, linkTables)) out.push(p);
  for (const p of policyProblems(raw, locate)) out.push(p);
  for (const p of lan6Problems(raw, locate)) out.push(p);
  return out;
}

/** Control characters reach `ip` argv, nft text, the journal and terminals: refused in every string. */
export function controlCharProblems(raw: unknown, locate: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const walk = (v: unknown, path: Segment[]) => {
    if (typeof v === 'string') {
      const m = CONTROL.exec(v);
      if (m) out.push({ where: locate(path), path: pathToString(path), message: `contains the control character ${describeChar(m[0])}: not allowed in any field` });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        const m = CONTROL.exec(k);
        if (m) out.push({ where: locate(path, k), path: pathToString(path), message: `a key contains the control character ${describeChar(m[0])}` });
        else walk(x, [...path, k]);
      }
  };
  walk(raw, []);
  return out;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function describeChar(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why an address cannot be a next hop or a probe target, or undefined when it can. */
export function unusableHost(addr: string, linkLocalOk = false): string | undefined {
  if (addr.includes(':')) return unusableHost6(addr, linkLocalOk);
  const o = addr.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => !Number.isInteger(x))) return undefined; // the schema reports it
  if (o.every((x) => x === 0)) return 'is 0.0.0.0, the unspecified address';
  if (o.every((x) => x === 255)) return 'is the broadcast address';
  if (o[0] === 127) return 'is a loopback address (127.0.0.0/8)';
  if (o[0] === 0) return 'is in 0.0.0.0/8 ("this network")';
  if (o[0] >= 224 && o[0] <= 239) return 'is a multicast address (224.0.0.0/4)';
  if (o[0] >= 240) return 'is in the reserved 240.0.0.0/4';
  return undefined;
}

function unusableHost6(addr: string, linkLocalOk: boolean): string | undefined {
  if (!isIPv6(addr)) return undefined; // the schema reports it
  const a = networkOf6(addr, 128).slice(0, -4);
  if (a === '::') return 'is ::, the unspecified address';
  if (a === '::1') return 'is ::1, the loopback address';
  if (a.startsWith('ff')) return 'is a multicast address (ff00::/8)';
  if (a.startsWith('::ffff:')) return 'is an IPv4-mapped address: write the IPv4 address itself';
  if (/^fe[89ab]/.test(a) && !linkLocalOk) return 'is link-local (fe80::/10): it names no interface and leaves no link';
  return undefined;
}

function targetAddress(t: unknown): unknown {
  const p = typeof t === 'string' ? parseTarget(t) : undefined;
  return p && !('error' in p) ? p.address : t;
}

/** Configs the schema accepts but that would send traffic the wrong way (issue 10, item 9). */
function misroutingProblems(raw: RawConfig, locate: Locator, tables: Record<string, number>, linkTables: Map<number, number>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const problem = (path: Segment[], message: string) => out.push({ where: locate(path), path: pathToString(path), message });
  const host = (v: unknown, path: Segment[], what: string, linkLocalOk = false) => {
    const why = typeof v === 'string' ? unusableHost(v, linkLocalOk) : undefined;
    if (why) problem(path, `${v} ${why}: it cannot be ${what}`);
  };
  const targets = (pr: unknown, path: Segment[]) => {
    const ts = pr && typeof pr === 'object' ? (pr as RawProbe).targets : undefined;
    // The address inside a tcp://, http:// or dns:// target is checked as a bare one is.
    if (Array.isArray(ts)) ts.forEach((t, j) => host(targetAddress(t), [...path, 'targets', j], 'a probe target'));
  };
  targets(raw.probe, ['probe']);
  const onInterface = new Map<string, number>();
  raw.links.forEach((l, i) => {
    if (!l || typeof l !== 'object') return;
    host(l.gateway, ['links', i, 'gateway'], 'a gateway');
    if (typeof l.gateway === 'string' && l.gateway === l.source) problem(['links', i, 'gateway'], `${l.gateway} is the link's own source address: it cannot be its gateway`);
    host(l.source, ['links', i, 'source'], 'a source address');
    host(l.gateway6, ['links', i, 'gateway6'], 'a gateway', true);
    host(l.source6, ['links', i, 'source6'], 'a source address');
    targets(l.probe, ['links', i, 'probe']);
    if (l.table === undefined || typeof l.interface !== 'string') return;
    // Two tables on one interface: both source rules match the interface's one primary address, and the
    // second link's probes and traffic follow the first link's table.
    const other = onInterface.get(l.interface);
    const o = other === undefined ? undefined : raw.links[other];
    if (o && !(typeof l.source === 'string' && typeof o.source === 'string' && l.source !== o.source))
      problem(['links', i, 'interface'], `links[${other}] also has a table on ${l.interface}: their source rules would be the same; give both links a different source address, or drop one table`);
    else if (other === undefined) onInterface.set(l.interface, i);
  });
  if (typeof raw.main_table === 'string' || typeof raw.main_table === 'number') {
    const t = resolveTable(raw.main_table, tables);
    if (t === undefined) problem(['main_table'], `unknown table "${raw.main_table}"`);
    else if (t === RESERVED_TABLES.local) problem(['main_table'], 'the local table holds the host\'s own addresses; a default route there would capture every packet');
    else if (linkTables.has(t)) problem(['main_table'], `table ${raw.main_table} is links[${linkTables.get(t)}]'s table: the active default route would overwrite that link's own`);
  }
  return out;
}

/**
 * Marks: every link with a table marks the connections arriving on it (replies by the arrival uplink),
 * and sticky needs a table and a mark of its own per link, inside haip's mask and rule block.
 */
function stickyProblems(raw: RawConfig, locate: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const problem = (path: Segment[], message: string) => out.push({ where: locate(path), path: pathToString(path), message });
  const mask = typeof raw.mark_mask === 'number' ? raw.mark_mask >>> 0 : DEFAULTS.markMask;
  const marks = new Map<number, number>();
  const why = raw.sticky ? 'sticky' : 'the mark for replies by this uplink';
  raw.links.forEach((l, i) => {
    if (!l || typeof l !== 'object') return;
    const mark = typeof l.mark === 'number' ? l.mark : i + 1;
    if (typeof l.mark === 'number' && ((mark & ~mask) >>> 0 !== 0 || (mark & mask) === 0))
      problem(['links', i, 'mark'], `mark 0x${mark.toString(16)} does not fit in mark_mask 0x${mask.toString(16)}`);
    if (!raw.sticky && l.table === undefined) return;
    if (typeof l.mark !== 'number' && (mark & ~mask) >>> 0 !== 0) problem(['links', i], `the default mark ${mark} does not fit in mark_mask 0x${mask.toString(16)}: give this link a mark`);
    if (marks.has(mark)) problem(['links', i, typeof l.mark === 'number' ? 'mark' : 'name'], `mark 0x${mark.toString(16)} is already used by links[${marks.get(mark)}]`);
    else marks.set(mark, i);
    if (l.table === undefined) problem(['links', i], 'sticky needs a table for every link: its fwmark rule routes the link\'s connections there');
    if (typeof l.interface === 'string' && /["\\]/.test(l.interface)) problem(['links', i, 'interface'], `${why} cannot name an interface with " or \\ in nftables`);
  });
  const base = typeof raw.rule_priority === 'number' ? raw.rule_priority : DEFAULTS.rulePriorityBase;
  const marked = raw.sticky || raw.links.some((l) => l && typeof l === 'object' && l.table !== undefined);
  if (marked && base + STICKY_RULE_OFFSET + 10 * raw.links.length > 32765)
    problem(['rule_priority'], `haip's fwmark rules (replies by the arrival uplink${raw.sticky ? ', sticky' : ''}) need priorities up to ${base + STICKY_RULE_OFFSET + 10 * raw.links.length}, past 32765: lower rule_priority`);
  return out;
}
