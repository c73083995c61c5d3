// Imported first by main.ts, before winston, ajv and yaml load (0.2-0.4 s): until then Node's default
// for SIGHUP is to die, and `systemctl reload` right after start killed haip silently (exit 129). A
// SIGHUP that arrives before the daemon listens is remembered and handed over as one reload.

let pendingHup = false;
const early = () => void (pendingHup = true);
process.on('SIGHUP', early);

/** Replaces the early SIGHUP handler; `onHup` runs at once when a SIGHUP came in the meantime. */
export function takeOverSighup(onHup: () => void): void {
  process.on('SIGHUP', onHup);
  process.off('SIGHUP', early);
  if (pendingHup) {
    pendingHup = false;
    onHup();
  }
}
