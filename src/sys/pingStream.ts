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

/** What the streamed ICMP path needs of its engine: the echo helper, or a ping per target. */
export interface StreamEngine extends Prober {
  /** Why this engine cannot run here; set once it has found out. */
  unavailable?: string;
}

/**
 * probe.method: `stream` and `auto` stream every echo: through the ICMP helper (icmpProber.ts) where it
 * runs, else one `ping -O` per target; `auto` spawns one ping per probe when ping cannot stream either
 * (busybox). `spawn` always runs one ping per probe (node-ping). Each fallback is said once.
 */
export class AutoProber implements Prober {
  private warned = new Set<string>();

  constructor(
    private readonly stream: StreamProber,
    private readonly spawner: Prober,
    private readonly warn: (msg: string) => void,
    private readonly helper?: StreamEngine,
  ) {}

  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    const engine = this.engine(hints);
    return engine.probe(target, source, timeoutMs, hints).then((r) => {
      // The helper found out with this very probe (no raw sockets here): the round asks ping instead.
      if (engine === this.helper && this.helper.unavailable && !r.alive) return this.engine(hints).probe(target, source, timeoutMs, hints);
      return r;
    });
  }

  /** Only streams can tell; one ping per probe is judged by rounds alone. */
  lastAnswer(target: string, source: string, timeoutMs: number, hints?: ProbeHints): number | undefined {
    const engine = this.engine(hints);
    return engine === this.spawner ? undefined : engine.lastAnswer?.(target, source, timeoutMs, hints);
  }

  private engine(hints?: ProbeHints): Prober {
    const method = hints?.method ?? 'auto';
    if (method === 'spawn') return this.spawner;
    if (this.helper && !this.helper.unavailable) return this.helper;
    if (this.helper) this.once(`the ICMP helper cannot run here (${this.helper.unavailable}); probing with one ping per target instead`);
    if (method === 'stream' || !this.stream.unsupported) return this.stream;
    this.once(`ping cannot stream (${this.stream.unsupported}); probing with one ping per probe instead`);
    return this.spawner;
  }

  private once(msg: string) {
    if (this.warned.has(msg)) return;
    this.warned.add(msg);
    this.warn(msg);
  }

  forget(device: string) {
    this.helper?.forget?.(device);
    this.stream.forget(device);
    this.spawner.forget?.(device);
  }

  close() {
    this.helper?.close?.();
    this.stream.close();
    this.spawner.close?.();
  }
}
