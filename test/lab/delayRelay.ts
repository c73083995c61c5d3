// Queueing delay without netem: `delayRelay FD MS` reads each packet the kernel routes into a tun device
// (already opened and attached as FD by lab.ts's perl launcher: Node has no ioctl) and writes it back
// MS later, so it goes on its way delayed, in order, as behind a full queue. "delay N" on stdin changes it.
import { read, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

const fd = Number(process.argv[2]);
let delayMs = Number(process.argv[3]);
const buf = Buffer.alloc(65536);

function next() {
  read(fd, buf, 0, buf.length, null, (err, n) => {
    if (err) {
      console.error(`read: ${err.message}`);
      process.exit(1);
    }
    const packet = Buffer.from(buf.subarray(0, n));
    setTimeout(() => {
      try {
        writeSync(fd, packet);
      } catch {}
    }, delayMs);
    next();
  });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const m = /^delay (\d+)$/.exec(line);
  if (m) {
    delayMs = Number(m[1]);
    console.log(`delay ${delayMs}`);
  }
});
console.log('relaying');
next();
