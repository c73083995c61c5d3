// Both ends of a long-lived TCP connection for the sticky lab tests, driven over stdin/stdout.
//   server HOST PORT: echoes every line back with the client's address as the server sees it
//                     ("<line> from 198.18.2.2:40000"), which tells the uplink a connection leaves by.
//   client HOST PORT: connects, prints "connected <local port>"; each stdin line is sent, each answer
//                     printed as "reply <line>"; failures as "error <code>", the end as "closed".
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const [mode, host, port] = process.argv.slice(2);

if (mode === 'server') {
  const server = createServer((sock) => {
    const from = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.on('error', () => {});
    createInterface({ input: sock }).on('line', (line) => sock.write(`${line} from ${from}\n`));
  });
  server.listen(Number(port), host, () => console.log('listening'));
} else if (mode === 'client') {
  const sock = createConnection({ host, port: Number(port) }, () => console.log(`connected ${sock.localPort}`));
  sock.on('error', (err: NodeJS.ErrnoException) => console.log(`error ${err.code ?? err.message}`));
  sock.on('close', () => {
    console.log('closed');
    process.exit(0);
  });
  createInterface({ input: sock }).on('line', (line) => console.log(`reply ${line}`));
  createInterface({ input: process.stdin }).on('line', (line) => sock.write(line + '\n'));
} else {
  console.error('usage: tcpPeer server|client HOST PORT');
  process.exit(64);
}
