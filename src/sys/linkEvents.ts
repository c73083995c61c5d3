// Tells haip that interfaces, addresses, routes or rules changed, so it re-reads and reconciles at once
// instead of waiting for the next probe. `ip monitor` prints no JSON, so events only say "look again".
import { ChildProcess, spawn } from 'node:child_process';
import { Clock, TimerHandle } from './clock';
import { LineBuffer } from './text';

/** Change notifications from the kernel; exists so tests can fire them by hand. */
export interface LinkEvents {
  start(onChange: (what: string) => void): void;
  stop(): void;
}

export class IpMonitor implements LinkEvents {
  private child?: ChildProcess;
  private restart?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onError: (msg: string) => void,
    private readonly binary = 'ip',
  ) {}

  start(onChange: (what: string) => void): void {
    this.stopped = false;
    const child = spawn(this.binary, ['-4', 'monitor', 'link', 'address', 'route', 'rule'], {
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const lines = new LineBuffer((l) => void (l.trim() && onChange(l.trim())));
    child.stdout!.on('data', (d) => lines.push(d));
    child.stderr!.on('data', (d) => this.onError(`ip monitor: ${String(d).trim().slice(0, 500)}`));
    child.on('error', (err) => this.onError(`ip monitor: ${err.message}`));
    child.on('close', (code, signal) => {
      if (this.stopped || this.child !== child) return;
      this.onError(`ip monitor exited (${signal ?? code}); restarting in 1 s`);
      // Whatever changed while it was away is caught by a full re-read when it comes back.
      this.restart = this.clock.setTimeout(() => {
        this.start(onChange);
        onChange('ip monitor restarted');
      }, 1000);
    });
  }

  stop(): void {
    this.stopped = true;
    this.restart?.cancel();
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}
