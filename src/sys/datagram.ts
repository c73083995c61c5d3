// AF_UNIX datagrams from Node, which cannot open such sockets itself: one long-lived perl child per
// socket (perl-base is Essential in Debian, its Socket module has sockaddr_un) turns each line it reads
// on stdin into one datagram. Being long-lived matters: systemd attributes a message to a unit by the
// sender's PID, and a sender that has already exited cannot be attributed (systemd-notify(1), "--pid").
// Used for sd_notify (sdnotify.ts) and journald's native protocol (journal.ts).
import { spawn, type ChildProcess } from 'node:child_process';

// Each stdin line is one datagram, hex-encoded because datagrams hold newlines and any byte;
// `pack "H*"` decodes it without modules outside perl-base. An abstract socket ("@name") becomes "\0name".
const HELPER = String.raw`
use strict; use warnings; use Socket qw(AF_UNIX SOCK_DGRAM pack_sockaddr_un);
$0 = shift @ARGV;
my $path = shift @ARGV; $path =~ s/^@/\0/;
socket(my $sock, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
my $addr = pack_sockaddr_un($path);
while (my $line = <STDIN>) {
  chomp $line;
  next if $line eq '';
  defined send($sock, pack("H*", $line), 0, $addr) or warn "send to $path: $!\n";
}
`;

/** Sends datagrams to one socket through the perl helper; spawns it on first use, again if it died. */
export class DatagramSender {
  private helper: ChildProcess | null = null;
  private closed = false;
  private failures = 0;

  /**
   * @param name what the helper is for, in its process title and in problems
   * @param problem told when the helper cannot send or has died; never called for a datagram that went out
   */
  constructor(
    private readonly socketPath: string,
    private readonly name: string,
    private readonly problem: (msg: string) => void,
    private readonly perl: string = 'perl',
  ) {}

  /** Whether send() can still hand datagrams over: false once closed or the helper kept dying. */
  get usable(): boolean {
    return !this.closed && (this.helper !== null || this.failures < 3);
  }

  /** Hands one datagram to the helper; false when there is no helper to take it. */
  send(datagram: Buffer): boolean {
    if (this.closed) return false;
    const helper = this.helper ?? this.start();
    if (!helper?.stdin?.writable) return false;
    // libuv writes to an idle pipe at once, so a datagram sent just before exit still gets out.
    helper.stdin.write(datagram.toString('hex') + '\n');
    return true;
  }

  /** Ends the helper once it has sent what it was given; resolves when it has exited, or after `waitMs`. */
  close(waitMs = 0): Promise<void> {
    this.closed = true;
    const helper = this.helper;
    this.helper = null;
    if (!helper) return Promise.resolve();
    const exited = new Promise<void>((resolve) => {
      if (helper.exitCode !== null || helper.signalCode !== null) return resolve();
      helper.once('exit', () => resolve());
      setTimeout(resolve, waitMs).unref();
    });
    helper.stdin?.end();
    return exited;
  }

  private start(): ChildProcess | null {
    // A helper that keeps dying (no perl?) is not worth a respawn storm: give up after a few.
    if (this.failures >= 3) return null;
    const child = spawn(this.perl, ['-e', HELPER, `haip: ${this.name} helper`, this.socketPath], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => this.problem(`${this.name} helper: ${text.trim()}`));
    // EPIPE when the helper died: its exit is what gets reported.
    child.stdin?.on('error', () => {});
    child.on('error', (err) => this.onExit(child, `could not start ${this.perl}: ${err.message}`));
    child.on('exit', (code, signal) => this.onExit(child, `exited (${signal ?? code})`));
    // The helper must not keep the daemon alive on its own.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    this.helper = child;
    return child;
  }

  private onExit(child: ChildProcess, why: string): void {
    if (this.helper !== child) return;
    this.helper = null;
    if (this.closed) return;
    this.failures += 1;
    this.problem(`${this.name} helper ${why}`);
  }
}
