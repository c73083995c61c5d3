// One long-lived `ping -O` per (source, target), read line by line. A probe spawns nothing, so
// sub-second intervals stay cheap, and a round looks at several echoes, each judged by its own timeout:
// silent loss is seen one timeout after it starts, while random loss rarely fails a whole round.
import { ChildProcess, spawn } from 'node:child_process';
import { Prober, ProbeHints, ProbeResult, sourceArgs } from './prober';
import { LineBuffer } from './text';

/** Echoes sent per round interval: more samples per round make random loss unlikely to fail a round. */
export const MAX_SAMPLES = 4;
/**
 * ping's gap between echoes never goes below this (iputils lets root go to 2 ms). 50 ms gives the fast
 * profile (200 ms) four echoes a round too: 11 in a row must be lost on every target before its 600 ms
 * of silence takes a link down.
 */
const MIN_GAP_MS = 50;
/** A stream that died is started again at most this often. */
const RESPAWN_GAP_MS = 1000;
/** A stream no probe asked for in this long is stopped (source changed, link removed). */
const IDLE_MS = 10_000;

/** How many echoes a round of `intervalMs` looks at, and the gap between them. */
export function sampling(intervalMs: number): { samples: number; gapMs: number } {
  const samples = Math.max(1, Math.min(MAX_SAMPLES, Math.floor(intervalMs / MIN_GAP_MS)));
  return { samples, gapMs: Math.max(MIN_GAP_MS, Math.round(intervalMs / samples)) };
}

/** What one echo came to: answered in time, or not. */
export interface EchoOutcome {
  seq: number;
  alive: boolean;
  rttMs?: number;
}

export type PingLine =
  | { kind: 'reply'; seq: number; rttMs: number }
  | { kind: 'unanswered'; seq: number } // -O: the next echo is being sent and this one has no reply yet
  | { kind: 'error'; seq: number } // "From GW icmp_seq=N Destination Net Unreachable" and the like
  | { kind: 'other' };

export function parsePingLine(line: string): PingLine {
  let m = /^\d+ bytes from .*icmp_seq=(\d+).* time=([0-9.]+) ms/.exec(line);
  if (m) return { kind: 'reply', seq: Number(m[1]), rttMs: Number(m[2]) };
  m = /^no answer yet for icmp_seq=(\d+)/.exec(line);
  if (m) return { kind: 'unanswered', seq: Number(m[1]) };
  m = /^From .*icmp_seq=(\d+)/.exec(line);
  if (m) return { kind: 'error', seq: Number(m[1]) };
  return { kind: 'other' };
}

/**
 * Judges the echoes of one ping from its lines: a reply within `timeoutMs` is alive; an echo is lost when
 * an ICMP error names it, or `timeoutMs` after it was sent (ping -O says so one gap after sending).
 * Pure apart from the timers it is given, so it can be tested with a fake clock.
 */
export class EchoJudge {
  private done = new Set<number>();
  private order: number[] = [];
  private timers = new Map<number, { cancel(): void }>();

  constructor(
    private readonly timeoutMs: number,
    private readonly gapMs: number,
    private readonly emit: (o: EchoOutcome) => void,
    private readonly after: (ms: number, fn: () => void) => { cancel(): void },
  ) {}

  line(text: string) {
    const p = parsePingLine(text);
    if (p.kind === 'reply') this.settle(p.seq, p.rttMs <= this.timeoutMs, p.rttMs);
    else if (p.kind === 'error') this.settle(p.seq, false);
    else if (p.kind === 'unanswered' && !this.done.has(p.seq) && !this.timers.has(p.seq)) {
      const wait = this.timeoutMs - this.gapMs;
      if (wait <= 0) this.settle(p.seq, false);
      else this.timers.set(p.seq, this.after(wait, () => this.settle(p.seq, false)));
    }
  }

  close() {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private settle(seq: number, alive: boolean, rttMs?: number) {
    if (this.done.has(seq)) return; // a late reply after its echo was given up, or a second error line
    this.timers.get(seq)?.cancel();
    this.timers.delete(seq);
    this.done.add(seq);
    this.order.push(seq);
    // icmp_seq wraps at 65536: remember only the recent ones.
    if (this.order.length > 256) this.done.delete(this.order.shift()!);
    this.emit(alive ? { seq, alive, rttMs } : { seq, alive });
  }
}

class PingStream {
  child?: ChildProcess;
  /** Why this stream cannot probe right now (ping missing, refused its arguments, exited). */
  error?: string;
  lastUsed = Date.now();
  /** When an echo was last answered within the timeout (Date.now()), or the stream made: silence counts from there. */
  lastAnswerAt = Date.now();
  private spawnedAt = -Infinity;
  private listeners = new Set<(o: EchoOutcome | { failed: string }) => void>();
  private judge?: EchoJudge;

  constructor(
    private readonly binary: string,
    readonly source: string,
    readonly device: string | undefined,
    readonly target: string,
    readonly gapMs: number,
    readonly timeoutMs: number,
    private readonly onExit: (s: PingStream, code: number | null, stderr: string, ranMs: number) => void,
  ) {}

  /** Starts ping unless it runs, or died less than a second ago. */
  ensure() {
    if (this.child || Date.now() - this.spawnedAt < RESPAWN_GAP_MS) return;
    this.spawnedAt = Date.now();
    const secs = (ms: number) => (ms / 1000).toFixed(3).replace(/\.?0+$/, '');
    const argv = ['-n', '-O', '-i', secs(this.gapMs), '-W', secs(Math.max(this.timeoutMs, 1)), ...sourceArgs(this.source, this.device), this.target];
    let child: ChildProcess;
    try {
      child = spawn(this.binary, argv, { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      this.fail(`cannot run ${this.binary}: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.error = undefined;
    const judge = new EchoJudge(this.timeoutMs, this.gapMs, (o) => this.tell(o), (ms, fn) => {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    });
    this.judge = judge;
    let stderr = '';
    // Bounded: a ping that prints 50 MB without a newline must not grow a 776 MB buffer.
    const lines = new LineBuffer((l) => judge.line(l));
    child.stdout!.on('data', (d) => lines.push(d));
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-500);
    });
    child.on('error', (err) => {
      // ENOENT and friends: no 'close' with a code follows reliably, so fail here.
      if (this.child !== child) return;
      this.child = undefined;
      judge.close();
      this.fail(`cannot run ${this.binary}: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      judge.close();
      if (this.child !== child) return;
      this.child = undefined;
      const why = stderr.trim().split('\n').pop() || `exited ${signal ?? code}`;
      this.fail(`${this.binary} ${sourceArgs(this.source, this.device).join(' ')} ${this.target}: ${why}`);
      this.onExit(this, code, stderr, Date.now() - this.spawnedAt);
    });
  }

  /** Waits for `samples` echoes sent from now on: alive at the first answer, a miss when all are lost. */
  next(samples: number, deadlineMs: number): Promise<ProbeResult> {
    this.lastUsed = Date.now();
    if (this.error && !this.child) return Promise.resolve({ alive: false, error: this.error });
    return new Promise((resolve) => {
      let lost = 0;
      const finish = (r: ProbeResult) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(r);
      };
      const listener = (o: EchoOutcome | { failed: string }) => {
        if ('failed' in o) finish({ alive: false, error: o.failed });
        else if (o.alive) finish({ alive: true, rttMs: o.rttMs, lost });
        else if (++lost >= samples) finish({ alive: false, lost });
      };
      const timer = setTimeout(() => finish({ alive: false, error: this.child ? `no word from ${this.binary} for ${deadlineMs} ms` : this.error }), deadlineMs);
      this.listeners.add(listener);
    });
  }

  stop() {
    this.judge?.close();
    const c = this.child;
    this.child = undefined;
    c?.kill('SIGTERM');
    this.fail('stopped');
  }

  private fail(why: string) {
    this.error = why;
    this.tell({ failed: why });
  }

  private tell(o: EchoOutcome | { failed: string }) {
    if ('alive' in o && o.alive) this.lastAnswerAt = Date.now();
    for (const l of [...this.listeners]) l(o);
  }
}

function streamKey(target: string, source: string, timeoutMs: number, hints?: ProbeHints): string {
  return `${source} ${hints?.device ?? ''} ${target} ${sampling(hints?.intervalMs ?? timeoutMs).gapMs} ${timeoutMs}`;
}

/** Probes through long-lived ping processes, one per (source, target, pace). */
export class StreamProber implements Prober {
  private streams = new Map<string, PingStream>();
  private sweeper?: NodeJS.Timeout;
  /** Set once ping refuses the streaming options (busybox): AutoProber then spawns instead. */
  unsupported?: string;

  constructor(private readonly binary = 'ping') {}

  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    const { samples, gapMs } = sampling(hints?.intervalMs ?? timeoutMs);
    const key = streamKey(target, source, timeoutMs, hints);
    let s = this.streams.get(key);
    if (!s) {
      s = new PingStream(this.binary, source, hints?.device, target, gapMs, timeoutMs, (_stream, code, stderr, ranMs) => {
        // A ping without -O (busybox) refuses the options at once; iputils never does for these.
        if (code !== 0 && ranMs < 2000 && /invalid option|unrecognized option|unknown option|usage/i.test(stderr)) this.unsupported = stderr.trim().split('\n')[0];
      });
      this.streams.set(key, s);
      this.sweepLater();
    }
    s.ensure();
    return s.next(samples, samples * gapMs + timeoutMs + 1000);
  }

  /** undefined until a probe has made this stream (the rounds judge until then). */
  lastAnswer(target: string, source: string, timeoutMs: number, hints?: ProbeHints): number | undefined {
    return this.streams.get(streamKey(target, source, timeoutMs, hints))?.lastAnswerAt;
  }

  /** Live ping children, for the curious (bench, tests). */
  pids(): number[] {
    return [...this.streams.values()].map((s) => s.child?.pid).filter((p): p is number => p !== undefined);
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
