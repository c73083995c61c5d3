// The streaming prober's pure parts: reading ping's lines, judging each echo by its timeout, pacing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EchoJudge, EchoOutcome, parsePingLine, sampling } from '../../src/sys/pingStream';

test('parsePingLine reads replies, -O misses and ICMP errors', () => {
  assert.deepEqual(parsePingLine('64 bytes from 203.0.113.1: icmp_seq=7 ttl=63 time=0.042 ms'), { kind: 'reply', seq: 7, rttMs: 0.042 });
  assert.deepEqual(parsePingLine('no answer yet for icmp_seq=8'), { kind: 'unanswered', seq: 8 });
  assert.deepEqual(parsePingLine('From 198.18.1.1 icmp_seq=9 Destination Net Unreachable'), { kind: 'error', seq: 9 });
  for (const l of ['PING 203.0.113.1 (203.0.113.1) from 198.18.1.2 : 56(84) bytes of data.', '', 'ping: sendmsg: Network is unreachable'])
    assert.deepEqual(parsePingLine(l), { kind: 'other' });
});

test('sampling: up to 4 echoes per round, never closer than 100 ms', () => {
  assert.deepEqual(sampling(1000), { samples: 4, gapMs: 250 });
  assert.deepEqual(sampling(200), { samples: 2, gapMs: 100 });
  assert.deepEqual(sampling(100), { samples: 1, gapMs: 100 });
  assert.deepEqual(sampling(50), { samples: 1, gapMs: 100 });
  assert.deepEqual(sampling(10_000), { samples: 4, gapMs: 2500 });
});

function judge(timeoutMs: number, gapMs: number) {
  const out: EchoOutcome[] = [];
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  let now = 0;
  const j = new EchoJudge(timeoutMs, gapMs, (o) => out.push(o), (ms, fn) => {
    const t = { at: now + ms, fn, live: true };
    timers.push(t);
    return { cancel: () => void (t.live = false) };
  });
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers) if (t.live && t.at <= now) (t.live = false), t.fn();
  };
  return { j, out, advance };
}

test('EchoJudge: a reply in time is alive, a slow one is lost, and each echo is judged once', () => {
  const { j, out } = judge(300, 200);
  j.line('64 bytes from 203.0.113.1: icmp_seq=1 ttl=63 time=12.5 ms');
  j.line('64 bytes from 203.0.113.1: icmp_seq=2 ttl=63 time=350 ms');
  j.line('From 198.18.1.1 icmp_seq=3 Destination Net Unreachable');
  j.line('no answer yet for icmp_seq=3');
  j.line('64 bytes from 203.0.113.1: icmp_seq=1 ttl=63 time=12.5 ms (DUP!)');
  assert.deepEqual(out, [
    { seq: 1, alive: true, rttMs: 12.5 },
    { seq: 2, alive: false },
    { seq: 3, alive: false },
  ]);
});

test('EchoJudge: with timeout above the gap, an unanswered echo waits out its timeout for a late reply', () => {
  const { j, out, advance } = judge(300, 200);
  j.line('no answer yet for icmp_seq=4'); // 200 ms after sending
  advance(50);
  j.line('64 bytes from 203.0.113.1: icmp_seq=4 ttl=63 time=250 ms');
  j.line('no answer yet for icmp_seq=5');
  advance(99);
  assert.equal(out.length, 1);
  advance(1);
  assert.deepEqual(out, [
    { seq: 4, alive: true, rttMs: 250 },
    { seq: 5, alive: false },
  ]);
  j.line('64 bytes from 203.0.113.1: icmp_seq=5 ttl=63 time=400 ms');
  assert.equal(out.length, 2, 'a reply after its echo was given up changes nothing');
});

test('EchoJudge: with timeout at or below the gap, -O\'s miss is final at once', () => {
  const { j, out } = judge(1000, 1000);
  j.line('no answer yet for icmp_seq=1');
  assert.deepEqual(out, [{ seq: 1, alive: false }]);
});
