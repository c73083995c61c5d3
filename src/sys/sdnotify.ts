// The real Notifier: sd_notify(3) datagrams to the service manager's NOTIFY_SOCKET.
//
// Node cannot open AF_UNIX datagram sockets, and a short-lived `systemd-notify`
// child may exit before PID 1 reads its message, so systemd 252 cannot tell which
// unit sent it and drops it (see systemd-notify(1), "--pid"). Instead one
// long-lived perl child (perl-base is Essential in Debian, its Socket module has
// sockaddr_un) stays in the service's cgroup and turns each line it reads on stdin
// into one datagram. The unit says NotifyAccess=all so systemd accepts them.
// docs/decisions.md ("sd_notify goes through one long-lived perl helper") has the reasons and
// the alternatives.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Log } from '../log';
import { type Notifier, nullNotifier } from './notifier';

/** The part of the log the notifier uses. */
export type NotifyLog = Pick<Log, 'warning' | 'debug'>;

// Each stdin line is one message, hex-encoded because a message's fields are
// separated by newlines; `pack "H*"` decodes it without modules outside perl-base.
// An abstract socket ("@name") becomes "\0name".
const HELPER = String.raw`
use strict; use warnings; use Socket qw(AF_UNIX SOCK_DGRAM pack_sockaddr_un);
$0 = 'haip: sd_notify helper';
my $path = shift @ARGV; $path =~ s/^@/\0/;
socket(my $sock, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
my $addr = pack_sockaddr_un($path);
while (my $line = <STDIN>) {
  chomp $line;
  next if $line eq '';
  defined send($sock, pack("H*", $line), 0, $addr) or warn "send to $path: $!\n";
}
`;

/** Renders fields as an sd_notify message: one VAR=VALUE per line. */
export function formatMessage(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${value.replace(/\n/g, ' ')}`)
    .join('\n');
}

/** Sends sd_notify messages through the perl helper; spawns it on first use, again if it died. */
export class SdNotifier implements Notifier {
  private helper: ChildProcess | null = null;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly socketPath: string,
    private readonly log: NotifyLog,
    private readonly perl: string = 'perl',
  ) {}

  notify(fields: Record<string, string>): void {
    if (this.closed) return;
    const helper = this.helper ?? this.start();
    if (!helper?.stdin?.writable) return;
    // libuv writes to an idle pipe at once, so a message sent just before exit still gets out.
    helper.stdin.write(Buffer.from(formatMessage(fields)).toString('hex') + '\n');
  }

  close(): void {
    this.closed = true;
    this.helper?.stdin?.end();
    this.helper = null;
  }

  private start(): ChildProcess | null {
    // A helper that keeps dying (no perl?) is not worth a respawn storm: give up after a few.
    if (this.failures >= 3) return null;
    const child = spawn(this.perl, ['-e', HELPER, this.socketPath], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => this.log.warning(`sd_notify helper: ${text.trim()}`));
    child.stdin?.on('error', (err) => this.log.debug(`sd_notify helper stdin: ${err.message}`));
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
    this.log.warning(`sd_notify helper ${why}; the service manager may not hear from haip`);
  }
}

/** The notifier for this process: SdNotifier under systemd (NOTIFY_SOCKET set), otherwise a no-op. */
export function createSdNotifier(env: NodeJS.ProcessEnv, log: NotifyLog): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return nullNotifier;
  return new SdNotifier(socketPath, log);
}
