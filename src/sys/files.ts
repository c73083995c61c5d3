// Files a root daemon writes where other accounts may look: never through a link someone planted, never
// half a file, with explicit modes whatever the umask, and only in directories no other account controls.
import { closeSync, constants, fchmodSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, sep } from 'node:path';

export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;

/**
 * Why another account could replace what haip writes in `dir` (or any directory above it), or undefined
 * when only root (or haip's own user) can: each directory is owned by root or us, and not writable by
 * group or others unless the sticky bit protects other owners' files (/tmp). `allowSticky: false`
 * (hooks) wants `dir` itself writable by no one else at all.
 */
export function unsafeDirectory(dir: string, uid = process.getuid?.() ?? 0, allowSticky = true): string | undefined {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    return `${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  const parts = real.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const d = sep + parts.slice(0, i).join(sep);
    const st = statSync(d);
    if (st.uid !== 0 && st.uid !== uid) return `${d} belongs to uid ${st.uid}, who could put anything there; make it root's`;
    // Above the directory itself a sticky bit is enough: no one else can rename what haip owns there.
    const leaf = i === parts.length;
    if ((st.mode & 0o022) !== 0 && !((allowSticky || !leaf) && st.mode & 0o1000))
      return `${d} is writable by ${st.mode & 0o002 ? 'every account' : `group ${st.gid}`} (mode ${(st.mode & 0o7777).toString(8)})${allowSticky ? ' without the sticky bit' : ''}; chmod go-w it`;
  }
  return undefined;
}

/** mkdir -p with mode 0755 for what it creates (not the umask's), refusing a directory others control. */
export function ensureSafeDirectory(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if (first !== undefined) {
    // mkdir applies the umask: under umask 000 it made 0777 directories.
    for (let d = dir; ; d = dirname(d)) {
      chmodDir(d);
      if (d === first || d === dirname(d)) break;
    }
  }
  const why = unsafeDirectory(dir);
  if (why) throw new Error(`refusing to write in ${dir}: ${why}`);
}

function chmodDir(d: string) {
  const fd = openSync(d, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, DIR_MODE);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `path` with `text` atomically: a new temp file (O_CREAT|O_EXCL|O_NOFOLLOW, so a planted link
 * or file makes it fail instead of being written through), its mode set explicitly, renamed over `path`
 * (rename replaces a link at `path`, it never follows it). A failed write removes its temp file.
 */
export function writeFileSafely(path: string, text: string, mode = FILE_MODE): void {
  const dir = dirname(path);
  ensureSafeDirectory(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    try {
      fchmodSync(fd, mode);
      const buf = Buffer.from(text);
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Removes `path` only when it is a regular file (never through a link) for which `isOurs` holds. */
export function removeFileIf(path: string, isOurs: (text: string) => boolean, read: (p: string) => string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isFile() || !isOurs(read(path))) return false;
  rmSync(path);
  return true;
}
