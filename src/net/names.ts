// Names for haip's tables and protocol in iproute2's drop-in files, so `ip route show table T1` and
// `proto haip` read well. Purely cosmetic: haip itself always speaks numbers.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Config } from '../model';

export function nameFiles(config: Config): { path: string; text: string }[] {
  const header = '# Written by haip from its config; edits here are replaced.\n';
  const out: { path: string; text: string }[] = [];
  if (config.rtTablesFile) {
    const lines = Object.entries(config.tables).map(([name, n]) => `${n}\t${name}\n`);
    out.push({ path: config.rtTablesFile, text: header + lines.join('') });
  }
  if (config.rtProtosFile) out.push({ path: config.rtProtosFile, text: `${header}${config.protocol}\thaip\n` });
  return out;
}

/** Writes the files that differ; returns the problems instead of throwing. */
export function writeNameFiles(config: Config): string[] {
  const problems: string[] = [];
  for (const { path, text } of nameFiles(config)) {
    try {
      let current: string | undefined;
      try {
        current = readFileSync(path, 'utf8');
      } catch {}
      if (current === text) continue;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(`${path}.tmp`, text);
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      problems.push(`cannot write ${path}: ${(err as Error).message}`);
    }
  }
  return problems;
}

export function removeNameFiles(config: Config): void {
  for (const { path } of nameFiles(config)) rmSync(path, { force: true });
}
