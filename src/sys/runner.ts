// Runs one external program (ip, nft, conntrack) with argv, never a shell. An interface so tests can
// substitute a fake kernel; the exit code is data for the caller to judge.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ip`/`nft`/... with argv; exists so tests can put a fake kernel behind it. */
export interface Runner {
  run(argv: string[], input?: string): Promise<RunResult>;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(`${argv.join(' ')}: exit ${result.code}: ${result.stderr.trim() || result.stdout.trim() || 'no output'}`);
    this.name = 'CommandError';
  }
}

/** Runs and insists on one of the accepted exit codes. */
export async function runChecked(runner: Runner, argv: string[], accept = [0], input?: string): Promise<RunResult> {
  const r = await runner.run(argv, input);
  if (!accept.includes(r.code)) throw new CommandError(argv, r);
  return r;
}

/** Output kept from one command: a runaway child must not grow haip without bound. */
export const MAX_STDOUT = 256 << 20;
export const MAX_STDERR = 64 << 10;

export class ProcessRunner implements Runner {
  constructor(
    private readonly binary: string,
    private readonly timeoutMs = 5000,
  ) {}

  run(argv: string[], input?: string): Promise<RunResult> {
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      let settled = false;
      const done = (r: RunResult) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(r);
        }
      };
      const child = spawn(this.binary, argv, {
        env: { ...process.env, LC_ALL: 'C' },
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done({ code: 124, stdout, stderr: stderr + `\ntimed out after ${this.timeoutMs} ms` });
      }, this.timeoutMs);
      child.stdout!.on('data', (d) => {
        stdout += d;
        if (stdout.length > MAX_STDOUT) {
          child.kill('SIGKILL');
          done({ code: 125, stdout: '', stderr: `${this.binary}: more than ${MAX_STDOUT} bytes of output, killed` });
        }
      });
      child.stderr!.on('data', (d) => {
        if (stderr.length < MAX_STDERR) stderr += String(d).slice(0, MAX_STDERR - stderr.length);
      });
      child.on('error', (err) => done({ code: 127, stdout, stderr: `${this.binary}: ${err.message}` }));
      child.on('close', (code, signal) => done({ code: code ?? 128, stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr }));
      if (input !== undefined) child.stdin!.end(input);
    });
  }
}
