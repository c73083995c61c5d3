// The reply parser: what iputils `ping -n -O` prints, turned into one outcome per echo.
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

