// Reads haip.yaml into a Config: YAML with positions, one ajv pass over the schema, then the checks a
// schema cannot express. Every problem is reported at once as FILE:LINE:COL: field.path: message.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import Ajv, { ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, LineCounter, parseDocument, Document, visit } from 'yaml';
import { Config, LinkConfig, LogLevel, MAIN_TABLE, ProbeSettings, RuleConfig } from '../model';
import { configSchema, DURATION_PATTERN } from './schema';
import { STICKY_RULE_OFFSET } from '../net/desired';
import { parseTarget } from '../sys/probeTarget';

export const EX_CONFIG = 78;
const MAX_DURATION_MS = 86_400_000;

export interface ConfigProblem {
  where: string; // "FILE:LINE:COL" or "command line"
  path: string; // links[1].gateway
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.where}: ${p.path || '(top level)'}: ${p.message}`;
}

export const DEFAULTS = {
  interval: 1000,
  timeout: 1000,
  qualityWindow: 60_000,
  quorum: 1,
  down: 3,
  up: 3,
  stateDir: '/run/haip',
  hooksDir: '/etc/haip/hooks.d',
  hookTimeoutMs: 10_000,
  protocol: 72,
  rulePriorityBase: 10000,
  markMask: 0xff,
  rtTablesFile: '/etc/iproute2/rt_tables.d/haip.conf',
  rtProtosFile: '/etc/iproute2/rt_protos.d/haip.conf',
};

const RESERVED_TABLES: Record<string, number> = { main: MAIN_TABLE, default: 253, local: 255 };

type Segment = string | number;

export function pathToString(path: Segment[]): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s;
}

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator() {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    ajv.addFormat('ipv4', { type: 'string', validate: (s: string) => isIPv4(s) });
    ajv.addFormat('ipv4prefix', { type: 'string', validate: isIPv4Prefix });
    ajv.addFormat('ifname', { type: 'string', validate: isInterfaceName });
    ajv.addFormat('probetarget', { type: 'string', validate: (s: string) => !('error' in parseTarget(s)) });
    compiled = ajv.compile(configSchema);
  }
  return compiled;
}

export function isIPv4Prefix(s: string): boolean {
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(s);
  return !!m && isIPv4(m[1]) && (m[2] === undefined || Number(m[2]) <= 32);
}

/** Linux's dev_valid_name(): what the kernel accepts as an interface name. */
export function isInterfaceName(s: string): boolean {
  return s.length >= 1 && s.length <= 15 && s !== '.' && s !== '..' && !/[/:\s]/.test(s);
}

export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return Math.round(v * 1000);
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(v);
  if (!m) throw new Error(`not a duration: ${v}`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

/** Finds where a path lives in a YAML document, so messages can point at it. */
type Locator = (path: Segment[], key?: string) => string;

function yamlLocator(file: string, doc: Document, lines: LineCounter): Locator {
  return (path, key) => {
    let offset = 0;
    let node: unknown = path.length ? doc.getIn(path, true) : doc.contents;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
    } else if (node && typeof node === 'object' && 'range' in node && Array.isArray((node as any).range)) {
      offset = (node as any).range[0];
    } else {
      // The node is missing: point at its nearest ancestor.
      for (let i = path.length - 1; i >= 0; i--) {
        const parent: any = i ? doc.getIn(path.slice(0, i), true) : doc.contents;
        if (parent?.range) {
          offset = parent.range[0];
          break;
        }
      }
    }
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([{ where: file, path: '', message: `cannot read: ${e.code ?? e.message}` }]);
  }
  return parseConfigText(text, file);
}

export function parseConfigText(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length) {
    throw new ConfigError(
      syntax.map((e) => {
        const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
        return { where: `${file}:${pos.line}:${pos.col}`, path: '', message: `YAML: ${e.message.split('\n')[0].replace(/:$/, '')}` };
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    // yaml parses `*name` without an anchor cleanly and throws only when building values (found by fuzzing).
    let where = `${file}:1:1`;
    visit(doc, {
      Alias(_, node) {
        if (node.resolve(doc) !== undefined || !node.range) return undefined;
        const { line, col } = lines.linePos(node.range[0]);
        where = `${file}:${line}:${col}`;
        return visit.BREAK;
      },
    });
    throw new ConfigError([{ where, path: '', message: `YAML: ${(err as Error).message}` }]);
  }
  return buildConfig(raw, file, yamlLocator(file, doc, lines));
}

/** Validates a plain object (from YAML or from the legacy command line) and builds the Config. */
export function buildConfig(raw: unknown, source: string, locate: Locator = () => source): Config {
  const validate = validator();
  const problems: ConfigProblem[] = [];
  if (!validate(raw)) problems.push(...schemaProblems(validate.errors ?? [], locate));
  // The cross-field checks run on a bad file too, so one pass shows every problem.
  problems.push(...semanticProblems(raw as RawConfig, locate));
  if (problems.length) throw new ConfigError(sortProblems(problems));
  return toConfig(raw as RawConfig, source);
}

function sortProblems(ps: ConfigProblem[]): ConfigProblem[] {
  const pos = (p: ConfigProblem) => {
    const m = /:(\d+):(\d+)$/.exec(p.where);
    return m ? Number(m[1]) * 10000 + Number(m[2]) : 0;
  };
  return ps.map((p, i) => ({ p, i })).sort((a, b) => pos(a.p) - pos(b.p) || a.i - b.i).map((x) => x.p);
}

function segments(instancePath: string): Segment[] {
  if (!instancePath) return [];
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function schemaProblems(errors: ErrorObject[], locate: Locator): ConfigProblem[] {
  // anyOf reports each branch's failure too; one plain message per field reads better.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  for (const e of errors) {
    const segs = segments(e.instancePath);
    let message: string;
    let path = pathToString(segs);
    let where: string;
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf') continue;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(e.params.additionalProperty);
        path = pathToString([...segs, key]);
        where = locate(segs, key);
        message = `unknown field "${key}"${suggest(key, e.parentSchema)}`;
        break;
      }
      case 'required':
        where = locate(segs);
        message = `missing required field "${e.params.missingProperty}"`;
        break;
      case 'type':
        // A field that says what it expects says so for a wrong type too.
        where = locate(segs);
        message = (e.parentSchema as any)?.expects ? `must be ${expects(e)}` : (e.message ?? e.keyword);
        break;
      case 'anyOf':
      case 'format':
        where = locate(segs);
        message = formatDetail(e) ?? `must be ${expects(e)}`;
        break;
      case 'enum':
        where = locate(segs);
        message = `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`;
        break;
      case 'propertyNames':
        continue; // reported by the pattern error on the name itself
      case 'pattern':
        if (e.propertyName !== undefined) {
          where = locate(segs, e.propertyName);
          path = pathToString([...segs, e.propertyName]);
          message = 'is not a valid name';
        } else {
          where = locate(segs);
          message = (e.parentSchema as any)?.expects ? `must be ${expects(e)}` : `${e.message}`;
        }
        break;
      default:
        where = locate(segs);
        message = e.message ?? e.keyword;
    }
    const k = `${where}|${path}|${message}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push({ where, path, message });
    }
  }
  return out;
}

/** A format that can say what exactly is wrong with a value says it (probe targets do). */
function formatDetail(e: ErrorObject): string | undefined {
  if (e.keyword !== 'format' || e.params.format !== 'probetarget') return undefined;
  const t = parseTarget(e.data as string);
  return 'error' in t ? t.error : undefined;
}

function expects(e: ErrorObject): string {
  return String((e.parentSchema as any)?.expects ?? 'a valid value');
}

function suggest(key: string, parentSchema: unknown): string {
  const known = Object.keys((parentSchema as any)?.properties ?? {});
  const best = known.find((k) => editDistance(k, key) <= 2);
  return best ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

interface RawProbe {
  targets?: string[];
  interval?: number | string;
  timeout?: number | string;
  quorum?: number;
  down?: number;
  up?: number;
  method?: 'auto' | 'spawn' | 'stream';
  max_loss?: string;
  max_rtt?: number | string;
  quality_window?: number | string;
}
interface RawLink {
  name: string;
  interface: string;
  weight?: number;
  table?: string | number;
  gateway?: string;
  source?: string;
  mark?: number;
  probe?: RawProbe;
}
interface RawRule {
  priority: number;
  table: string | number;
  from?: string;
  to?: string;
  fwmark?: number;
  mask?: number;
  iif?: string;
}
export interface RawConfig {
  log_level?: LogLevel;
  probe?: RawProbe;
  tables?: Record<string, number>;
  links: RawLink[];
  rules?: RawRule[];
  sticky?: boolean;
  mark_mask?: number;
  state_dir?: string;
  hooks_dir?: string;
  hook_timeout?: number | string;
  metrics_file?: string;
  protocol?: number;
  rule_priority?: number;
  main_table?: string | number;
  rt_tables_file?: string;
  rt_protos_file?: string;
  toggle?: string; // legacy command line only; not in the schema
}

function resolveTable(ref: string | number, tables: Record<string, number>): number | undefined {
  if (typeof ref === 'number') return ref;
  // Own keys only: "toString" or "__proto__" must not resolve through Object.prototype.
  if (Object.hasOwn(tables, ref)) return tables[ref];
  return Object.hasOwn(RESERVED_TABLES, ref) ? RESERVED_TABLES[ref] : undefined;
}

function semanticProblems(raw: RawConfig, locate: Locator): ConfigProblem[] {
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

function probeSettings(own: RawProbe | undefined, base: RawProbe | undefined): ProbeSettings {
  const pick = <K extends keyof RawProbe>(k: K) => own?.[k] ?? base?.[k];
  return {
    targets: pick('targets') as string[],
    intervalMs: parseDuration(pick('interval') ?? DEFAULTS.interval / 1000),
    timeoutMs: parseDuration(pick('timeout') ?? DEFAULTS.timeout / 1000),
    quorum: (pick('quorum') as number) ?? DEFAULTS.quorum,
    down: (pick('down') as number) ?? DEFAULTS.down,
    up: (pick('up') as number) ?? DEFAULTS.up,
    ...(pick('method') ? { method: pick('method') as ProbeSettings['method'] } : {}),
    ...(pick('max_loss') !== undefined ? { maxLossPct: parseFloat(pick('max_loss') as string) } : {}),
    ...(pick('max_rtt') !== undefined ? { maxRttMs: parseDuration(pick('max_rtt')!) } : {}),
    qualityWindowMs: parseDuration(pick('quality_window') ?? DEFAULTS.qualityWindow / 1000),
  };
}

function toConfig(raw: RawConfig, source: string): Config {
  const tables = raw.tables ?? {};
  const links: LinkConfig[] = raw.links.map((l, i) => ({
    name: l.name,
    interface: l.interface,
    weight: l.weight ?? i + 1,
    table: l.table === undefined ? undefined : resolveTable(l.table, tables),
    gateway: l.gateway,
    source: l.source,
    // Only when given: linkMark() supplies the default (position + 1).
    ...(l.mark !== undefined ? { mark: l.mark } : {}),
    probe: probeSettings(l.probe, raw.probe),
  }));
  const rules: RuleConfig[] = (raw.rules ?? []).map((r) => ({
    priority: r.priority,
    table: resolveTable(r.table, tables)!,
    from: r.from,
    to: r.to,
    fwmark: r.fwmark,
    mask: r.mask,
    iif: r.iif,
  }));
  return {
    source,
    logLevel: raw.log_level ?? 'info',
    tables,
    links,
    rules,
    sticky: raw.sticky ?? false,
    ...(raw.mark_mask !== undefined ? { markMask: raw.mark_mask } : {}),
    stateDir: raw.state_dir ?? DEFAULTS.stateDir,
    hooksDir: raw.hooks_dir ?? DEFAULTS.hooksDir,
    metricsFile: raw.metrics_file,
    hookTimeoutMs: raw.hook_timeout === undefined ? DEFAULTS.hookTimeoutMs : parseDuration(raw.hook_timeout),
    toggle: raw.toggle,
    protocol: raw.protocol ?? DEFAULTS.protocol,
    rulePriorityBase: raw.rule_priority ?? DEFAULTS.rulePriorityBase,
    mainTable: raw.main_table === undefined ? MAIN_TABLE : resolveTable(raw.main_table, tables)!,
    rtTablesFile: raw.rt_tables_file ?? DEFAULTS.rtTablesFile,
    rtProtosFile: raw.rt_protos_file ?? DEFAULTS.rtProtosFile,
  };
}
