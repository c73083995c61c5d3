// One haip per network namespace: two daemons fought over the default route forever. An abstract unix
// socket is per network namespace and disappears with its process (no stale lock file after kill -9);
// the first daemon answers a second one's connection with its PID, so the message can name it.
import { createConnection, createServer, Server } from 'node:net';

export const LOCK_NAME = '\0haip-daemon';

export class AlreadyRunning extends Error {
  constructor(readonly pid: number | undefined) {
    super(`another haip daemon${pid ? ` (pid ${pid})` : ''} is already running in this network namespace; not starting a second one`);
    this.name = 'AlreadyRunning';
  }
}

/** Holds the lock for the life of the process, or rejects with AlreadyRunning. */
export function holdInstanceLock(pid: number, name = LOCK_NAME): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => sock.end(`${pid}\n`));
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err);
      void otherPid(name).then((other) => reject(new AlreadyRunning(other)));
    });
    server.listen(name, () => {
      server.unref();
      resolve(server);
    });
  });
}

function otherPid(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const sock = createConnection(name);
    const timer = setTimeout(() => (sock.destroy(), resolve(undefined)), 1000);
    sock.on('data', (d) => (text += d).length > 32 && sock.destroy());
    sock.on('error', () => (clearTimeout(timer), resolve(undefined)));
    sock.on('close', () => {
      clearTimeout(timer);
      const n = Number(text.trim());
      resolve(Number.isInteger(n) && n > 0 ? n : undefined);
    });
  });
}
