// Runs the admin's hooks on every switch and link change: each executable in hooks_dir, and the
// original haip's --toggle command. Time-limited and never awaited by the probe loop.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Log } from './log';

export interface HookEvent {
  event: 'link-up' | 'link-degraded' | 'link-down' | 'switch';
  link: string;
  interface: string;
  state: string;
  previous: string;
  gateway?: string;
}

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
  const env: Record<string, string> = {
    HAIP_EVENT: ev.event,
    HAIP_LINK: ev.link,
    HAIP_INTERFACE: ev.interface,
    HAIP_STATE: ev.state,
    HAIP_PREVIOUS: ev.previous,
  };
  if (ev.gateway) env.HAIP_GATEWAY = ev.gateway;
  return env;
}

export class ProcessHooks implements HookRunner {
  /** Running hooks by process group: a hook's own children die with it. */
  private running = new Set<number>();

  constructor(
    private readonly settings: () => HookSettings,
    private readonly log: Log,
  ) {}

  run(ev: HookEvent): void {
    const s = this.settings();
    const env = { ...process.env, ...hookEnv(ev) };
    for (const file of this.executables(s.hooksDir)) this.spawn(file, [file], env, s.hookTimeoutMs);
    if (s.toggle && ev.event === 'switch') {
      // The original haip ran --toggle through the shell with IFNAME and GATEWAY set.
      this.spawn(`--toggle ${s.toggle}`, ['/bin/sh', '-c', s.toggle], { ...env, IFNAME: ev.interface, GATEWAY: ev.gateway ?? '' }, s.hookTimeoutMs);
    }
  }

  private executables(dir: string): string[] {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return [];
    }
    return names
      .filter((n) => !n.startsWith('.') && !n.endsWith('~') && !/\.dpkg-(old|new|dist|tmp)$/.test(n))
      .map((n) => join(dir, n))
      .filter((p) => {
        try {
          const st = statSync(p);
          return st.isFile() && (st.mode & 0o111) !== 0;
        } catch {
          return false;
        }
      });
  }

  stop(): void {
    for (const pgid of this.running) killGroup(pgid);
    this.running.clear();
  }

  private spawn(label: string, argv: string[], env: NodeJS.ProcessEnv, timeoutMs: number) {
    let out = '';
    const started = Date.now();
    // A group of its own, so that killing a hook also kills whatever it started (a `sleep`, a curl).
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pgid = child.pid;
    if (pgid) this.running.add(pgid);
    const timer = setTimeout(() => {
      this.log.warning(`hook ${label}: still running after ${timeoutMs} ms, killed`);
      if (pgid) killGroup(pgid);
    }, timeoutMs);
    const keep = (d: Buffer) => {
      if (out.length < 4096) out += d;
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('error', (err) => {
      clearTimeout(timer);
      if (pgid) this.running.delete(pgid);
      this.log.error(`hook ${label}: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pgid) this.running.delete(pgid);
      const text = out.trim().replace(/\s*\n\s*/g, ' | ');
      const msg = `hook ${label}: ${signal ? `killed by ${signal}` : `exit ${code}`} after ${Date.now() - started} ms${text ? `: ${text}` : ''}`;
      if (code === 0) this.log.info(msg);
      else this.log.warning(msg);
    });
  }
}

function killGroup(pgid: number) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
