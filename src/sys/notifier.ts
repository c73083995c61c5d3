// Messages to the service manager (sd_notify): READY, STATUS, WATCHDOG, RELOADING, STOPPING.

/** Talks to the service manager; an interface so tests can record instead of sending. */
export interface Notifier {
  notify(fields: Record<string, string>): void;
  close(): void;
}

export const nullNotifier: Notifier = { notify() {}, close() {} };
