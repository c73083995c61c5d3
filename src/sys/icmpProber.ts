// ICMP probes through the one echo helper (icmpHelper.ts): a stream per (source, device, target, pace),
// its echoes judged and paced by the helper, its outcomes read here one line each. Same contract as the
// ping streams (pingStream.ts): a probe waits for the echoes of one round, alive at the first answer;
// lastAnswer says when the target last answered in time, for the silence detector.
import { ChildProcess } from 'node:child_process';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ICMP_HELPER } from './icmpHelper';
import { BOOST_HOLD_MS, awaitEchoes, sampling } from './pingStreamBooster';
import { EchoOutcome } from './pingStreamReply';
import { AutoProber, StreamProber } from './pingStream';
import { NodePingProber, Prober, ProbeHints, ProbeResult } from './prober';
import { startPerlHelper } from './perlHelper';

/** A stream no probe asked for in this long is dropped (source changed, link removed). */
const IDLE_MS = 10_000;
/** A stream the helper refused, or a helper that died, is tried again at most this often. */
const RETRY_MS = 1000;
/**
 * A helper that had got going and then died is started again at once, at most once per this long:
 * waiting RETRY_MS would cost a fast profile's link its next rounds (an outage the link never had),
 * and a helper that dies at every start still waits RETRY_MS between tries.
 */
const FREE_RESTART_MS = 10_000;

export type HelperLine =
  | { kind: 'ready' }
  | { kind: 'echo'; id: number; outcome: EchoOutcome; why?: string }
  | { kind: 'fail'; id: number; message: string }
  | { kind: 'boost'; id: number }
  | { kind: 'other' };

/** One line of the helper's output. Its bytes are judged there; here only the shape is trusted. */
export function parseHelperLine(line: string): HelperLine {
  if (line === 'ready') return { kind: 'ready' };
  let m = /^(\d{1,9}) (\d{1,5}) ok (\d{1,7}(?:\.\d{1,3})?)$/.exec(line);
  if (m) return { kind: 'echo', id: Number(m[1]), outcome: { seq: Number(m[2]), alive: true, rttMs: Number(m[3]) } };
  m = /^(\d{1,9}) (\d{1,5}) lost(?: (.{1,200}))?$/.exec(line);
  if (m) return { kind: 'echo', id: Number(m[1]), outcome: { seq: Number(m[2]), alive: false }, ...(m[3] ? { why: m[3] } : {}) };
  m = /^(\d{1,9}) fail (.{1,300})$/.exec(line);
  if (m) return { kind: 'fail', id: Number(m[1]), message: m[2] };
  m = /^(\d{1,9}) boost$/.exec(line);
  if (m) return { kind: 'boost', id: Number(m[1]) };
  return { kind: 'other' };
}

/** The helper's `add` request for one stream; undefined when a field could break the line. */
export function addRequest(id: number, s: { source: string; device?: string; target: string; gapMs: number; quietGapMs: number; timeoutMs: number; holdMs: number; size?: number }): string | undefined {
  const family = isIPv6(s.target) ? 6 : 4;
  const device = s.device ?? '-';
  // Interface names are at most 15 bytes without spaces or '/' (the kernel's dev_valid_name); addresses are checked by the helper.
  if (!/^[^\s/]{1,15}$/.test(device) || !/^[0-9a-fA-F.:]+$/.test(s.source) || !/^[0-9a-fA-F.:]+$/.test(s.target)) return undefined;
  const ms = (x: number) => String(Math.max(1, Math.round(x)));
  return `add ${id} ${family} ${s.source} ${device} ${s.target} ${ms(s.gapMs)} ${ms(s.quietGapMs)} ${ms(s.timeoutMs)} ${ms(s.holdMs)} ${s.size ?? '-'}`;
}

type Listener = (o: EchoOutcome | { failed: string }) => void;

/** The echoes of one target as the helper reports them. */
class IcmpStream {
  lastUsed = Date.now();
  /** When an echo was last answered within the timeout (Date.now()), or the stream made. */
  lastAnswerAt = Date.now();
  error?: string;
  failedAt = -Infinity;
  private listeners = new Set<Listener>();

  constructor(
    readonly id: number,
    readonly device: string | undefined,
  ) {}

  tell(o: EchoOutcome | { failed: string }) {
    if ('failed' in o) {
      this.error = o.failed;
      this.failedAt = Date.now();
    } else if (o.alive) this.lastAnswerAt = Date.now();
    for (const l of [...this.listeners]) l(o);
  }

  /** Waits for `samples` echoes from now on: alive at the first answer, a miss when all are lost. */
  next(samples: number, deadlineMs: number): Promise<ProbeResult> {
    this.lastUsed = Date.now();
    if (this.error) return Promise.resolve({ alive: false, error: this.error });
    return awaitEchoes(this.listeners, samples, deadlineMs, () => `no word from the ICMP helper for ${deadlineMs} ms`);
  }
}

function streamKey(target: string, source: string, timeoutMs: number, hints?: ProbeHints): string {
  const { gapMs, quietGapMs } = sampling(hints?.intervalMs ?? timeoutMs);
  return `${source} ${hints?.device ?? ''} ${target} ${gapMs} ${quietGapMs} ${timeoutMs} ${hints?.size ?? ''}`;
}

/** Probes every ICMP target through one perl child; `unavailable` says why it cannot here (then ping streams). */
export class IcmpProber implements Prober {
  private helper: ChildProcess | null = null;
  private ready = false;
  private startedAt = -Infinity;
  /** The next start need not wait RETRY_MS (the last helper had got going); when that was last used. */
  private freeRestart = false;
  private freeRestartAt = -Infinity;
  private streams = new Map<string, IcmpStream>();
  private byId = new Map<number, IcmpStream>();
  private nextId = 1;
  private sweeper?: NodeJS.Timeout;
  private lastError?: string;
  /** Set when this host cannot run the helper at all (no perl, no raw sockets, no clock): AutoProber then pings. */
  unavailable?: string;

  constructor(
    private readonly perl = 'perl',
    private readonly boostHoldMs = BOOST_HOLD_MS,
  ) {}

  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    const { samples, gapMs, quietGapMs } = sampling(hints?.intervalMs ?? timeoutMs);
    const key = streamKey(target, source, timeoutMs, hints);
    let s = this.streams.get(key);
    if (s?.error && Date.now() - s.failedAt >= RETRY_MS) {
      this.drop(key, s);
      s = undefined;
    }
    if (!s) {
      s = this.open(key, { source, device: hints?.device, target, gapMs, quietGapMs, timeoutMs, holdMs: this.boostHoldMs, size: hints?.size });
      this.sweepLater();
    }
    return s.next(samples, samples * quietGapMs + timeoutMs + 1000);
  }

  lastAnswer(target: string, source: string, timeoutMs: number, hints?: ProbeHints): number | undefined {
    return this.streams.get(streamKey(target, source, timeoutMs, hints))?.lastAnswerAt;
  }

  /** The helper's pid while it runs, for the curious (bench, tests). */
  pids(): number[] {
    return this.helper?.pid !== undefined ? [this.helper.pid] : [];
  }

  forget(device: string) {
    for (const [k, s] of this.streams) if (s.device === device) this.drop(k, s);
  }

  close() {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const h = this.helper;
    this.helper = null;
    h?.stdin?.end();
    h?.kill('SIGTERM');
    this.failAll('stopped');
  }

  private open(key: string, spec: Parameters<typeof addRequest>[1]): IcmpStream {
    const id = this.nextId++;
    if (this.nextId > 1e9) this.nextId = 1;
    const s = new IcmpStream(id, spec.device);
    this.streams.set(key, s);
    this.byId.set(id, s);
    const request = addRequest(id, spec);
    const helper = this.helper ?? this.start();
    if (!request) s.tell({ failed: `cannot probe ${spec.target} from ${spec.source} on ${spec.device}: not an address or interface name` });
    else if (!helper?.stdin?.writable) s.tell({ failed: this.lastError ?? 'ICMP helper not running' });
    else helper.stdin.write(request + '\n');
    return s;
  }

  private drop(key: string, s: IcmpStream) {
    this.streams.delete(key);
    this.byId.delete(s.id);
    if (!s.error) this.helper?.stdin?.write(`del ${s.id}\n`);
  }

  private start(): ChildProcess | null {
    const now = performance.now();
    if (now - this.startedAt < RETRY_MS && !this.freeRestart) return null;
    if (this.freeRestart && now - this.startedAt < RETRY_MS) this.freeRestartAt = now;
    this.freeRestart = false;
    this.startedAt = now;
    this.ready = false;
    const child = startPerlHelper(this.perl, ICMP_HELPER, (l) => this.line(l), (why) => {
      if (this.helper !== child) return;
      this.helper = null;
      this.lastError = `ICMP helper (${this.perl}) ${why}`;
      // One that never got going (no perl, no clock over lo) will not on the next try either.
      if (!this.ready) this.unavailable = this.lastError;
      else this.freeRestart = performance.now() - this.freeRestartAt >= FREE_RESTART_MS;
      this.failAll(this.lastError);
    });
    this.helper = child;
    return child;
  }

  private line(text: string) {
    const l = parseHelperLine(text);
    if (l.kind === 'ready') this.ready = true;
    if (l.kind !== 'echo' && l.kind !== 'fail') return;
    const s = this.byId.get(l.id);
    if (!s) return; // dropped meanwhile
    if (l.kind === 'echo') s.tell(l.outcome);
    else {
      // Raw sockets refused: this host (a container without CAP_NET_RAW) pings instead.
      if (/socket: (Operation not permitted|Permission denied)/.test(l.message)) this.unavailable = `ICMP helper: ${l.message}`;
      s.tell({ failed: l.message });
    }
  }

  private failAll(message: string) {
    const all = [...this.streams.values()];
    this.streams.clear();
    this.byId.clear();
    for (const s of all) s.tell({ failed: message });
  }

  private sweepLater() {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [k, s] of this.streams) if (now - s.lastUsed > IDLE_MS) this.drop(k, s);
    }, IDLE_MS / 2);
    this.sweeper.unref();
  }
}

/**
 * The daemon's ICMP prober: the helper first, one `ping` per target where the helper cannot run, one
 * ping per probe where ping cannot stream (busybox). HAIP_ICMP=ping in the daemon's environment skips
 * the helper: the way back if it misbehaves somewhere, and the bench's side-by-side.
 */
export function icmpProber(warn: (msg: string) => void, env: NodeJS.ProcessEnv = process.env): Prober {
  return new AutoProber(new StreamProber(), new NodePingProber(), warn, env.HAIP_ICMP === 'ping' ? undefined : new IcmpProber());
}
