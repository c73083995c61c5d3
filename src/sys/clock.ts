// Time and timers behind an interface so tests can run hours of probing in milliseconds.

export type TimerHandle = { cancel(): void };

/** Wall time and timers; exists so tests can substitute a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};
