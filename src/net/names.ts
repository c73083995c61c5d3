// Names for haip's tables and protocol in iproute2's drop-in files, so `ip route show table T1` and
// `proto haip` read well. Purely cosmetic: haip itself always speaks numbers.
// Only files carrying NAMES_MARKER are rewritten or removed: `rt_tables_file: /etc/iproute2/rt_tables`
// must never replace the admin's own file (the config check refuses it; this is the second net).
import { isHaipNamesFile, NAMES_MARKER, realHostFiles } from '../config/host';
import { Config } from '../model';
import { removeFileIf, writeFileSafely } from '../sys/files';

export function nameFiles(config: Config): { path: string; text: string }[] {
  const header = `${NAMES_MARKER}\n`;
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
      const current = realHostFiles.read(path);
      if (current === text) continue;
      if (current === 'other' || (current !== undefined && !isHaipNamesFile(current))) {
        problems.push(`not writing ${path}: it exists and is not haip's (no "${NAMES_MARKER}" line)`);
        continue;
      }
      writeFileSafely(path, text);
    } catch (err) {
      problems.push(`cannot write ${path}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Removes haip's name files; returns the paths left alone because they are not haip's. */
export function removeNameFiles(config: Config): string[] {
  const kept: string[] = [];
  for (const { path } of nameFiles(config)) {
    const now = realHostFiles.read(path);
    if (now === undefined) continue;
    if (!removeFileIf(path, isHaipNamesFile, () => (typeof now === 'string' ? now : ''))) kept.push(path);
  }
  return kept;
}
