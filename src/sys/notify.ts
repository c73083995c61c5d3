// Picks the Notifier for this process: sd_notify under systemd (NOTIFY_SOCKET set), a no-op otherwise.
import { Log } from '../log';
import { Notifier } from './notifier';
import { createSdNotifier } from './sdnotify';

/** sd_notify through a long-lived helper under systemd; a no-op without NOTIFY_SOCKET. */
export function createNotifier(env: NodeJS.ProcessEnv, log: Log): Notifier {
  return createSdNotifier(env, log);
}

/** Half of WATCHDOG_USEC in ms when the watchdog is meant for this process, else null. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}
