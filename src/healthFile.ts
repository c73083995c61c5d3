// The host's health as one number, for keepalived's track_file (and any script): STATE_DIR/healthy says
// 1 while a link that is up carries the default route (of each family haip routes), and 0 otherwise:
// still starting, every link down, or haip stopped. keepalived treats a missing file as 0 too. Rewritten
// (atomically: keepalived rereads it when a file is renamed onto it) only when the value changes.
import { join } from 'node:path';
import { Family } from './model';
import { activeOf, FileWriter, StatusDoc, StatusSink } from './status';

export const HEALTH_FILE = 'healthy';

/** 1 when, for each family haip routes, a link that is up carries the default route. */
export function healthValue(doc: StatusDoc): 0 | 1 {
  const families = new Set(doc.links.map((l) => l.family ?? 4));
  const fine = (f: Family) => doc.links.some((l) => (l.family ?? 4) === f && l.name === activeOf(doc, f) && l.state === 'up');
  // The kernel is the truth: traffic going another way than haip's choice is not healthy, whatever haip chose.
  if (doc.misrouted) return 0;
  return families.size > 0 && [...families].every(fine) ? 1 : 0;
}

export class HealthFile implements StatusSink {
  private written?: string;

  constructor(
    private readonly stateDir: () => string,
    private readonly files: FileWriter,
  ) {}

  write(doc: StatusDoc): void {
    this.put(healthValue(doc));
  }

  close(): void {
    this.put(0);
  }

  private put(value: 0 | 1) {
    const path = join(this.stateDir(), HEALTH_FILE);
    if (this.written === `${path} ${value}`) return;
    if (this.files.attempt(path, () => `${value}\n`)) this.written = `${path} ${value}`;
  }
}
