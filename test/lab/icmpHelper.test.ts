// The ICMP helper against the real kernel. Echo replies are bytes from outside: only the target's own
// answer to our echo counts. The targets stop
// answering (icmp_echo_ignore_all in the internet namespace) and a forger there answers every echo
// request itself: with the right id and sequence but a payload it cannot know, or from the other target's
// address. Neither may keep a link up; an honest copy of the request (what a real target sends) does.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Haip, Lab, sleep } from './lab';

/** Answers each echo request seen in its namespace: mode copy (a real target), zero (payload unknown), swap (from the other target). */
const FORGER = String.raw`
use strict; use Socket qw(AF_INET SOCK_RAW inet_pton pack_sockaddr_in);
my $mode = shift; $| = 1;
socket(my $in, AF_INET, SOCK_RAW, 1) or die "socket: $!";
my %out; for my $a ('203.0.113.1', '203.0.113.2') { socket($out{$a}, AF_INET, SOCK_RAW, 1) or die; bind($out{$a}, pack_sockaddr_in(0, inet_pton(AF_INET, $a))) or die "bind $a: $!"; }
sub csum { my $d = shift; $d .= "\0" if length($d) % 2; my $s = 0; $s += $_ for unpack('n*', $d); $s = ($s >> 16) + ($s & 0xffff) while $s >> 16; return ~$s & 0xffff; }
print "forging\n";
while (defined(recv($in, my $buf, 65535, 0))) {
  my $ihl = (ord($buf) & 15) * 4; my ($type, undef, undef, $id, $seq) = unpack('CCnnn', substr($buf, $ihl, 8)); next unless $type == 8;
  my ($src, $dst) = (join('.', unpack('C4', substr($buf, 12, 4))), join('.', unpack('C4', substr($buf, 16, 4))));
  next unless $out{$dst};
  my $payload = substr($buf, $ihl + 8); $payload = "\0" x length($payload) if $mode eq 'zero';
  my $from = $mode eq 'swap' ? ($dst eq '203.0.113.1' ? '203.0.113.2' : '203.0.113.1') : $dst;
  my $pkt = pack('CCnnn', 0, 0, 0, $id, $seq) . $payload; substr($pkt, 2, 2) = pack('n', csum($pkt));
  send($out{$from}, $pkt, 0, pack_sockaddr_in(0, inet_pton(AF_INET, $src)));
}
`;

function state(lab: Lab, name: string): string {
  return JSON.parse(readFileSync(join(lab.dir, 'state', 'status.json'), 'utf8')).links.find((l: { name: string }) => l.name === name).state;
}

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (what()) return true;
  return what();
}

test('forged echo replies (a payload the forger cannot know, another target\'s address) never keep a link up; a real answer does', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const probe = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probe, 'damping: { penalty: 0 }\n')), '-v']);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.ok(await until(() => state(lab, 'isp1') === 'up' && state(lab, 'isp2') === 'up', 5000), 'both links up with real answers');
  lab.exec(lab.inet, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1');
  let forger: Haip | undefined;
  const forge = async (mode: string) => {
    forger?.child.kill('SIGTERM');
    forger = lab.spawnIn(lab.inet, ['perl', '-e', FORGER, mode]);
    await forger.waitFor(/^forging/, 5000);
  };
  t.after(() => forger?.child.kill('SIGTERM'));
  for (const mode of ['zero', 'swap']) {
    await forge(mode);
    const down = await until(() => state(lab, 'isp1') === 'down' && state(lab, 'isp2') === 'down', 6000);
    t.diagnostic(`${mode}: isp1 ${state(lab, 'isp1')}, isp2 ${state(lab, 'isp2')}`);
    assert.ok(down, `forged replies (${mode}) kept a link up: isp1 ${state(lab, 'isp1')}, isp2 ${state(lab, 'isp2')}`);
    await forge('copy');
    assert.ok(await until(() => state(lab, 'isp1') === 'up' && state(lab, 'isp2') === 'up', 6000), 'an honest copy of the request counts');
  }
});

test('a host where the helper cannot run (no perl): one ping per target instead, said once, silence still detected', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const bin = join(lab.dir, 'noperl');
  mkdirSync(bin);
  writeFileSync(join(bin, 'perl'), '#!/bin/sh\necho "perl: not installed here" >&2\nexit 127\n');
  chmodSync(join(bin, 'perl'), 0o755);
  const probe = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probe, 'damping: { penalty: 0 }\n')), '-v'], { PATH: `${bin}:${process.env.PATH}` });
  await haip.waitFor(/notice: ready:/, 10_000);
  await lab.waitForDefault('eth1', 5000);
  const warned = haip.lines.filter((l) => /the ICMP helper cannot run here \(ICMP helper \(perl\) exited \(127\): perl: not installed here\); probing with one ping per target instead/.test(l));
  assert.equal(warned.length, 1, haip.output());
  assert.ok(await until(() => state(lab, 'isp1') === 'up' && state(lab, 'isp2') === 'up', 5000), 'both links up through ping');
  const t0 = Date.now();
  lab.dropAtIsp(1);
  const ms = await lab.waitForDefault('eth2', 3000, t0);
  await haip.waitFor(/link isp1 \(eth1\): up -> down: no answer from any target for 1\.5 s/, 2000);
  t.diagnostic(`silent loss with ping streams: route moved in ${ms} ms`);
  assert.equal(haip.lines.filter((l) => /ICMP helper cannot run here/.test(l)).length, 1, 'said once');
});
