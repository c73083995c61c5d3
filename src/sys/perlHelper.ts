// A long-lived perl child speaking lines on its pipes (the socket helper, the ICMP helper): started
// with a clean environment, its stderr's tail kept for the reason it died, never keeping node alive.
import { ChildProcess, spawn } from 'node:child_process';
import { LineBuffer } from './text';

/**
 * Starts `perl -e SCRIPT`. `onLine` gets each stdout line (bounded: a runaway line is cut); `onGone`
 * once, with why it could not start or exited and the last line of its stderr.
 */
export function startPerlHelper(perl: string, script: string, onLine: (line: string) => void, onGone: (why: string) => void): ChildProcess {
  const child = spawn(perl, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  let stderr = '';
  let gone = false;
  const lines = new LineBuffer(onLine, 65536);
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (d: string) => lines.push(d));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-300)));
  child.stdin!.on('error', () => {});
  const end = (why: string) => {
    if (gone) return;
    gone = true;
    onGone(`${why}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`);
  };
  child.on('error', (err) => end(`could not start: ${err.message}`));
  child.on('exit', (code, signal) => end(`exited (${signal ?? code})`));
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}
