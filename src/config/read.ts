// Reads a config file as text, refusing what is not a plain file of sane size (a fifo would block the
// daemon, a device or a huge file would fill it). No validator here: `haip status` reads through it too.
import { closeSync, constants, fstatSync, openSync, readSync, Stats } from 'node:fs';
import { ConfigError } from './problems';

/** A config larger than this is not a config: refused before parsing (`/dev/zero`, a runaway generator). */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads the config without blocking and within MAX_CONFIG_BYTES: a fifo, a device or a directory is
 * refused at once (a fifo would hang `check`, and a reload with it the whole daemon).
 */
export function readConfigText(file: string): string {
  const refuse = (message: string) => new ConfigError([{ where: file, path: '', message }]);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw refuse(`cannot read: ${e.code ?? e.message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(`not a regular file (${fileKind(st)}): the config must be a plain file`);
    if (st.size > MAX_CONFIG_BYTES) throw refuse(`${st.size} bytes: a config is at most ${MAX_CONFIG_BYTES} bytes`);
    // Read one byte past the limit: a file that grew since fstat is refused too.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > MAX_CONFIG_BYTES) throw refuse(`more than ${MAX_CONFIG_BYTES} bytes: a config is at most ${MAX_CONFIG_BYTES} bytes`);
    return buf.toString('utf8', 0, n);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw refuse(`cannot read: ${e.code ?? e.message}`);
  } finally {
    closeSync(fd);
  }
}

function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a fifo';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}
