// Router advertisements on a LAN interface (`lan6`), through one long-lived perl child per interface:
// Node cannot open raw sockets, and perl-base (Essential in Debian, already haip's probe and datagram
// helper) has Socket and IO::Select. The child opens one raw ICMPv6 socket bound to the interface, sends
// each packet it is given to ff02::1 with hop limit 255 (hosts drop an RA with any other, RFC 4861 6.1.2)
// from the interface's link-local address (the kernel picks it for a link-scope destination, and fills in
// the checksum), and reports router solicitations heard there, so a host that joins is answered at once,
// and other routers' advertisements, so one that advertises haip's prefixes too is named.
// The bytes it sends are built by src/net/ra.ts; the child only moves them.
import { spawn, type ChildProcess } from 'node:child_process';
import { isIPv6 } from 'node:net';

// stdin: one hex packet a line. stdout: "sent" or "fail MESSAGE" per packet, in order, "rs" for each
// router solicitation, and "ra FROM HEX" for each router advertisement of another router (ICMP6_FILTER
// passes only types 133 and 134 to the socket; haip's own do not loop back).
const HELPER = String.raw`
use strict; use warnings;
use Socket qw(AF_INET6 SOCK_RAW SOL_SOCKET IPPROTO_IPV6 IPV6_MULTICAST_HOPS IPV6_UNICAST_HOPS IPV6_MULTICAST_IF IPV6_MULTICAST_LOOP inet_pton inet_ntop pack_sockaddr_in6 unpack_sockaddr_in6);
use IO::Select;
$0 = 'haip: lan6 RA helper';
$| = 1;
my ($dev, $index) = @ARGV;
my ($ICMPV6, $SO_BINDTODEVICE, $ICMP6_FILTER) = (58, 25, 1);
socket(my $s, AF_INET6, SOCK_RAW, $ICMPV6) or die "socket: $!\n";
setsockopt($s, SOL_SOCKET, $SO_BINDTODEVICE, pack('Z*', $dev)) or die "bind to device $dev: $!\n";
setsockopt($s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, pack('i', 255)) or die "hop limit: $!\n";
setsockopt($s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, pack('i', 255)) or die "hop limit: $!\n";
setsockopt($s, IPPROTO_IPV6, IPV6_MULTICAST_IF, pack('i', $index)) or die "multicast interface $dev: $!\n";
setsockopt($s, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, pack('i', 0)) or die "multicast loop: $!\n";
my @filter = (0xffffffff) x 8; for my $t (133, 134) { $filter[$t >> 5] &= ~(1 << ($t & 31)); }
setsockopt($s, $ICMPV6, $ICMP6_FILTER, pack('L8', @filter)) or die "icmp6 filter: $!\n";
my $to = pack_sockaddr_in6(0, inet_pton(AF_INET6, 'ff02::1'), $index);
my $sel = IO::Select->new(\*STDIN, $s);
my $in = '';
while (1) {
  for my $h ($sel->can_read) {
    if ($h == $s) {
      my $buf = ''; my $from = recv($s, $buf, 1500, 0);
      next unless defined $from && length($buf) >= 8;
      if (ord($buf) == 133) { print "rs\n"; }
      elsif (ord($buf) == 134) { my (undef, $a) = unpack_sockaddr_in6($from); print 'ra ', inet_ntop(AF_INET6, $a), ' ', unpack('H*', $buf), "\n"; }
      next; }
    my $n = sysread(STDIN, $in, 65536, length $in); exit 0 unless $n;
    while ((my $i = index($in, "\n")) >= 0) {
      my $line = substr($in, 0, $i); substr($in, 0, $i + 1) = '';
      if ($line !~ /^(?:[0-9a-f]{2}){16,1024}$/) { print "fail bad packet\n"; next; }
      if (defined send($s, pack('H*', $line), 0, $to)) { print "sent\n"; } else { my $e = "$!"; $e =~ s/\s+/ /g; print "fail $e\n"; } } } }
`;

/** Router advertisements out of one LAN interface; exists so tests can substitute it. */
export interface RaPort {
  /** Sends one RA to all nodes of the link: null once it went out, else why not. */
  send(packet: Buffer): Promise<string | null>;
  close(): void;
}

/** What the port hears on the LAN: a host's router solicitation, or another router's advertisement. */
export type Heard = { kind: 'rs' } | { kind: 'ra'; from: string; packet: Buffer };

/** Opens the port of an interface; `heard` is called for each solicitation and foreign RA heard on it. */
export type RaPortFactory = (iface: string, index: number, heard: (h: Heard) => void, problem: (msg: string) => void) => RaPort;

/** The real port: the perl helper, spawned on first use and again after it died (at most 3 times in a row). */
export class PerlRaPort implements RaPort {
  private child: ChildProcess | null = null;
  private waiting: ((why: string | null) => void)[] = [];
  private failures = 0;
  private closed = false;
  private out = '';

  constructor(
    private readonly iface: string,
    private readonly index: number,
    private readonly heard: (h: Heard) => void,
    private readonly problem: (msg: string) => void,
    private readonly perl = 'perl',
  ) {}

  send(packet: Buffer): Promise<string | null> {
    if (this.closed) return Promise.resolve('closed');
    const child = this.child ?? this.start();
    if (!child?.stdin?.writable) return Promise.resolve(`the RA helper for ${this.iface} is not running`);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      child.stdin!.write(packet.toString('hex') + '\n');
    });
  }

  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
    this.child = null;
    for (const w of this.waiting.splice(0)) w('closed');
  }

  private start(): ChildProcess | null {
    if (this.failures >= 3) return null;
    const child = spawn(this.perl, ['-e', HELPER, this.iface, String(this.index)], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => this.read(text));
    child.stderr!.setEncoding('utf8');
    // What perl says on stderr is bounded here: it is our own script's die text.
    child.stderr!.on('data', (text: string) => this.problem(`lan6 RA helper for ${this.iface}: ${text.trim().slice(0, 300)}`));
    child.stdin!.on('error', () => {});
    child.on('error', (err) => this.exited(child, `could not start ${this.perl}: ${err.message}`));
    child.on('exit', (code, signal) => this.exited(child, `exited (${signal ?? code})`));
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    this.child = child;
    return child;
  }

  private read(text: string) {
    this.out = (this.out + text).slice(-65536);
    let i: number;
    while ((i = this.out.indexOf('\n')) >= 0) {
      const line = this.out.slice(0, i);
      this.out = this.out.slice(i + 1);
      const ra = /^ra ([0-9a-f:.]{2,45}) ((?:[0-9a-f]{2}){16,1500})$/.exec(line);
      if (line === 'rs') this.heard({ kind: 'rs' });
      else if (ra && isIPv6(ra[1])) this.heard({ kind: 'ra', from: ra[1], packet: Buffer.from(ra[2], 'hex') });
      else if (line === 'sent') {
        this.failures = 0;
        this.waiting.shift()?.(null);
      } else if (line.startsWith('fail ')) this.waiting.shift()?.(line.slice(5));
    }
  }

  private exited(child: ChildProcess, why: string) {
    if (this.child !== child) return;
    this.child = null;
    for (const w of this.waiting.splice(0)) w(`the RA helper for ${this.iface} ${why}`);
    if (this.closed) return;
    this.failures += 1;
    this.problem(`lan6 RA helper for ${this.iface} ${why}`);
  }
}

export const perlRaPort: RaPortFactory = (iface, index, heard, problem) => new PerlRaPort(iface, index, heard, problem);
