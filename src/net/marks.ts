// The connection marks of haip's links, shared by sticky connections, their rules and policies.
import { Config } from '../model';

/** A link's sticky mark; configs built without one (tests, the legacy command line) get position + 1. */
export function linkMark(config: Config, index: number): number {
  return config.links[index].mark ?? index + 1;
}

export function markMask(config: Config): number {
  return (config.markMask ?? 0xff) >>> 0;
}
