// A perl receiver on a real AF_UNIX datagram socket, standing in for PID 1 or journald in the tests of
// the datagram helper: each datagram it gets, as a Buffer.
import { spawn, type ChildProcess } from 'node:child_process';

// Binds the socket, says "bound", then prints each datagram it gets as one hex line.
const RECEIVER = String.raw`
use strict; use Socket qw(AF_UNIX SOCK_DGRAM pack_sockaddr_un);
my $path = shift @ARGV; $path =~ s/^@/\0/;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($path)) or die "bind: $!";
$| = 1; print "bound\n";
while (defined recv($s, my $msg, 65536, 0)) { print unpack("H*", $msg), "\n"; }
`;

/** Starts a receiver on `address`; resolves once it is bound, with a way to await messages. */
export async function receiver(address: string) {
  const child: ChildProcess = spawn('perl', ['-e', RECEIVER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: Buffer[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'bound') resolve();
        else messages.push(Buffer.from(line, 'hex'));
        waiters.splice(0).forEach((w) => w());
      }
    });
  });
  const next = async (count: number) => {
    const deadline = Date.now() + 5000;
    while (messages.length < count) {
      if (Date.now() > deadline) throw new Error(`got ${messages.length} of ${count} messages: ${JSON.stringify(messages)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return messages.slice(0, count);
  };
  return { next, stop: () => child.kill() };
}

