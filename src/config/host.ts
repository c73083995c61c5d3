// What a config must not collide with on this host: protocol numbers that iproute2, DHCP clients and
// routing daemons use (haip deletes every route with its protocol), and iproute2 name files that are not
// haip's (haip rewrites and removes only files carrying its marker line).
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DEFAULTS } from './convert';
import { Locator, Segment } from './positions';
import { ConfigProblem, pathToString } from './problems';
import { RawConfig } from './raw';

/** The first line of every name file haip writes; a file without it is someone else's. */
export const NAMES_MARKER = '# Written by haip from its config; edits here are replaced.';

/**
 * Protocol numbers in use without any rt_protos file saying so: the kernel's (rtnetlink.h), iproute2's
 * rt_protos, and FRR's (zebra's rt_netlink.h). systemd-networkd and NetworkManager use static, dhcp, ra.
 */
export const WELL_KNOWN_PROTOCOLS: Record<number, string> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static',
  8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra', 12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp',
  17: 'mrouted', 18: 'keepalived', 42: 'babel', 99: 'openr',
  186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip', 190: 'ripng', 191: 'nhrp', 192: 'eigrp', 193: 'ldp',
  194: 'sharp', 195: 'pbr', 196: 'zstatic', 197: 'openfabric', 198: 'srte',
};

/** A file as lstat sees it; exists so tests can describe a host without touching /etc. */
export interface HostFiles {
  /** undefined: absent; 'other': not a regular file (symlink, directory, ...); else its text. */
  read(path: string): string | 'other' | undefined;
  list(dir: string): string[];
}

export const realHostFiles: HostFiles = {
  read(path) {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return undefined;
    }
    if (!st.isFile()) return 'other';
    if (st.size > 1 << 20) return 'other';
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return 'other';
    }
  },
  list(dir) {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  },
};

export function isHaipNamesFile(text: string): boolean {
  return text.split('\n', 1)[0] === NAMES_MARKER;
}

/** Names files and the protocol number against what is on this host. */
export function hostProblems(raw: RawConfig, locate: Locator, files: HostFiles): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const problem = (path: Segment[], message: string) => out.push({ where: locate(path), path: pathToString(path), message });
  if (!raw || typeof raw !== 'object') return out;
  const nameFile = (key: 'rt_tables_file' | 'rt_protos_file', dirName: string, fallback: string) => {
    const path = typeof raw[key] === 'string' ? raw[key] : fallback;
    if (basename(dirname(path)) !== dirName || !path.endsWith('.conf'))
      return problem([key], `${path}: haip writes its names only as a .conf file in a ${dirName} directory (iproute2 reads those), such as /etc/iproute2/${dirName}/haip.conf`);
    const now = files.read(path);
    if (now === 'other') problem([key], `${path} exists and is not a regular file: haip leaves it alone; point ${key} at a file of its own`);
    else if (now !== undefined && !isHaipNamesFile(now))
      problem([key], `${path} exists and was not written by haip (its first line is not "${NAMES_MARKER}"): haip never rewrites or removes it; point ${key} at a file of its own`);
  };
  nameFile('rt_tables_file', 'rt_tables.d', DEFAULTS.rtTablesFile);
  nameFile('rt_protos_file', 'rt_protos.d', DEFAULTS.rtProtosFile);
  const protocol = typeof raw.protocol === 'number' ? raw.protocol : DEFAULTS.protocol;
  const protosFile = typeof raw.rt_protos_file === 'string' ? raw.rt_protos_file : DEFAULTS.rtProtosFile;
  const taken = protocolsInUse(files, protosFile);
  const owner = taken.get(protocol);
  if (owner) problem(['protocol'], `protocol ${protocol} is ${owner.name}'s (${owner.from}): haip replaces and deletes every route and rule with its protocol; choose a free number such as ${DEFAULTS.protocol}`);
  return out;
}

/** Numbers named in rt_protos and rt_protos.d/*.conf (next to haip's own file), plus the well-known ones. */
export function protocolsInUse(files: HostFiles, ownFile: string): Map<number, { name: string; from: string }> {
  const taken = new Map<number, { name: string; from: string }>();
  for (const [n, name] of Object.entries(WELL_KNOWN_PROTOCOLS)) taken.set(Number(n), { name, from: 'a well-known number' });
  const dir = dirname(ownFile);
  const sources = [join(dirname(dir), 'rt_protos'), '/usr/share/iproute2/rt_protos', ...files.list(dir).filter((f) => f.endsWith('.conf')).map((f) => join(dir, f))];
  for (const file of new Set(sources)) {
    if (file === ownFile) continue;
    const text = files.read(file);
    if (text === undefined || text === 'other') continue;
    for (const line of text.split('\n')) {
      const m = /^\s*(0x[0-9a-f]+|\d+)\s+(\S+)/i.exec(line);
      if (m && m[2] !== 'haip') taken.set(Number(m[1]), { name: m[2], from: file });
    }
  }
  return taken;
}
