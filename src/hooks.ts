// Runs the admin's hooks on every switch and link change: each executable in hooks_dir, and the
// original haip's --toggle command. Time-limited, a few at a time, and never awaited by the probe loop.
// Root runs them, so only files that no other account could have written are run (keepalived's
// enable_script_security, networkd-dispatcher's ownership check).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Log } from './log';
import { eventVariables, HookEvent } from './model';
import { unsafeDirectory } from './sys/files';

/** Hooks running at once; the rest wait their turn, so 500 hooks cannot stall the daemon. */
export const MAX_RUNNING_HOOKS = 4;
/** Hook runs waiting beyond this are dropped (and logged): a flapping link must not queue without end. */
export const MAX_QUEUED_HOOKS = 256;
/** The only variable hooks get from haip's own environment; NOTIFY_SOCKET and WATCHDOG_* never reach them. */
const HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Every hook and whatever it starts inherits this, so stop() finds even those that called setsid. */
const TAG_VAR = 'HAIP_HOOK_OF';


/** Starts hooks for an event; exists so tests can record events instead of spawning. */
export interface HookRunner {
  run(ev: HookEvent): void;
  /** Ends hooks still running (the daemon is stopping). */
  stop?(): void;
}

export interface HookSettings {
  hooksDir: string;
  hookTimeoutMs: number;
  toggle?: string;
}

export function hookEnv(ev: HookEvent): Record<string, string> {
  return { PATH: HOOK_PATH, ...eventVariables(ev) };
}

/** Why root must not run `file`, or undefined when it may: see the module comment. */
export function unsafeHook(file: string, uid = process.getuid?.() ?? 0): string | undefined {
  let real: string;
  try {
    real = realpathSync(file);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  const st = statSync(real);
  const via = real === file ? '' : ` (a link to ${real})`;
  if (!st.isFile()) return `not a regular file${via}`;
  if (st.uid !== 0 && st.uid !== uid) return `owned by uid ${st.uid}, not root${via}`;
  if (st.mode & 0o022) return `writable by ${st.mode & 0o002 ? 'every account' : `group ${st.gid}`} (mode ${(st.mode & 0o7777).toString(8)})${via}`;
  const dir = unsafeDirectory(dirname(real), uid, false);
  return dir ? `${dir}${via}` : undefined;
}

interface Job {
  label: string;
  argv: string[];
  env: Record<string, string>;
  timeoutMs: number;
}

export class ProcessHooks implements HookRunner {
  /** Running hooks by process group: a hook's own children die with it. */
  private running = new Set<number>();
  private queue: Job[] = [];
  /** Refusals already logged, so each refused hook is named once, not on every event. */
  private refused = new Set<string>();
  private readonly tag = `${process.pid}-${randomBytes(6).toString('hex')}`;
  private stopped = false;

  constructor(
    private readonly settings: () => HookSettings,
    private readonly log: Log,
  ) {}

  run(ev: HookEvent): void {
    if (this.stopped) return;
    const s = this.settings();
    const env = { ...hookEnv(ev), [TAG_VAR]: this.tag };
    for (const file of this.executables(s.hooksDir)) this.enqueue({ label: file, argv: [file], env, timeoutMs: s.hookTimeoutMs });
    // The original's --toggle knew IPv4 only: IPv6 switches do not run it.
    if (s.toggle && ev.event === 'switch' && (ev.family ?? 4) === 4) {
      // The original haip ran --toggle through the shell with IFNAME and GATEWAY set.
      this.enqueue({ label: `--toggle ${s.toggle}`, argv: ['/bin/sh', '-c', s.toggle], env: { ...env, IFNAME: ev.interface, GATEWAY: ev.gateway ?? '' }, timeoutMs: s.hookTimeoutMs });
    }
  }

  private executables(dir: string): string[] {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return [];
    }
    const dirProblem = unsafeDirectory(dir, undefined, false);
    if (dirProblem) {
      this.refuse(dir, `not running any hook from ${dir}: ${dirProblem}`);
      return [];
    }
    return names
      .filter((n) => !n.startsWith('.') && !n.endsWith('~') && !/\.dpkg-(old|new|dist|tmp)$/.test(n))
      .map((n) => join(dir, n))
      .filter((p) => {
        try {
          if ((statSync(p).mode & 0o111) === 0) return false;
          const why = unsafeHook(p);
          if (why) this.refuse(p, `not running hook ${p}: ${why}`);
          return !why;
        } catch {
          return false;
        }
      });
  }

  private refuse(key: string, msg: string) {
    if (this.refused.has(`${key}|${msg}`)) return;
    this.refused.add(`${key}|${msg}`);
    this.log.error(msg);
  }

  private enqueue(job: Job) {
    if (this.queue.length >= MAX_QUEUED_HOOKS) {
      this.log.warning(`hook ${job.label}: ${MAX_QUEUED_HOOKS} hook runs already waiting, this one dropped`);
      return;
    }
    this.queue.push(job);
    this.next();
  }

  private next() {
    while (!this.stopped && this.running.size < MAX_RUNNING_HOOKS && this.queue.length) this.spawn(this.queue.shift()!);
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    for (const pgid of this.running) killGroup(pgid);
    this.running.clear();
    // Whatever a hook left behind in a session of its own (setsid, a daemon) still carries the tag.
    killTagged(TAG_VAR, this.tag);
  }

  private spawn({ label, argv, env, timeoutMs }: Job) {
    let out = '';
    const started = Date.now();
    // A group of its own, so that killing a hook also kills whatever it started (a `sleep`, a curl).
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pgid = child.pid;
    // A pid-less child failed to spawn; its 'error' follows and frees nothing.
    const slot = pgid ?? -1;
    this.running.add(slot);
    let finished = false;
    const finish = () => {
      if (finished) return false;
      finished = true;
      clearTimeout(timer);
      this.running.delete(slot);
      this.next();
      return true;
    };
    const timer = setTimeout(() => {
      this.log.warning(`hook ${label}: still running after ${timeoutMs} ms, killed`);
      if (pgid) killGroup(pgid);
    }, timeoutMs);
    const keep = (d: Buffer) => {
      if (out.length < 4096) out += String(d).slice(0, 4096 - out.length);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('error', (err) => {
      if (finish()) this.log.error(`hook ${label}: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      if (!finish()) return;
      const text = out.trim().replace(/\s*\n\s*/g, ' | ');
      const msg = `hook ${label}: ${signal ? `killed by ${signal}` : `exit ${code}`} after ${Date.now() - started} ms${text ? `: ${text}` : ''}`;
      if (code === 0) this.log.info(msg);
      else this.log.warning(msg);
    });
  }
}

function killGroup(pgid: number) {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Kills every process whose environment carries NAME=VALUE (readable for root's own processes in /proc). */
function killTagged(name: string, value: string) {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
      if (env.includes(needle)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone, or not ours to read.
    }
  }
}
