// The real Notifier: sd_notify(3) datagrams to the service manager's NOTIFY_SOCKET, sent by a long-lived
// helper child (datagram.ts says why). The unit says NotifyAccess=all so systemd accepts them from it;
// docs/decisions.md ("sd_notify goes through one long-lived perl helper") has the reasons and
// the alternatives.
import type { Log } from '../log';
import { DatagramSender } from './datagram';
import { type Notifier, nullNotifier } from './notifier';

/** The part of the log the notifier uses. */
export type NotifyLog = Pick<Log, 'warning' | 'debug'>;

/** Renders fields as an sd_notify message: one VAR=VALUE per line. */
export function formatMessage(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`)
    .join('\n');
}

/** Sends sd_notify messages through the datagram helper. */
export class SdNotifier implements Notifier {
  private readonly sender: DatagramSender;

  constructor(socketPath: string, log: NotifyLog, perl = 'perl') {
    this.sender = new DatagramSender(socketPath, 'sd_notify', (m) => log.warning(`${m}; the service manager may not hear from haip`), perl);
  }

  notify(fields: Record<string, string>): void {
    this.sender.send(Buffer.from(formatMessage(fields)));
  }

  close(): void {
    void this.sender.close();
  }
}

/** The notifier for this process: SdNotifier under systemd (NOTIFY_SOCKET set), otherwise a no-op. */
export function createSdNotifier(env: NodeJS.ProcessEnv, log: NotifyLog): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return nullNotifier;
  return new SdNotifier(socketPath, log);
}
