// The child-process supervisor: one `ping -O` started, watched, restarted at most once a second, and
// stopped; its lines go to an EchoJudge.
import { ChildProcess, spawn } from 'node:child_process';
import { sourceArgs } from './prober';
import { EchoJudge, EchoOutcome } from './pingStreamReply';
import { LineBuffer } from './text';

/** A stream that died is started again at most this often. */
const RESPAWN_GAP_MS = 1000;

/** One ping process and the judge of its echoes. */
export class Pinger {
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
    /** Payload arguments (`-s SIZE -M do` for path-MTU probes), or none. */
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

