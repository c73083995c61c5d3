// Reads haip.yaml into a Config: YAML with positions, one ajv pass over the schema, then the checks a
// schema cannot express. Every problem is reported at once as FILE:LINE:COL: field.path: message.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import Ajv from 'ajv';
import { LineCounter, parseDocument, visit } from 'yaml';
import { Config } from '../model';
import { configSchema } from './schema';
import { semanticProblems } from './checks';
import { toConfig } from './convert';
import { Locator, yamlLocator } from './positions';
import { ConfigError, ConfigProblem, schemaProblems, sortProblems } from './problems';
import { RawConfig } from './raw';
import { parseTarget } from '../sys/probeTarget';

export { ConfigError, formatProblem, pathToString } from './problems';
export type { ConfigProblem } from './problems';
export { DEFAULTS, parseDuration } from './convert';
export type { RawConfig } from './raw';

export const EX_CONFIG = 78;

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
  // logLevel 'error': yaml's warnings land in doc.warnings, which are config errors here; none goes to the console.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true, logLevel: 'error' });
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
