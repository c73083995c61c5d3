// One long-lived `ping -O` per (source, target), read line by line. A probe spawns nothing, so
// sub-second intervals stay cheap, and a round looks at several echoes, each judged by its own timeout:
// silent loss is seen one timeout after it starts, while random loss rarely fails a whole round.
// The parts: pingStreamReply.ts (the reply parser), pingStreamProcess.ts (the child-process supervisor),
// pingStreamBooster.ts (the pacing policy); this file keeps the streams and picks stream or spawn.
import { Prober, ProbeHints, ProbeResult, sizeArgs } from './prober';
import { BOOST_HOLD_MS, PingStream, sampling } from './pingStreamBooster';

export { BOOST_HOLD_MS, MAX_SAMPLES, QUIET_FACTOR, sampling } from './pingStreamBooster';
export { EchoJudge, EchoOutcome, PingLine, parsePingLine } from './pingStreamReply';

/** A stream no probe asked for in this long is stopped (source changed, link removed). */
const IDLE_MS = 10_000;

function streamKey(target: string, source: string, timeoutMs: number, hints?: ProbeHints): string {
  const { gapMs, quietGapMs } = sampling(hints?.intervalMs ?? timeoutMs);
  return `${source} ${hints?.device ?? ''} ${target} ${gapMs} ${quietGapMs} ${timeoutMs} ${hints?.size ?? ''}`;
}

/** Probes through long-lived ping processes, one per (source, target, pace). */
export class StreamProber implements Prober {
  private streams = new Map<string, PingStream>();
  private sweeper?: NodeJS.Timeout;
  /** Set once ping refuses the streaming options (busybox): AutoProber then spawns instead. */
  unsupported?: string;

  constructor(
    private readonly binary = 'ping',
    private readonly boostHoldMs = BOOST_HOLD_MS,
  ) {}

  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    const { samples, gapMs, quietGapMs } = sampling(hints?.intervalMs ?? timeoutMs);
    const key = streamKey(target, source, timeoutMs, hints);
    let s = this.streams.get(key);
    if (!s) {
      s = new PingStream(this.binary, source, hints?.device, target, gapMs, quietGapMs, timeoutMs, this.boostHoldMs, (code, stderr, ranMs) => {
        // A ping without -O (busybox) refuses the options at once; iputils never does for these.
        if (code !== 0 && ranMs < 2000 && /invalid option|unrecognized option|unknown option|usage/i.test(stderr)) this.unsupported = stderr.trim().split('\n')[0];
      }, sizeArgs(hints?.size));
      this.streams.set(key, s);
      this.sweepLater();
    }
    s.ensure();
    return s.next(samples, samples * quietGapMs + timeoutMs + 1000);
  }

  /** undefined until a probe has made this stream (the rounds judge until then). */
  lastAnswer(target: string, source: string, timeoutMs: number, hints?: ProbeHints): number | undefined {
    return this.streams.get(streamKey(target, source, timeoutMs, hints))?.lastAnswerAt;
  }

  /** Live ping children, for the curious (bench, tests). */
  pids(): number[] {
    return [...this.streams.values()].flatMap((s) => s.pids());
  }

  forget(device: string) {
    for (const [k, s] of this.streams)
      if (s.device === device) {
        s.stop();
        this.streams.delete(k);
      }
  }

  close() {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const s of this.streams.values()) s.stop();
    this.streams.clear();
  }

  private sweepLater() {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [k, s] of this.streams)
        if (now - s.lastUsed > IDLE_MS) {
          s.stop();
          this.streams.delete(k);
        }
    }, IDLE_MS / 2);
    this.sweeper.unref();
  }
}

/**
 * probe.method: `stream` always streams, `spawn` always runs one ping per probe (node-ping), `auto`
 * streams unless this host's ping cannot (then spawns, and says so once).
 */
export class AutoProber implements Prober {
  private warned = false;

  constructor(
    private readonly stream: StreamProber,
    private readonly spawner: Prober,
    private readonly warn: (msg: string) => void,
  ) {}

  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    if (this.streams(hints)) return this.stream.probe(target, source, timeoutMs, hints);
    if (hints?.method !== 'spawn' && !this.warned) {
      this.warned = true;
      this.warn(`ping cannot stream (${this.stream.unsupported}); probing with one ping per probe instead`);
    }
    return this.spawner.probe(target, source, timeoutMs, hints);
  }

  /** Only streams can tell; one ping per probe is judged by rounds alone. */
  lastAnswer(target: string, source: string, timeoutMs: number, hints?: ProbeHints): number | undefined {
    return this.streams(hints) ? this.stream.lastAnswer(target, source, timeoutMs, hints) : undefined;
  }

  private streams(hints?: ProbeHints): boolean {
    const method = hints?.method ?? 'auto';
    return method === 'stream' || (method === 'auto' && !this.stream.unsupported);
  }

  forget(device: string) {
    this.stream.forget(device);
    this.spawner.forget?.(device);
  }

  close() {
    this.stream.close();
    this.spawner.close?.();
  }
}
