// Reads haip.yaml into a Config: YAML with positions, one ajv pass over the schema, then the checks a
// schema cannot express. Every problem is reported at once as FILE:LINE:COL: field.path: message.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import Ajv from 'ajv';
import { LineCounter, parseDocument, visit } from 'yaml';
import { Config } from '../model';
import { configSchema } from './schema';
import { controlCharProblems, semanticProblems } from './checks';
import { toConfig } from './convert';
import { HostFiles, hostProblems, realHostFiles } from './host';
import { Locator, yamlLocator } from './positions';
import { ConfigError, ConfigProblem, schemaProblems, sortProblems } from './problems';
import { RawConfig } from './raw';
import { parseTarget } from '../sys/probeTarget';

export { ConfigError, formatProblem, pathToString } from './problems';
export type { ConfigProblem } from './problems';
export { DEFAULTS, parseDuration } from './convert';
export { MAX_CONFIG_BYTES, readConfigText } from './read';
import { readConfigText } from './read';
export type { RawConfig } from './raw';

export const EX_CONFIG = 78;

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator() {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    ajv.addFormat('ipv4', { type: 'string', validate: (s: string) => isIPv4(s) });
    ajv.addFormat('ipv6', { type: 'string', validate: (s: string) => isIPv6(s) && !s.includes('%') });
    ajv.addFormat('ipaddr', { type: 'string', validate: (s: string) => isIP(s) !== 0 && !s.includes('%') });
    ajv.addFormat('ipv4prefix', { type: 'string', validate: isIPv4Prefix });
    ajv.addFormat('ipv6prefix', { type: 'string', validate: (s: string) => isIPv6Prefix(s) && s.includes('/') });
    ajv.addFormat('ipprefix', { type: 'string', validate: (s: string) => isIPv4Prefix(s) || isIPv6Prefix(s) });
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

export function isIPv6Prefix(s: string): boolean {
  const m = /^([^/%]+)(?:\/(\d{1,3}))?$/.exec(s);
  return !!m && isIPv6(m[1]) && (m[2] === undefined || Number(m[2]) <= 128);
}

/** Linux's dev_valid_name(): what the kernel accepts as an interface name. */
export function isInterfaceName(s: string): boolean {
  // IFNAMSIZ counts bytes: "eth-é" is 6 characters but 7 bytes.
  const bytes = Buffer.byteLength(s);
  return bytes >= 1 && bytes <= 15 && s !== '.' && s !== '..' && !/[/:\s]/.test(s);
}



/** The config file as `check`, `run`, a reload and `flush` read it: also checked against this host. */
export function loadConfigFile(file: string, host: HostFiles = realHostFiles): Config {
  return parseConfigText(readConfigText(file), file, host);
}

/** `host`: also check the protocol and name files against this host's files (see host.ts). */
export function parseConfigText(text: string, file: string, host?: HostFiles): Config {
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
  return buildConfig(raw, file, yamlLocator(file, doc, lines), host);
}

/** Validates a plain object (from YAML or from the legacy command line) and builds the Config. */
export function buildConfig(raw: unknown, source: string, locate: Locator = () => source, host?: HostFiles): Config {
  const validate = validator();
  const problems: ConfigProblem[] = [];
  // Loops, not push(...xs): a file with 125,000 problems overflowed the stack as spread arguments.
  const control = controlCharProblems(raw, locate);
  // A field with a control character is told that, not also that it is no valid address or name.
  const controlled = new Set(control.map((p) => p.path));
  if (!validate(raw)) for (const p of schemaProblems(validate.errors ?? [], locate)) if (!controlled.has(p.path)) problems.push(p);
  for (const p of control) problems.push(p);
  // The cross-field checks run on a bad file too, so one pass shows every problem.
  for (const p of semanticProblems(raw as RawConfig, locate)) problems.push(p);
  if (host) for (const p of hostProblems(raw as RawConfig, locate, host)) problems.push(p);
  if (problems.length) throw new ConfigError(sortProblems(problems));
  return toConfig(raw as RawConfig, source);
}
