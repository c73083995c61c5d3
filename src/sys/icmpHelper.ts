// The ICMP echo helper: one long-lived perl child (perl-base is Essential, as for the socket helper)
// that sends and judges the echoes of every ICMP target of every link, on raw ICMP sockets (root may
// open them; CAP_NET_RAW is in the unit's bounding set). It keeps the pacing itself, so node hears one
// line per echo, in one write per wakeup; targets of the same pace share one tick, so 32 links cost
// about the wakeups of one. docs/decisions.md, "One ICMP helper for every link".
//
// Each target is a stream with its own socket, bound to the link's interface (SO_BINDTODEVICE) and its
// source address, with an ICMP type filter: echo replies and the errors that quote an echo. A reply
// counts only when it comes from the target's address, carries the stream's id, a sequence number still
// outstanding and the stream's random 8-byte cookie in its payload: another link's reply, a stale one or
// a forged one without the cookie never counts. An ICMP error counts as a loss only when it quotes an
// echo of the stream (its id and sequence, to the target).
//
// SIZE probes set don't-fragment with IP_PMTUDISC_PROBE (as `ping -M probe`, tracepath), not _DO: a
// path MTU the kernel learned once (one frag-needed) would otherwise fail every echo locally for the
// cache's 10 minutes, and a healed path would stay down that long.
//
// Clock: perl-base has no Time::HiRes. The kernel stamps every received packet (SIOCGSTAMP, what ping
// reads too), so a 1-byte datagram to ourselves over lo reads the time in microseconds: three syscalls.
//
// Requests (one a line): "add ID FAMILY SOURCE DEVICE TARGET GAP QUIET TIMEOUT HOLD SIZE" (ms; DEVICE
// and SIZE "-" for none; SIZE sends that payload with don't-fragment) and "del ID". Answers: "ready",
// "ID SEQ ok RTT_MS", "ID SEQ lost [WHY]" (unanswered within TIMEOUT, an ICMP error, a send refused),
// "ID fail MESSAGE" (the stream could not be made and is gone), "ID boost" (first sign of a miss).
// Pacing: QUIET between echoes while every echo is answered in time; from the first sign of a miss (an
// echo unanswered after twice the last RTT + 20 ms, an error, a loss) GAP as well, until HOLD ms pass
// without one.
export const ICMP_HELPER = String.raw`
use strict; use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_RAW SOCK_DGRAM SOL_SOCKET inet_pton inet_ntop pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in6 sockaddr_family);
use Errno qw(EAGAIN EINTR EPERM EACCES);
$0 = 'haip: icmp helper';
my ($SO_BINDTODEVICE, $SIOCGSTAMP, $SOL_RAW) = (25, 0x8906, 255);
my (%st, %byfd, $out);
$out = '';
sub errtext { my $e = shift; local $! = $e; my $t = "$!"; $t =~ s/\s+/ /g; return $t; }
socket(my $clk, AF_INET, SOCK_DGRAM, 0) or die "clock socket: $!\n";
bind($clk, pack_sockaddr_in(0, inet_pton(AF_INET, '127.0.0.1'))) or die "clock bind: $!\n";
connect($clk, getsockname($clk)) or die "clock connect: $!\n";
sub stamp { my $s = shift; my $tv = pack('l!l!', 0, 0); ioctl($s, $SIOCGSTAMP, $tv) or return undef; my ($sec, $us) = unpack('l!l!', $tv); return $sec * 1000 + $us / 1000; }
sub now { send($clk, 'x', 0) or die "clock send: $!\n"; my $b = '';
  my $rin = ''; vec($rin, fileno($clk), 1) = 1; select(my $r = $rin, undef, undef, 0.5) or die "clock: no datagram over lo\n";
  defined(recv($clk, $b, 1, 0)) or die "clock recv: $!\n"; my $t = stamp($clk); defined $t or die "clock: SIOCGSTAMP: $!\n"; return $t; }
sub csum { my $d = shift; $d .= "\0" if length($d) % 2; my $s = 0; $s += $_ for unpack('n*', $d);
  $s = ($s >> 16) + ($s & 0xffff) while $s >> 16; return ~$s & 0xffff; }
sub xgrid { my ($q, $t) = @_; my $h = $q->{gap} / 2; return (int(($t - $h) / $q->{quiet}) + 1) * $q->{quiet} + $h; }
sub boost { my ($q, $t) = @_;
  if ($t >= $q->{until}) { $out .= "$q->{id} boost\n"; $q->{next} = $t; $q->{xnext} = xgrid($q, $t); }
  $q->{until} = $t + $q->{hold}; }
sub lose { my ($q, $seq, $t, $why) = @_; delete $q->{pend}{$seq}; $out .= "$q->{id} $seq lost" . (defined $why ? " $why" : '') . "\n"; boost($q, $t); }
sub drop { my $q = shift; delete $byfd{fileno $q->{sock}}; close $q->{sock}; delete $st{$q->{id}}; }
sub add { my ($id, $fam, $src, $dev, $dst, $gap, $quiet, $timeout, $hold, $size) = @_;
  return "$id fail bad request" if exists $st{$id} || $id !~ /^\d+$/ || $fam !~ /^[46]$/ || grep { !/^\d+$/ } ($gap, $quiet, $timeout, $hold);
  my $af = $fam == 6 ? AF_INET6 : AF_INET;
  my ($a, $b) = (inet_pton($af, $src), inet_pton($af, $dst));
  return "$id fail bad address" unless $a && $b;
  my $s; socket($s, $af, SOCK_RAW, $fam == 6 ? 58 : 1) or return "$id fail socket: " . errtext($!);
  if ($dev ne '-' && !setsockopt($s, SOL_SOCKET, $SO_BINDTODEVICE, pack('Z*', $dev))) { my $e = errtext($!); close $s; return "$id fail bind to device $dev: $e"; }
  unless (bind($s, $fam == 6 ? pack_sockaddr_in6(0, $a) : pack_sockaddr_in(0, $a))) { my $e = errtext($!); close $s; return "$id fail bind to $src: $e"; }
  if ($fam == 4) { setsockopt($s, $SOL_RAW, 1, pack('L', 0xffffffff & ~((1 << 0) | (1 << 3) | (1 << 11) | (1 << 12)))); }
  else { my @w = (0xffffffff) x 8; $w[0] &= ~((1 << 1) | (1 << 2) | (1 << 3) | (1 << 4)); $w[4] &= ~(1 << 1); setsockopt($s, 58, 1, pack('L8', @w)); }
  if ($size ne '-') { return "$id fail bad size" unless $size =~ /^\d+$/ && $size >= 16 && $size <= 65000;
    if ($fam == 4) { setsockopt($s, 0, 10, pack('i', 3)); } else { setsockopt($s, 41, 23, pack('i', 3)); setsockopt($s, 41, 62, pack('i', 1)); } }
  my $n = $size eq '-' ? 56 : $size;
  my $cookie = ''; if (open(my $r, '<', '/dev/urandom')) { read($r, $cookie, 8); close $r; }
  $cookie = join('', map { chr(int(rand(256))) } 1 .. 8) unless length($cookie) == 8;
  my $q = { id => $id, fam => $fam, sock => $s, dst => $b, to => ($fam == 6 ? pack_sockaddr_in6(0, $b) : pack_sockaddr_in(0, $b)),
    icmpid => int(rand(65536)), cookie => $cookie, payload => $cookie . substr('haip' x (1 + $n / 4), 0, $n - 8),
    gap => $gap, quiet => $quiet, timeout => $timeout, hold => $hold, seq => int(rand(65536)), pend => {}, rtt => 0, until => 0, next => 0, xnext => 0 };
  $st{$id} = $q; $byfd{fileno $s} = $q; return undef; }
sub send_echo { my ($q, $t) = @_;
  my $seq = $q->{seq} = ($q->{seq} + 1) & 0xffff;
  my $hdr = pack('CCnnn', $q->{fam} == 6 ? 128 : 8, 0, 0, $q->{icmpid}, $seq);
  my $pkt = $hdr . $q->{payload};
  substr($pkt, 2, 2) = pack('n', csum($pkt)) if $q->{fam} == 4;
  $q->{pend}{$seq} = [$t, 0];
  lose($q, $seq, $t, 'send: ' . errtext($!)) unless defined send($q->{sock}, $pkt, 0, $q->{to}); }
sub answered { my ($q, $seq, $t) = @_; my $p = $q->{pend}{$seq} or return;
  my $rtt = $t - $p->[0]; $rtt = 0 if $rtt < 0;
  if ($rtt > $q->{timeout}) { lose($q, $seq, $t); return; }
  delete $q->{pend}{$seq}; $q->{rtt} = $rtt; $out .= sprintf("%s %d ok %.3f\n", $q->{id}, $seq, $rtt); }
sub readable { my $q = shift; my $buf = '';
  # MSG_DONTWAIT: drained until empty; 1 for a packet read (judged or not), 0 once there is none.
  my $from = recv($q->{sock}, $buf, 65535, 0x40);
  return 0 unless defined $from;
  judge($q, $buf, $from, stamp($q->{sock}) // now());
  return 1; }
sub judge { my ($q, $buf, $from, $t) = @_;
  my ($type, $at);
  if ($q->{fam} == 4) { return if length($buf) < 20; my $ihl = (ord($buf) & 15) * 4; return if length($buf) < $ihl + 8;
    $type = ord(substr($buf, $ihl, 1)); $at = $ihl;
    if ($type == 0) { return unless substr($buf, 12, 4) eq $q->{dst}; }
    else { my $in = $ihl + 8; return if length($buf) < $in + 28; my $ihl2 = (ord(substr($buf, $in, 1)) & 15) * 4;
      return unless ord(substr($buf, $in + 9, 1)) == 1 && substr($buf, $in + 16, 4) eq $q->{dst} && length($buf) >= $in + $ihl2 + 8;
      my ($it, undef, undef, $iid, $iseq) = unpack('CCnnn', substr($buf, $in + $ihl2, 8));
      lose($q, $iseq, $t, "ICMP type $type from " . inet_ntop(AF_INET, substr($buf, 12, 4))) if $it == 8 && $iid == $q->{icmpid} && $q->{pend}{$iseq}; return; } }
  else { return if length($buf) < 8 || sockaddr_family($from) != AF_INET6; $type = ord($buf); $at = 0;
    my (undef, $addr) = unpack_sockaddr_in6($from);
    if ($type == 129) { return unless $addr eq $q->{dst}; }
    else { return if length($buf) < 56; return unless ord(substr($buf, 14, 1)) == 58 && substr($buf, 32, 16) eq $q->{dst};
      my ($it, undef, undef, $iid, $iseq) = unpack('CCnnn', substr($buf, 48, 8));
      lose($q, $iseq, $t, "ICMPv6 type $type from " . inet_ntop(AF_INET6, $addr)) if $it == 128 && $iid == $q->{icmpid} && $q->{pend}{$iseq}; return; } }
  return if length($buf) < $at + 16;
  my (undef, undef, undef, $id, $seq) = unpack('CCnnn', substr($buf, $at, 8));
  return unless $id == $q->{icmpid} && substr($buf, $at + 8, 8) eq $q->{cookie};
  answered($q, $seq, $t); }
sub line { my @f = split / /, shift;
  if (@f == 11 && $f[0] eq 'add') { my $e = add(@f[1 .. 10]); $out .= "$e\n" if defined $e; return; }
  if (@f == 2 && $f[0] eq 'del') { my $q = $st{$f[1]}; drop($q) if $q; return; } }
my $in = '';
my $t0 = now();
$out .= "ready\n";
while (1) {
  my $t = now();
  my $wake = $t + 1000;
  for my $q (values %st) {
    for my $seq (keys %{$q->{pend}}) { my $p = $q->{pend}{$seq}; my $sent = $p->[0];
      if ($t >= $sent + $q->{timeout} || $t < $sent - 1000) { lose($q, $seq, $t); next; }
      my $late = $sent + ($q->{rtt} * 2 + 20 < $q->{timeout} ? $q->{rtt} * 2 + 20 : $q->{timeout});
      if (!$p->[1] && $t >= $late) { $p->[1] = 1; boost($q, $t); }
      my $due = $p->[1] ? $sent + $q->{timeout} : $late; $wake = $due if $due < $wake; }
    my $pace = $t < $q->{until} ? $q->{gap} : $q->{quiet};
    if ($t >= $q->{next}) { send_echo($q, $t); $q->{next} = (int($t / $pace) + 1) * $pace; }
    $q->{next} = (int($t / $pace) + 1) * $pace if $q->{next} > $t + $pace;
    $wake = $q->{next} if $q->{next} < $wake;
    # While boosted the quiet echo goes on too, half a gap off the full pace's: under random loss every
    # echo of both must be lost for a window of silence, as with a quiet ping and a booster beside it.
    if ($t < $q->{until} && $q->{quiet} > $q->{gap}) {
      if ($t >= $q->{xnext}) { send_echo($q, $t); $q->{xnext} = xgrid($q, $t); }
      $wake = $q->{xnext} if $q->{xnext} < $wake; } }
  if (length $out) { my $w = syswrite(STDOUT, $out); exit 0 unless defined $w; substr($out, 0, $w) = ''; }
  my $rin = ''; vec($rin, 0, 1) = 1; vec($rin, $_, 1) = 1 for keys %byfd;
  my $wait = ($wake - now()) / 1000; $wait = 0 if $wait < 0;
  my $n = select(my $rout = $rin, undef, undef, $wait);
  next if $n <= 0;
  if (vec($rout, 0, 1)) { my $r = sysread(STDIN, $in, 65536, length $in); exit 0 unless $r;
    while ((my $i = index($in, "\n")) >= 0) { line(substr($in, 0, $i)); substr($in, 0, $i + 1) = ''; }
    $in = '' if length($in) > 65536; }
  for my $fd (keys %byfd) { next unless vec($rout, $fd, 1); my $q = $byfd{$fd}; for (1 .. 64) { last unless readable($q); } }
}
`;
