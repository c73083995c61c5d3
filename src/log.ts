// Logging through winston with syslog levels. Under journald (JOURNAL_STREAM) each line starts with
// its `<N>` priority and carries no timestamp or colour; on a terminal, timestamps and colour.
import winston from 'winston';
import { LogLevel } from './model';
import { neutralise } from './sys/text';

export interface Log {
  error(msg: string): void;
  warning(msg: string): void;
  notice(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  setLevel(level: LogLevel): void;
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

export function createLog(style: LogStyle, level: LogLevel, stream: NodeJS.WritableStream = process.stdout): Log {
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
    transports: [new winston.transports.Stream({ stream })],
  });
  // winston formats every message before its transport drops the ones below the level: skip them here,
  // or the per-round debug lines cost more CPU than the probing itself.
  // Messages carry text from outside (hook file names, interface names, stderr): one line each, no escapes,
  // so a newline cannot forge a journal line with its own <N> priority.
  const at = (l: LogLevel) => (msg: string) => void (logger.isLevelEnabled(l) && logger.log(l, neutralise(msg)));
  return {
    error: at('error'),
    warning: at('warning'),
    notice: at('notice'),
    info: at('info'),
    debug: at('debug'),
    setLevel: (l) => void (logger.level = l),
  };
}
