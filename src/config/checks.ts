// The checks a schema cannot express: names and tables that must be unique or known, durations a timer
// can hold, quorums the targets can meet, sticky marks and priorities that fit.
import { DURATION_PATTERN } from './schema';
import { STICKY_RULE_OFFSET } from '../net/desired';
import { DEFAULTS, parseDuration, RESERVED_TABLES, resolveTable } from './convert';
import { Locator, Segment } from './positions';
import { ConfigProblem, pathToString } from './problems';
import { RawConfig, RawProbe } from './raw';

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
  raw.links.forEach((l, i) => l && typeof l === 'object' && probeDurations(l.probe, ['links', i, 'probe']));
  const names = new Map<string, number>();
  const linkTables = new Map<number, number>();
  raw.links.forEach((l, i) => {
    if (!l || typeof l !== 'object') return;
    if (names.has(l.name)) problem(['links', i, 'name'], `duplicate link name "${l.name}" (also links[${names.get(l.name)}])`);
    else names.set(l.name, i);
    if (typeof l.table === 'string' || typeof l.table === 'number') {
      const t = resolveTable(l.table, tables);
      if (t === undefined) problem(['links', i, 'table'], `unknown table "${l.table}": add it under tables`);
      else if (t === 253 || t === 254 || t === 255) problem(['links', i, 'table'], `table ${l.table} is the kernel's own; give the link a table of its own`);
      else if (linkTables.has(t)) problem(['links', i, 'table'], `table ${l.table} is already used by links[${linkTables.get(t)}]`);
      else linkTables.set(t, i);
    }
    const targets = l.probe?.targets ?? raw.probe?.targets;
    if (targets !== undefined && !Array.isArray(targets)) return;
    if (!targets) problem(['links', i], `no probe targets: set probe.targets at the top level or in this link`);
    const quorum = l.probe?.quorum ?? raw.probe?.quorum ?? DEFAULTS.quorum;
    if (targets && typeof quorum === 'number' && quorum > targets.length)
      problem(l.probe?.quorum !== undefined ? ['links', i, 'probe', 'quorum'] : ['probe', 'quorum'], `quorum ${quorum} is more than the ${targets.length} target(s) of link "${l.name}"`);
  });
  (Array.isArray(raw.rules) ? raw.rules : []).forEach((r, i) => {
    if (!r || typeof r !== 'object' || (typeof r.table !== 'string' && typeof r.table !== 'number')) return;
    if (resolveTable(r.table, tables) === undefined) problem(['rules', i, 'table'], `unknown table "${r.table}": add it under tables`);
    if (r.mask !== undefined && r.fwmark === undefined) problem(['rules', i, 'mask'], 'mask needs fwmark');
  });
  out.push(...stickyProblems(raw, locate));
  if ((typeof raw.main_table === 'string' || typeof raw.main_table === 'number') && resolveTable(raw.main_table, tables) === undefined)
    problem(['main_table'], `unknown table "${raw.main_table}"`);
  return out;
}

/** Sticky connections need a table and a mark of its own per link, inside haip's mask and rule block. */
function stickyProblems(raw: RawConfig, locate: Locator): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const problem = (path: Segment[], message: string) => out.push({ where: locate(path), path: pathToString(path), message });
  const mask = typeof raw.mark_mask === 'number' ? raw.mark_mask >>> 0 : DEFAULTS.markMask;
  const marks = new Map<number, number>();
  raw.links.forEach((l, i) => {
    if (!l || typeof l !== 'object') return;
    const mark = typeof l.mark === 'number' ? l.mark : i + 1;
    if (typeof l.mark === 'number' && ((mark & ~mask) >>> 0 !== 0 || (mark & mask) === 0))
      problem(['links', i, 'mark'], `mark 0x${mark.toString(16)} does not fit in mark_mask 0x${mask.toString(16)}`);
    if (!raw.sticky) return;
    if (typeof l.mark !== 'number' && (mark & ~mask) >>> 0 !== 0) problem(['links', i], `the default mark ${mark} does not fit in mark_mask 0x${mask.toString(16)}: give this link a mark`);
    if (marks.has(mark)) problem(['links', i, typeof l.mark === 'number' ? 'mark' : 'name'], `mark 0x${mark.toString(16)} is already used by links[${marks.get(mark)}]`);
    else marks.set(mark, i);
    if (l.table === undefined) problem(['links', i], 'sticky needs a table for every link: its fwmark rule routes the link\'s connections there');
    if (typeof l.interface === 'string' && /["\\]/.test(l.interface)) problem(['links', i, 'interface'], 'sticky cannot name an interface with " or \\ in nftables');
  });
  const base = typeof raw.rule_priority === 'number' ? raw.rule_priority : DEFAULTS.rulePriorityBase;
  if (raw.sticky && base + STICKY_RULE_OFFSET + 10 * raw.links.length > 32765)
    problem(['rule_priority'], `with sticky, haip's fwmark rules need priorities up to ${base + STICKY_RULE_OFFSET + 10 * raw.links.length}, past 32765: lower rule_priority`);
  return out;
}
