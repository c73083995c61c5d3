// One backoff for whatever the kernel refuses: a failed `ip` command and a refused default route are tried
// again after 1 s, 2 s, 4 s ... at most 30 s, so a failure that persists is neither hammered nor forgotten.
export const RETRY_MS = 1000;
export const RETRY_MAX_MS = 30_000;

/** The wait before try number `tries` + 1 (1 after the first failure). */
export function backoffMs(tries: number): number {
  return Math.min(RETRY_MS * 2 ** Math.max(tries - 1, 0), RETRY_MAX_MS);
}
