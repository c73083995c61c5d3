// The ICMP helper's node side: its lines, its requests, and the prober against a scripted helper (the
// real perl helper needs raw sockets: test/lab/icmpHelper.test.ts).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IcmpProber, addRequest, parseHelperLine } from '../../src/sys/icmpProber';
import { AutoProber, StreamProber } from '../../src/sys/pingStream';
import { Prober } from '../../src/sys/prober';

test('parseHelperLine: echoes, failures and boosts; anything else is ignored', () => {
  const cases: [string, unknown][] = [
    ['ready', { kind: 'ready' }],
    ['12 345 ok 0.042', { kind: 'echo', id: 12, outcome: { seq: 345, alive: true, rttMs: 0.042 } }],
    ['12 65535 lost', { kind: 'echo', id: 12, outcome: { seq: 65535, alive: false } }],
    ['12 7 lost ICMP type 3 from 198.18.1.1', { kind: 'echo', id: 12, outcome: { seq: 7, alive: false }, why: 'ICMP type 3 from 198.18.1.1' }],
    ['3 fail bind to device eth9: No such device', { kind: 'fail', id: 3, message: 'bind to device eth9: No such device' }],
    ['3 boost', { kind: 'boost', id: 3 }],
    ['', { kind: 'other' }],
    ['12 345 ok', { kind: 'other' }],
    ['12 345 ok -1', { kind: 'other' }],
    ['12 345 ok 1e9', { kind: 'other' }],
    ['12 1234567 ok 0.1', { kind: 'other' }],
    ['x 1 ok 0.1', { kind: 'other' }],
    ['12 1 ok 0.1 extra', { kind: 'other' }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseHelperLine(line), want, line);
});

test('addRequest: one line of known fields; a name or address that could break the line is refused', () => {
  const base = { source: '198.18.1.2', device: 'eth1', target: '203.0.113.1', gapMs: 250, quietGapMs: 1000, timeoutMs: 1000, holdMs: 10_000 };
  assert.equal(addRequest(7, base), 'add 7 4 198.18.1.2 eth1 203.0.113.1 250 1000 1000 10000 -');
  assert.equal(addRequest(8, { ...base, source: '2001:db8:1::2', target: '2001:db8::1', device: undefined, size: 1452 }), 'add 8 6 2001:db8:1::2 - 2001:db8::1 250 1000 1000 10000 1452');
  for (const bad of [{ device: 'eth 1' }, { device: 'a\nadd 9' }, { device: 'x'.repeat(16) }, { source: '1.2.3.4 5' }, { target: '203.0.113.1\n' }])
    assert.equal(addRequest(9, { ...base, ...bad }), undefined, JSON.stringify(bad));
});

function script(t: { after(fn: () => void): void }, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'haip-icmp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'perl');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** A stand-in helper: says ready, then answers every stream it is given with `line` every 50 ms. */
const scripted = (line: string) => `echo ready; while read cmd id rest; do [ "$cmd" = add ] || continue; ( i=1; while :; do echo "$id $i ${line}"; i=$((i+1)); sleep 0.05; done ) & done`;

test('IcmpProber: an answer is alive with its RTT and sets lastAnswer; losses fail the round after `samples` echoes', async (t) => {
  const alive = new IcmpProber(script(t, scripted('ok 0.5')));
  t.after(() => alive.close());
  const hints = { intervalMs: 1000, device: 'eth1' };
  assert.equal(alive.lastAnswer('203.0.113.1', '198.18.1.2', 1000, hints), undefined, 'unknown before the stream is made');
  const before = Date.now();
  assert.deepEqual(await alive.probe('203.0.113.1', '198.18.1.2', 1000, hints), { alive: true, rttMs: 0.5, lost: 0 });
  assert.ok(alive.lastAnswer('203.0.113.1', '198.18.1.2', 1000, hints)! >= before);
  assert.equal(alive.pids().length, 1, 'one helper for every stream');
  await alive.probe('203.0.113.2', '198.18.1.2', 1000, hints);
  assert.equal(alive.pids().length, 1);

  const dead = new IcmpProber(script(t, scripted('lost')));
  t.after(() => dead.close());
  assert.deepEqual(await dead.probe('203.0.113.1', '198.18.1.2', 1000, hints), { alive: false, lost: 4 });
});

test('IcmpProber: a stream the helper refuses fails with its reason, and is asked again a second later', async (t) => {
  const p = new IcmpProber(script(t, 'echo ready; while read cmd id rest; do echo "$id fail bind to device eth9: No such device"; done'));
  t.after(() => p.close());
  const r = await p.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000, device: 'eth9' });
  assert.deepEqual(r, { alive: false, error: 'bind to device eth9: No such device' });
  assert.equal(p.unavailable, undefined, 'one link\'s problem, not the helper\'s');
});

test('AutoProber: without the helper (no perl, no raw sockets) ICMP goes to ping streams, said once', async (t) => {
  const calls: string[] = [];
  const stream = { probe: async (target: string) => (calls.push(`stream ${target}`), { alive: true, rttMs: 1 }), lastAnswer: () => 5, forget() {}, close() {} } as unknown as StreamProber;
  const spawner: Prober = { probe: async (target) => (calls.push(`spawn ${target}`), { alive: true, rttMs: 2 }) };
  const warnings: string[] = [];
  const auto = new AutoProber(stream, spawner, (m) => warnings.push(m), new IcmpProber('/nonexistent/perl'));
  t.after(() => auto.close());
  assert.deepEqual(await auto.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 }), { alive: true, rttMs: 1 }, 'the round that found out asks ping');
  await auto.probe('203.0.113.2', '198.18.1.2', 300, { intervalMs: 1000 });
  assert.deepEqual(calls, ['stream 203.0.113.1', 'stream 203.0.113.2']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /ICMP helper cannot run here \(ICMP helper \(\/nonexistent\/perl\) could not start/);
  assert.equal(auto.lastAnswer('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 }), 5);

  const raw = new AutoProber(stream, spawner, () => {}, new IcmpProber(script(t, 'echo ready; while read cmd id rest; do echo "$id fail socket: Operation not permitted"; done')));
  t.after(() => raw.close());
  calls.length = 0;
  assert.equal((await raw.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 })).alive, true);
  assert.deepEqual(calls, ['stream 203.0.113.1'], 'no raw sockets: ping streams');
});

test('IcmpProber: a helper that had got going and died starts again at once (once per 10 s); one that keeps dying waits', async (t) => {
  const p = new IcmpProber(script(t, scripted('ok 0.5')));
  t.after(() => p.close());
  const hints = { intervalMs: 1000, device: 'eth1' };
  assert.equal((await p.probe('203.0.113.1', '198.18.1.2', 1000, hints)).alive, true);
  const first = p.pids()[0];
  // Killed well within a second of its start: the round in flight is lost, the next one is not.
  const inFlight = p.probe('203.0.113.1', '198.18.1.2', 1000, hints);
  process.kill(first, 'SIGKILL');
  assert.match((await inFlight).error ?? '', /ICMP helper \(.*\) exited \(SIGKILL\)/);
  assert.deepEqual(await p.probe('203.0.113.1', '198.18.1.2', 1000, hints), { alive: true, rttMs: 0.5, lost: 0 }, 'started again at once');
  assert.notEqual(p.pids()[0], first);
  // Dead again at once: no second free start within 10 s, so the next round waits out RETRY_MS.
  const again = p.probe('203.0.113.1', '198.18.1.2', 1000, hints);
  process.kill(p.pids()[0], 'SIGKILL');
  await again;
  assert.match((await p.probe('203.0.113.1', '198.18.1.2', 1000, hints)).error ?? '', /exited \(SIGKILL\)/, 'a helper dying at every start is not started in a loop');
});
