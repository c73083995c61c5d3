// How a config problem is worded: FILE:LINE:COL: field.path: message, one plain sentence per field,
// from ajv's errors or from the cross-field checks.
import { ErrorObject } from 'ajv';
import { neutralise } from '../sys/text';
import { Locator, Segment } from './positions';
import { parseTarget } from '../sys/probeTarget';

/** Problems shown per config: a file with 100,000 wrong lines needs the first ones, not all of them. */
export const MAX_PROBLEMS = 100;

export interface ConfigProblem {
  where: string; // "FILE:LINE:COL" or "command line"
  path: string; // links[1].gateway
  message: string;
}

export class ConfigError extends Error {
  /** The first MAX_PROBLEMS problems; `total` counts them all. */
  readonly problems: ConfigProblem[];
  readonly total: number;

  constructor(problems: ConfigProblem[]) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    super(formatProblems(shown, problems.length).join('\n'));
    this.name = 'ConfigError';
    this.problems = shown;
    this.total = problems.length;
  }

  /** Every line to show: each problem, then "... and N more" when some were left out. */
  lines(): string[] {
    return formatProblems(this.problems, this.total);
  }
}

function formatProblems(shown: ConfigProblem[], total: number): string[] {
  const lines = shown.map(formatProblem);
  if (total > shown.length) lines.push(`... and ${total - shown.length} more`);
  return lines;
}

/** Values and file names in a problem come from the file: neutralised before a terminal or the journal. */
export function formatProblem(p: ConfigProblem): string {
  return neutralise(`${p.where}: ${p.path || '(top level)'}: ${p.message}`);
}

export function pathToString(path: Segment[]): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s;
}

export function sortProblems(ps: ConfigProblem[]): ConfigProblem[] {
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

export function schemaProblems(errors: ErrorObject[], locate: Locator): ConfigProblem[] {
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
