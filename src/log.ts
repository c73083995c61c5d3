// Logging through winston with syslog levels. Under journald (JOURNAL_STREAM) each entry goes over the
// journal's native protocol with its structured fields (HAIP_LINK=...), or, when that cannot be used, as
// a stdout line starting with its `<N>` priority, with no timestamp or colour; on a terminal, timestamps
// and colour.
import winston from 'winston';
import { eventVariables, HookEvent, LogLevel } from './model';
import type { JournalSink } from './sys/journal';
import { neutralise } from './sys/text';

/** Structured fields for the journal (KEY: value); plain lines leave them out. */
export type LogFields = Record<string, string>;

export interface Log {
  error(msg: string, fields?: LogFields): void;
  warning(msg: string, fields?: LogFields): void;
  notice(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  setLevel(level: LogLevel): void;
}

/**
 * One journal MESSAGE_ID per kind of event, fixed for good: `journalctl MESSAGE_ID=...` finds every
 * switch whatever the wording of its line. 128-bit ids generated once, as sd-id128(3) asks.
 */
export const MESSAGE_IDS: Record<HookEvent['event'], string> = {
  switch: 'd4cd4cf6bfb6466c97c6a0d4ab768113',
  'link-up': '455cc310c205433a93f285650fa7da79',
  'link-degraded': '428ac7dcd3224fc18e8d3b17be6ae4d8',
  'link-down': 'cad33f2baa4d46f7a9885a15bc18d474',
};

/**
 * MESSAGE_IDs of the other lines an admin must be able to look up (`journalctl -x` explains each from
 * systemd/haip.catalog, shipped in /usr/lib/systemd/catalog; a unit test keeps the two in step).
 */
export const NOTICE_IDS = {
  /** The kernel refused a default route: a switch in main, or a link's own table. */
  'route-refused': '0f40bf0f3aa64bb793ad65750693077f',
  /** A config haip will not run: at start, or a reload that keeps the running config. */
  'config-refused': '96fb4bb983184341a499e1fed73cd6b2',
  /** haip's picture of the links is no longer current (probe rounds or ip hung): the watchdog is starved. */
  stale: '58c65cc780d24c1f8e75f4387715a9e0',
} as const;

export const noticeFields = (kind: keyof typeof NOTICE_IDS): LogFields => ({ MESSAGE_ID: NOTICE_IDS[kind] });

/** The journal fields of a switch or link change: the hooks' environment and the event's MESSAGE_ID. */
export function eventFields(ev: HookEvent): LogFields {
  return { MESSAGE_ID: MESSAGE_IDS[ev.event], ...eventVariables(ev) };
}

const PRIORITY: Record<LogLevel, number> = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 };
const LEVELS: LogLevel[] = ['error', 'warning', 'notice', 'info', 'debug'];

export type LogStyle = 'journal' | 'terminal' | 'plain';

export function logStyle(env: NodeJS.ProcessEnv, isTTY: boolean): LogStyle {
  if (env.JOURNAL_STREAM) return 'journal';
  return isTTY ? 'terminal' : 'plain';
}

/** The more verbose of the configured level and what -v/-vv ask for. */
export function effectiveLevel(configured: LogLevel, verbosity: number): LogLevel {
  const asked: LogLevel = verbosity >= 2 ? 'debug' : verbosity === 1 ? 'info' : 'error';
  return LEVELS[Math.max(LEVELS.indexOf(configured), LEVELS.indexOf(asked))];
}

// winston exports its Transport base class as `Transport`, which its typings leave out.
type TransportInstance = Exclude<NonNullable<winston.LoggerOptions['transports']>, unknown[]>;
const TransportBase = (winston as unknown as { Transport: new () => TransportInstance }).Transport;

/** Hands each entry to the journal, or writes it as a `<N>` line when the journal cannot take it. */
class JournalTransport extends TransportBase {
  constructor(
    private readonly journal: JournalSink,
    private readonly stream: NodeJS.WritableStream,
  ) {
    super();
  }

  override log(info: { level: string; message: unknown; fields?: LogFields }, next: () => void): void {
    const priority = PRIORITY[info.level as LogLevel] ?? 6;
    const message = String(info.message);
    const entry = { MESSAGE: message, PRIORITY: String(priority), SYSLOG_IDENTIFIER: 'haip', ...info.fields };
    if (!this.journal.send(entry)) this.stream.write(`<${priority}>${message}\n`);
    next();
  }
}

/** With `journal` (style journal only), entries carry their fields over journald's native protocol. */
export function createLog(style: LogStyle, level: LogLevel, stream: NodeJS.WritableStream = process.stdout, journal?: JournalSink): Log {
  const { combine, timestamp, printf, colorize } = winston.format;
  const formats = {
    journal: printf((i) => `<${PRIORITY[i.level as LogLevel] ?? 6}>${i.message}`),
    terminal: combine(timestamp({ format: 'HH:mm:ss.SSS' }), colorize({ level: true }), printf((i) => `${i.timestamp} ${i.level} ${i.message}`)),
    plain: combine(timestamp(), printf((i) => `${i.timestamp} ${i.level}: ${i.message}`)),
  };
  winston.addColors({ error: 'red', warning: 'yellow', notice: 'cyan', info: 'green', debug: 'gray' });
  const logger = winston.createLogger({
    levels: Object.fromEntries(LEVELS.map((l, i) => [l, i])),
    level,
    format: formats[style],
    transports: [style === 'journal' && journal ? new JournalTransport(journal, stream) : new winston.transports.Stream({ stream })],
  });
  // winston formats every message before its transport drops the ones below the level: skip them here,
  // or the per-round debug lines cost more CPU than the probing itself.
  // Messages carry text from outside (hook file names, interface names, stderr): one line each, no escapes,
  // so a newline cannot forge a journal line with its own <N> priority.
  const at = (l: LogLevel) => (msg: string, fields?: LogFields) => void (logger.isLevelEnabled(l) && logger.log(l, neutralise(msg), fields ? { fields } : {}));
  return {
    error: at('error'),
    warning: at('warning'),
    notice: at('notice'),
    info: at('info'),
    debug: at('debug'),
    setLevel: (l) => void (logger.level = l),
  };
}
