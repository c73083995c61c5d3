// The two address families' sides of the daemon, IPv4 and IPv6: each one's link runtimes and its choice
// of link. What lifecycle and status ask of both at once lives here, so the daemon only wires.
import { Config, Family, familyLink, LinkConfig, LinkHealth } from '../model';
import { Lane } from './pass';
import { LinkMonitor } from '../health/monitor';
import { LinkRegistry, LinkRuntime } from './registry';
import { forgetLinks, newSelection } from './selector';

export class Lanes {
  readonly both: [Lane, Lane];

  constructor(newMonitor: (l: LinkConfig, family: Family) => LinkMonitor, now: () => number) {
    const lane = (family: Family): Lane => ({ family, links: new LinkRegistry((l) => newMonitor(l, family), now, family), sel: newSelection(family, now()) });
    this.both = [lane(4), lane(6)];
  }

  of(family: Family): Lane {
    return this.both[family === 4 ? 0 : 1];
  }

  /** Every link runtime of every family. */
  runtimes(): LinkRuntime[] {
    return this.both.flatMap((l) => l.links.all());
  }

  health(name: string, family: Family): LinkHealth | undefined {
    return this.of(family).links.get(name)?.health;
  }

  /** The config's links, each family with those that have targets of it (and only those targets). */
  add(config: Config): void {
    for (const lane of this.both) for (const l of familyLinks(config, lane.family)) lane.links.add(l);
  }

  /** A new config: unchanged links keep their state and probes; the choice forgets links that went. */
  reload(next: Config, probing: boolean): { changed: string[]; removed: string[] } {
    const diffs = this.both.map((lane) => lane.links.reload(familyLinks(next, lane.family), probing));
    for (const lane of this.both) lane.sel = forgetLinks(lane.sel, (n) => lane.links.has(n));
    return {
      changed: [...new Set(diffs.flatMap((d) => d.changed))],
      removed: [...new Set(diffs.flatMap((d) => d.removed))].filter((n) => !next.links.some((l) => l.name === n)),
    };
  }

  startProbing(): void {
    for (const lane of this.both) lane.links.startProbing();
  }

  stopProbing(): void {
    for (const lane of this.both) lane.links.stopProbing();
  }

  /** Where the default routes stay when haip stops, for its last line. */
  leftAs(): string {
    const [four, six] = this.both;
    return `the default route stays ${four.sel.routedBy ? `on ${four.sel.routedBy}` : 'as it is'}${six.links.size ? `, IPv6's ${six.sel.routedBy ? `on ${six.sel.routedBy}` : 'as it is'}` : ''}`;
  }
}

function familyLinks(config: Config, family: Family): LinkConfig[] {
  return config.links.flatMap((l) => familyLink(l, family) ?? []);
}
