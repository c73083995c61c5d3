// Asks the kernel which route each lookup matches: one `ip -batch` for them all (one process per pass,
// whatever the table's size: a FIB lookup costs the same with 1M routes). `ip` prints nothing for a
// lookup that fails (unreachable), so a lookup of 127.0.0.1, which always matches the local table,
// follows each one and marks where its answer ends.
import { MAIN_TABLE } from '../model';
import { Runner } from '../sys/runner';
import { Lookup } from './effective';
import { parseRoutes } from './iproute';

const MARK = 'route get fibmatch 127.0.0.1';
const safe = (a: string) => /^[0-9a-fA-F:.]+$/.test(a);

export function batchText(lookups: Lookup[]): string {
  return lookups.map((q) => `route get fibmatch ${q.dst}${q.from ? ` from ${q.from}` : ''}\n${MARK}\n`).join('');
}

function isMark(line: string): boolean {
  try {
    const v = JSON.parse(line) as { dst?: string; type?: string }[];
    return Array.isArray(v) && v.length === 1 && v[0].dst === '127.0.0.1' && (v[0].type === 'local' || v[0].type === '2');
  } catch {
    return false;
  }
}

/** Fills in each lookup's route from `ip -j -N -force -batch -` output; pure. */
export function parseBatch(lookups: Lookup[], stdout: string): Lookup[] {
  const lines = stdout.split('\n').filter((l) => l.trim());
  const out: Lookup[] = [];
  let i = 0;
  for (const q of lookups) {
    let answer: string | undefined;
    while (i < lines.length && !isMark(lines[i])) answer ??= lines[i++];
    if (i >= lines.length) break; // cut short: the rest is unknown
    i++;
    const route = answer ? parseRoutes(answer, MAIN_TABLE, q.family)[0] : undefined;
    out.push(route ? { ...q, route } : q);
  }
  return out;
}

/** The kernel's answers; none when `ip` cannot be asked (a fake kernel, a missing binary). */
export async function readLookups(ip: Runner, lookups: Lookup[]): Promise<Lookup[]> {
  const asked = lookups.filter((q) => safe(q.dst) && (!q.from || safe(q.from)));
  if (!asked.length) return [];
  try {
    const r = await ip.run(['-j', '-N', '-force', '-batch', '-'], batchText(asked));
    return parseBatch(asked, r.stdout);
  } catch {
    return [];
  }
}
