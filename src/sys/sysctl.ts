// The kernel's per-network-namespace settings under /proc/sys, behind an interface so tests can
// substitute it. A name is given as its path components (an interface may hold a dot: eth0.100).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Sysctl {
  /** The value, trimmed; undefined when the setting does not exist (an absent interface). Throws on other errors. */
  read(path: string[]): string | undefined;
  /** Throws with the errno (EROFS under a sandbox that keeps /proc/sys read-only, EACCES). */
  write(path: string[], value: string): void;
}

/** sysctl(8)'s spelling: dots between the components, a dot inside one written as a slash. */
export function sysctlName(path: string[]): string {
  return path.map((p) => p.replace(/\./g, '/')).join('.');
}

export class ProcSysctl implements Sysctl {
  constructor(private readonly root = '/proc/sys') {}

  private file(path: string[]): string {
    // Interface names come from the config; none may climb out of /proc/sys.
    if (path.some((p) => p === '' || p === '.' || p === '..' || p.includes('/') || p.includes('\0'))) throw new Error(`not a sysctl name: ${sysctlName(path)}`);
    return join(this.root, ...path);
  }

  read(path: string[]): string | undefined {
    try {
      return readFileSync(this.file(path), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  write(path: string[], value: string): void {
    // No O_CREAT: /proc/sys files exist or the write fails, and nothing is ever created.
    writeFileSync(this.file(path), value + '\n', { flag: 'r+' });
  }
}
