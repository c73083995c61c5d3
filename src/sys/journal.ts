// journald's native protocol (systemd-journald.service(8), "native protocol"): one datagram per entry to
// /run/systemd/journal/socket holding KEY=VALUE lines; a value with a newline in it is sent as KEY, a
// newline, its length as a 64-bit little-endian number, the bytes and a newline. Fields of our own
// (HAIP_LINK=isp1) are what make `journalctl -u haip HAIP_LINK=isp1` work; plain stdout cannot carry them.
import { DatagramSender } from './datagram';

export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** What journald accepts as a field name: upper case, digits, underscores, not starting with one. */
const FIELD_NAME = /^[A-Z0-9][A-Z0-9_]{0,63}$/;

/** One journal entry in the native protocol's wire form. */
export function encodeEntry(fields: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (!FIELD_NAME.test(key)) throw new Error(`not a journal field name: ${JSON.stringify(key)}`);
    if (!value.includes('\n')) {
      parts.push(Buffer.from(`${key}=${value}\n`));
      continue;
    }
    const bytes = Buffer.from(value);
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(bytes.length));
    parts.push(Buffer.from(`${key}\n`), size, bytes, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Where structured log entries go; exists so the log can be tested without a journal. */
export interface JournalSink {
  /** False when the entry could not be handed over: the caller writes it elsewhere. */
  send(fields: Record<string, string>): boolean;
  /** Resolves once what was sent is out (or after `waitMs`): the last lines before exit must not be lost. */
  close(waitMs?: number): Promise<void> | void;
}

/** Entries to journald through the datagram helper. */
export class JournalSender implements JournalSink {
  private readonly sender: DatagramSender;

  constructor(socketPath: string, problem: (msg: string) => void, perl = 'perl') {
    this.sender = new DatagramSender(socketPath, 'journal', problem, perl);
  }

  send(fields: Record<string, string>): boolean {
    return this.sender.usable && this.sender.send(encodeEntry(fields));
  }

  close(waitMs = 0): Promise<void> {
    return this.sender.close(waitMs);
  }
}
