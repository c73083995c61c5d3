// ICMP echo to one target from one source address. node-ping spawns the system ping per probe.
import ping from 'ping';

export interface ProbeResult {
  alive: boolean;
  rttMs?: number;
  /** Set when the probe could not be made at all (ping missing, bad address): a failure, loudly. */
  error?: string;
  /** What a probe that was made got instead of an answer (HTTP 503, DNS SERVFAIL, a timeout), for the log. */
  detail?: string;
  /** Echoes this probe saw lost before its answer (a streamed round looks at several); absent: 0 if alive, else 1. */
  lost?: number;
}

/** How a link asks to be probed: its round interval, and `probe.method` from the config. */
export interface ProbeHints {
  intervalMs: number;
  method?: 'auto' | 'spawn' | 'stream';
  /** The link's interface: the probe is bound to it as well as to the source address. */
  device?: string;
  /** ICMP payload bytes, sent with don't-fragment: a path-MTU black hole loses these echoes. */
  size?: number;
}

/** ping's arguments for a full-size echo that must not be fragmented (`-s SIZE -M do`), or none. */
export function sizeArgs(size?: number): string[] {
  return size === undefined ? [] : ['-s', String(size), '-M', 'do'];
}

/**
 * ping's arguments for the source: the address, and the device too (iputils takes `-I` twice, binds the
 * socket to the device with SO_BINDTODEVICE, and the kernel then skips every route through another
 * device), so a probe leaves by its link even when another link has the same address or main has a
 * route that covers the target.
 */
export function sourceArgs(source: string, device?: string): string[] {
  return device ? ['-I', source, '-I', device] : ['-I', source];
}

/** Probes one target (an address or a tcp/http/dns URL) from `source`; exists so tests can substitute scripted answers. */
export interface Prober {
  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult>;
  /**
   * When `target` last answered within `timeoutMs` (clock ms; -Infinity: not yet), for judging a link by
   * its silence; undefined when this prober cannot tell (one ping per probe, socket probes).
   */
  lastAnswer?(target: string, source: string, timeoutMs: number, hints?: ProbeHints): number | undefined;
  /**
   * Drops what is bound to `device`: a socket bound to an interface that was deleted stays bound to the
   * dead ifindex even when an interface of the same name comes back, and would never answer again.
   */
  forget?(device: string): void;
  close?(): void;
}

export class NodePingProber implements Prober {
  async probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    try {
      const r = await ping.promise.probe(target, {
        numeric: true,
        timeout: Math.max(timeoutMs / 1000, 0.001),
        min_reply: 1,
        extra: [...sourceArgs(source, hints?.device), ...sizeArgs(hints?.size)],
      });
      if (r.alive) return { alive: true, rttMs: typeof r.time === 'number' ? r.time : Number(r.time) };
      // node-ping folds "cannot run" into not-alive; its output tells the two apart.
      const out = String((r as any).output ?? '');
      if (/invalid|unknown|cannot|not permitted|bind/i.test(out)) return { alive: false, error: out.trim().split('\n')[0] };
      return { alive: false };
    } catch (err) {
      return { alive: false, error: (err as Error).message };
    }
  }
}
