// Selective conntrack flush for sticky connections: when an uplink goes down, only the connections
// marked for it are deleted (conntrack-tools), so their next packet is routed and NATed afresh through
// the uplink now active, while every other connection keeps its state.
import { Runner } from '../sys/runner';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export function flushArgv(mark: number, mask: number, family: 4 | 6 = 4): string[] {
  return ['-D', '-f', family === 6 ? 'ipv6' : 'ipv4', '--mark', `${hex(mark)}/${hex(mask)}`];
}

/**
 * Deletes the conntrack entries of one family whose mark & mask == mark; the number deleted.
 * conntrack exits 1 when nothing matched ("0 flow entries have been deleted"): that is success here.
 */
export async function flushMarked(conntrack: Runner, mark: number, mask: number, family: 4 | 6 = 4): Promise<number> {
  const argv = flushArgv(mark, mask, family);
  const r = await conntrack.run(argv);
  const m = /(\d+) flow entries have been deleted/.exec(r.stderr + r.stdout);
  if ((r.code === 0 || r.code === 1) && m) return Number(m[1]);
  throw new Error(`conntrack ${argv.join(' ')}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim() || 'no output'}`);
}
