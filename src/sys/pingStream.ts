// One long-lived `ping -O` per (source, target), read line by line. A probe spawns nothing, so
// sub-second intervals stay cheap, and a round looks at several echoes, each judged by its own timeout:
// silent loss is seen one timeout after it starts, while random loss rarely fails a whole round.
import { ChildProcess, spawn } from 'node:child_process';
import { Prober, ProbeHints, ProbeResult, sizeArgs, sourceArgs } from './prober';
import { LineBuffer } from './text';

/** Echoes sent per round interval: more samples per round make random loss unlikely to fail a round. */
export const MAX_SAMPLES = 4;
/**
 * While every echo is answered, a target is pinged at a quarter of that pace (once a round); the first
 * echo left unanswered starts a booster at the full pace beside it, kept until BOOST_HOLD_MS pass without
 * a miss. Wakeups, not bytes, are what probing costs a small router (a process woken for each echo and
 * node woken for each line), so a healthy link costs a quarter, while a link that loses echoes is watched
 * as closely as before. docs/decisions.md, "Detection by silence".
 */
export const QUIET_FACTOR = 4;
export const BOOST_HOLD_MS = 10_000;
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
export function sampling(intervalMs: number): { samples: number; gapMs: number; quietGapMs: number } {
  const samples = Math.max(1, Math.min(MAX_SAMPLES, Math.floor(intervalMs / MIN_GAP_MS)));
  const gapMs = Math.max(MIN_GAP_MS, Math.round(intervalMs / samples));
  return { samples, gapMs, quietGapMs: gapMs * Math.min(QUIET_FACTOR, samples) };
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
    /** Told at the first sign of a miss: -O's "no answer yet", an ICMP error, a reply past the timeout. */
    private readonly onMiss: () => void = () => {},
  ) {}

  line(text: string) {
    const p = parsePingLine(text);
    if (p.kind === 'reply') {
      if (p.rttMs > this.timeoutMs) this.onMiss();
      this.settle(p.seq, p.rttMs <= this.timeoutMs, p.rttMs);
    } else if (p.kind === 'error') {
      this.onMiss();
      this.settle(p.seq, false);
    } else if (p.kind === 'unanswered' && !this.done.has(p.seq) && !this.timers.has(p.seq)) {
      this.onMiss();
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

/** One ping process and the judge of its echoes. */
class Pinger {
  child?: ChildProcess;
  /** Why this ping cannot probe right now (ping missing, refused its arguments, exited). */
  error?: string;
  private spawnedAt = -Infinity;
  private judge?: EchoJudge;

  constructor(
    private readonly binary: string,
    readonly source: string,
    readonly device: string | undefined,
    readonly target: string,
    readonly gapMs: number,
    readonly timeoutMs: number,
    private readonly tell: (o: EchoOutcome | { failed: string }) => void,
    private readonly onMiss: () => void,
    private readonly onExit: (code: number | null, stderr: string, ranMs: number) => void,
    private readonly payload: string[] = [],
  ) {}

  /** Starts ping unless it runs, or died less than a second ago. */
  ensure() {
    if (this.child || Date.now() - this.spawnedAt < RESPAWN_GAP_MS) return;
    this.spawnedAt = Date.now();
    const secs = (ms: number) => (ms / 1000).toFixed(3).replace(/\.?0+$/, '');
    const argv = ['-n', '-O', '-i', secs(this.gapMs), '-W', secs(Math.max(this.timeoutMs, 1)), ...sourceArgs(this.source, this.device), ...this.payload, this.target];
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
    }, this.onMiss);
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
      this.onExit(code, stderr, Date.now() - this.spawnedAt);
    });
  }

  stop(why = 'stopped') {
    this.judge?.close();
    const c = this.child;
    this.child = undefined;
    c?.kill('SIGTERM');
    this.fail(why);
  }

  private fail(why: string) {
    this.error = why;
    this.tell({ failed: why });
  }
}

/**
 * The echoes of one target from one source: a quiet ping once a round while every echo is answered, and
 * a booster at the full pace beside it from the first miss until BOOST_HOLD_MS pass without one.
 */
class PingStream {
  lastUsed = Date.now();
  /** When an echo was last answered within the timeout (Date.now()), or the stream made: silence counts from there. */
  lastAnswerAt = Date.now();
  /** The booster runs until then (Date.now()). */
  private boostUntil = 0;
  /** Boosts when the quiet ping's next answer is late: an echo lost is boosted for before ping can say so. */
  private expectTimer?: NodeJS.Timeout;
  private lastRttMs = 0;
  private listeners = new Set<(o: EchoOutcome | { failed: string }) => void>();
  private readonly quiet: Pinger;
  private readonly booster?: Pinger;

  constructor(
    private readonly binary: string,
    readonly source: string,
    readonly device: string | undefined,
    readonly target: string,
    gapMs: number,
    private readonly quietGapMs: number,
    private readonly timeoutMs: number,
    private readonly boostHoldMs: number,
    onExit: (code: number | null, stderr: string, ranMs: number) => void,
    payload: string[] = [],
  ) {
    const miss = () => this.boost();
    this.quiet = new Pinger(binary, source, device, target, quietGapMs, timeoutMs, (o) => this.tell(o), miss, onExit, payload);
    // The booster's own end (stopped when the hold is over, or failing) is no word on the link.
    if (quietGapMs > gapMs)
      this.booster = new Pinger(binary, source, device, target, gapMs, timeoutMs, (o) => 'failed' in o || this.tell(o), miss, () => {}, payload);
  }

  get error(): string | undefined {
    return this.quiet.error;
  }

  get running(): boolean {
    return this.quiet.child !== undefined;
  }

  pids(): number[] {
    return [this.quiet.child?.pid, this.booster?.child?.pid].filter((p): p is number => p !== undefined);
  }

  /** Starts the quiet ping unless it runs; stops the booster once its hold is over. */
  ensure() {
    const fresh = !this.quiet.child;
    this.quiet.ensure();
    if (fresh && this.quiet.child) this.expect();
    if (this.booster?.child && Date.now() >= this.boostUntil) this.booster.stop();
  }

  private boost() {
    if (!this.booster) return;
    this.boostUntil = Date.now() + this.boostHoldMs;
    if (this.quiet.child) this.booster.ensure();
  }

  /**
   * The next quiet answer is due one gap after the last, plus twice its RTT, 20 ms and a sixteenth of the
   * gap: iputils paces `-i 1` at 1022-1024 ms and `-i 0.2` at 202-205 ms (measured in the lab), so a bare
   * 20 ms would boost at every echo of the default profile.
   */
  private expect() {
    if (!this.booster || this.booster.child) return;
    clearTimeout(this.expectTimer);
    this.expectTimer = setTimeout(() => this.boost(), this.quietGapMs * (17 / 16) + Math.min(this.timeoutMs, 2 * this.lastRttMs + 20));
    this.expectTimer.unref();
  }

  /** Waits for `samples` echoes sent from now on: alive at the first answer, a miss when all are lost. */
  next(samples: number, deadlineMs: number): Promise<ProbeResult> {
    this.lastUsed = Date.now();
    if (this.error && !this.running) return Promise.resolve({ alive: false, error: this.error });
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
      const timer = setTimeout(() => finish({ alive: false, error: this.running ? `no word from ${this.binary} for ${deadlineMs} ms` : this.error }), deadlineMs);
      this.listeners.add(listener);
    });
  }

  stop() {
    clearTimeout(this.expectTimer);
    this.booster?.stop();
    this.quiet.stop();
  }

  private tell(o: EchoOutcome | { failed: string }) {
    if ('alive' in o && o.alive) {
      this.lastAnswerAt = Date.now();
      this.lastRttMs = o.rttMs ?? 0;
      this.expect();
    }
    for (const l of [...this.listeners]) l(o);
  }
}

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
