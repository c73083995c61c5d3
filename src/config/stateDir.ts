// Where a config says status.json lives, without validating the rest: `haip status` must answer fast and
// for a non-root user, and it only reads files there. A state_dir that is not an absolute path (which
// the daemon would refuse) is not taken; the caller falls back to /run/haip.
import { parse } from 'yaml';
import { DEFAULTS } from './convert';
import { readConfigText } from './read';

export function stateDirOf(file: string): string {
  const raw = parse(readConfigText(file), { maxAliasCount: 100, logLevel: 'silent' }) as unknown;
  const dir = raw && typeof raw === 'object' ? (raw as { state_dir?: unknown }).state_dir : undefined;
  return typeof dir === 'string' && dir.startsWith('/') ? dir : DEFAULTS.stateDir;
}
