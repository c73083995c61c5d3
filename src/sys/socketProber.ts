// TCP, HTTP and DNS probes, each from the link's source address and bound to its interface.
//
// Node's net and dgram can bind an address but cannot set SO_BINDTODEVICE, and without it a probe whose
// target a route in main covers, or two links with the same address, can leave by the wrong uplink.
// So one long-lived perl child (perl-base is Essential in Debian and has Socket, IO::Select and Errno,
// as the sd_notify helper uses) opens the sockets: it reads one request a line, runs them all at once
// with non-blocking sockets and one select loop, and answers one line each. It keeps no clock: this
// side times each probe and cancels it at its timeout. docs/decisions.md has the alternatives.
import { type ChildProcess } from 'node:child_process';
import { startPerlHelper } from './perlHelper';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Prober, ProbeHints, ProbeResult } from './prober';
import { ProbeTarget, parseTarget } from './probeTarget';
import { dnsQuery, httpRequest, judgeDns, judgeHttp } from './probeWire';

// Requests: "ID OP SOURCE DEVICE ADDRESS PORT PAYLOAD" (OP tcp|stream|udp, DEVICE/PAYLOAD "-" for none,
// PAYLOAD hex) or "ID cancel". Answers: "ID ok [HEX]", "ID refused", "ID fail MESSAGE".
// tcp: connected (SYN-ACK) is ok, a reset is refused. stream: connect, send, read to the first newline,
// 512 bytes or the end. read: the same, to 4096 bytes or the end (an HTTP body to search). udp: send one
// datagram, the first one back is the answer.
const HELPER = String.raw`
use strict; use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_STREAM SOCK_DGRAM SOL_SOCKET SO_ERROR inet_pton pack_sockaddr_in pack_sockaddr_in6);
use IO::Select; use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Errno qw(EINPROGRESS ECONNREFUSED EAGAIN EINTR);
$0 = 'haip: probe helper';
$| = 1;
my $SO_BINDTODEVICE = 25;
my (%byfd, %byid);
my $rd = IO::Select->new(\*STDIN);
my $wr = IO::Select->new();
my $in = '';
sub finish { my ($q, $answer) = @_;
  my $s = $q->{sock}; $rd->remove($s); $wr->remove($s); delete $byfd{fileno $s}; delete $byid{$q->{id}}; close $s;
  print "$q->{id} $answer\n" if defined $answer; }
sub errtext { my $e = shift; local $! = $e; my $t = "$!"; $t =~ s/\s+/ /g; return $t; }
sub connected { my $q = shift;
  if ($q->{op} eq 'tcp') { finish($q, 'ok'); return; }
  my $n = send($q->{sock}, $q->{out}, 0);
  if (!defined $n) { finish($q, $! == ECONNREFUSED ? 'refused' : 'fail send: ' . errtext($!)); return; }
  $wr->remove($q->{sock}); $rd->add($q->{sock}); }
sub start { my ($id, $op, $src, $dev, $dst, $port, $hex) = @_;
  my $s; my $udp = $op eq 'udp';
  my $fam = index($dst, ':') >= 0 ? AF_INET6 : AF_INET;
  my $sa = $fam == AF_INET6 ? \&pack_sockaddr_in6 : \&pack_sockaddr_in;
  socket($s, $fam, $udp ? SOCK_DGRAM : SOCK_STREAM, 0) or do { print "$id fail socket: " . errtext($!) . "\n"; return; };
  my $q = { id => $id, op => $op, sock => $s, out => ($hex eq '-' ? '' : pack('H*', $hex)), buf => '' };
  $byfd{fileno $s} = $q; $byid{$id} = $q;
  if ($dev ne '-' && !setsockopt($s, SOL_SOCKET, $SO_BINDTODEVICE, pack('Z*', $dev))) { finish($q, "fail bind to device $dev: " . errtext($!)); return; }
  my $a = inet_pton($fam, $src); my $b = inet_pton($fam, $dst);
  if (!$a || !$b) { finish($q, 'fail bad address'); return; }
  bind($s, $sa->(0, $a)) or do { finish($q, "fail bind to $src: " . errtext($!)); return; };
  fcntl($s, F_SETFL, fcntl($s, F_GETFL, 0) | O_NONBLOCK);
  if (connect($s, $sa->($port, $b))) { connected($q); return; }
  if ($! == EINPROGRESS) { $wr->add($s); return; }
  finish($q, $! == ECONNREFUSED ? 'refused' : 'fail connect: ' . errtext($!)); }
sub readable { my $q = shift; my $buf = '';
  my $n = $q->{op} eq 'udp' ? (defined(recv($q->{sock}, $buf, 4096, 0)) ? length $buf : undef) : sysread($q->{sock}, $buf, 4096);
  if (!defined $n) { return if $! == EAGAIN || $! == EINTR; finish($q, $! == ECONNREFUSED ? 'refused' : 'fail read: ' . errtext($!)); return; }
  $q->{buf} .= $buf;
  if ($q->{op} eq 'udp' || $n == 0 || ($q->{op} eq 'stream' && (index($q->{buf}, "\n") >= 0 || length($q->{buf}) >= 512)) || length($q->{buf}) >= 4096) {
    finish($q, 'ok ' . unpack('H*', substr($q->{buf}, 0, 4096))); } }
sub line { my @f = split / /, shift;
  if (@f == 2 && $f[1] eq 'cancel') { my $q = $byid{$f[0]}; finish($q) if $q; return; }
  if (@f == 7) { start(@f); return; }
  print "$f[0] fail bad request\n"; }
while (1) {
  my ($r, $w) = IO::Select->select($rd, $wr, undef);
  next unless $r;
  for my $s (@$w) { my $q = $byfd{fileno $s} or next;
    my $e = unpack('i', getsockopt($s, SOL_SOCKET, SO_ERROR));
    if ($e == 0) { connected($q); } else { finish($q, $e == ECONNREFUSED ? 'refused' : 'fail connect: ' . errtext($e)); } }
  for my $s (@$r) {
    if ($s == \*STDIN) { my $n = sysread(STDIN, $in, 65536, length $in); exit 0 unless $n;
      while ((my $i = index($in, "\n")) >= 0) { line(substr($in, 0, $i)); substr($in, 0, $i + 1) = ''; } next; }
    my $q = $byfd{fileno $s} or next; readable($q); } }
`;

type Answer = { word: 'ok'; data: Buffer } | { word: 'refused' } | { word: 'fail'; message: string };

/** Probes the socket kinds (tcp, http, dns) through the perl helper; spawns it on first use, again if it died. */
export class SocketProber implements Prober {
  private helper: ChildProcess | null = null;
  private pending = new Map<number, (a: Answer) => void>();
  private nextId = 1;
  private startedAt = -Infinity;
  private lastError?: string;

  constructor(private readonly perl = 'perl') {}

  async probe(text: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    const target = parseTarget(text);
    if ('error' in target) return { alive: false, error: target.error };
    if (target.kind === 'icmp') return { alive: false, error: 'the socket prober does not ping' };
    const dnsId = randomInt(0, 0x10000);
    const [op, payload] =
      target.kind === 'tcp' ? ['tcp', undefined]
      : target.kind === 'http' ? [target.body === undefined ? 'stream' : 'read', httpRequest(target.path, target.host ?? hostHeader(target))]
      : ['udp', dnsQuery(target.name, dnsId)];
    const t0 = performance.now();
    const answer = await this.ask(`${op} ${source} ${hints?.device ?? '-'} ${target.address} ${target.port} ${payload ? payload.toString('hex') : '-'}`, timeoutMs);
    const rttMs = performance.now() - t0;
    if (answer === 'timeout') return { alive: false, detail: `no answer within ${timeoutMs} ms` };
    if (answer.word === 'fail') return { alive: false, error: `${describe(target)}: ${answer.message}` };
    // A reset usually answers a SYN from the far end: the path works, only the port is closed. With `open`
    // it does not count: a captive portal or an ISP box resets in the target's name.
    if (answer.word === 'refused')
      return target.kind === 'tcp' && !target.open ? { alive: true, rttMs } : { alive: false, detail: target.kind === 'tcp' ? 'connection reset (open: a handshake is required)' : 'connection refused' };
    if (target.kind === 'tcp') return { alive: true, rttMs };
    const judged = target.kind === 'http' ? judgeHttp(answer.data, target) : judgeDns(answer.data, dnsId, target.answer);
    return judged.alive ? { alive: true, rttMs } : { alive: false, detail: judged.detail };
  }

  /** The helper's pid while it runs, for the curious (bench, tests). */
  pid(): number | undefined {
    return this.helper?.pid;
  }

  close(): void {
    const h = this.helper;
    this.helper = null;
    h?.stdin?.end();
    h?.kill('SIGTERM');
    this.failAll('stopped');
  }

  private ask(request: string, timeoutMs: number): Promise<Answer | 'timeout'> {
    const helper = this.helper ?? this.start();
    if (!helper?.stdin?.writable) return Promise.resolve({ word: 'fail', message: this.lastError ?? 'probe helper not running' });
    const id = this.nextId++;
    if (this.nextId > 1e9) this.nextId = 1;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.helper?.stdin?.write(`${id} cancel\n`);
        resolve('timeout');
      }, timeoutMs);
      this.pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      helper.stdin!.write(`${id} ${request}\n`);
    });
  }

  private start(): ChildProcess | null {
    // A helper that cannot start (no perl?) is tried again at most once a second.
    if (performance.now() - this.startedAt < 1000) return null;
    this.startedAt = performance.now();
    const child = startPerlHelper(this.perl, HELPER, (l) => this.answer(l), (why) => {
      if (this.helper !== child) return;
      this.helper = null;
      this.lastError = `probe helper (${this.perl}) ${why}`;
      this.failAll(this.lastError);
    });
    this.helper = child;
    return child;
  }

  private answer(line: string) {
    const m = /^(\d+) (ok|refused|fail)(?: (.*))?$/.exec(line);
    if (!m) return;
    const settle = this.pending.get(Number(m[1]));
    if (!settle) return; // cancelled at its timeout
    this.pending.delete(Number(m[1]));
    if (m[2] === 'ok') settle({ word: 'ok', data: Buffer.from(m[3] ?? '', 'hex') });
    else if (m[2] === 'refused') settle({ word: 'refused' });
    else settle({ word: 'fail', message: (m[3] ?? 'failed').slice(0, 200) });
  }

  private failAll(message: string) {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const settle of waiting) settle({ word: 'fail', message });
  }
}

function hostHeader(t: { address: string; port: number }): string {
  // RFC 3986: an IPv6 literal goes in brackets in a Host header.
  const host = t.address.includes(':') ? `[${t.address}]` : t.address;
  return t.port === 80 ? host : `${host}:${t.port}`;
}

function describe(t: ProbeTarget): string {
  return t.kind === 'icmp' ? t.address : `${t.kind}://${t.address}:${'port' in t ? t.port : ''}`;
}

/** Sends each target to the prober of its kind: ICMP to `icmp`, the rest to `sockets`. */
export class KindProber implements Prober {
  constructor(
    private readonly icmp: Prober,
    private readonly sockets: Prober,
  ) {}

  probe(target: string, source: string, timeoutMs: number, hints?: ProbeHints): Promise<ProbeResult> {
    return this.proberFor(target).probe(target, source, timeoutMs, hints);
  }

  lastAnswer(target: string, source: string, timeoutMs: number, hints?: ProbeHints): number | undefined {
    return this.proberFor(target).lastAnswer?.(target, source, timeoutMs, hints);
  }

  private proberFor(target: string): Prober {
    return target.includes('://') ? this.sockets : this.icmp;
  }

  forget(device: string): void {
    this.icmp.forget?.(device);
    this.sockets.forget?.(device);
  }

  close(): void {
    this.icmp.close?.();
    this.sockets.close?.();
  }
}
