// The streaming prober: reading ping's lines, judging each echo by its timeout, pacing, and the
// prober itself against scripted pings (no network needed).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AutoProber, EchoJudge, EchoOutcome, parsePingLine, sampling, StreamProber } from '../../src/sys/pingStream';
import { Prober } from '../../src/sys/prober';

test('parsePingLine reads replies, -O misses and ICMP errors', () => {
  assert.deepEqual(parsePingLine('64 bytes from 203.0.113.1: icmp_seq=7 ttl=63 time=0.042 ms'), { kind: 'reply', seq: 7, rttMs: 0.042 });
  assert.deepEqual(parsePingLine('no answer yet for icmp_seq=8'), { kind: 'unanswered', seq: 8 });
  assert.deepEqual(parsePingLine('From 198.18.1.1 icmp_seq=9 Destination Net Unreachable'), { kind: 'error', seq: 9 });
  for (const l of ['PING 203.0.113.1 (203.0.113.1) from 198.18.1.2 : 56(84) bytes of data.', '', 'ping: sendmsg: Network is unreachable'])
    assert.deepEqual(parsePingLine(l), { kind: 'other' });
});

test('sampling: up to 4 echoes per round, never closer than 50 ms; a quiet ping once a round', () => {
  assert.deepEqual(sampling(1000), { samples: 4, gapMs: 250, quietGapMs: 1000 });
  assert.deepEqual(sampling(200), { samples: 4, gapMs: 50, quietGapMs: 200 });
  assert.deepEqual(sampling(100), { samples: 2, gapMs: 50, quietGapMs: 100 });
  assert.deepEqual(sampling(50), { samples: 1, gapMs: 50, quietGapMs: 50 });
  assert.deepEqual(sampling(20), { samples: 1, gapMs: 50, quietGapMs: 50 });
  assert.deepEqual(sampling(10_000), { samples: 4, gapMs: 2500, quietGapMs: 10_000 });
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

// ---- StreamProber and AutoProber against scripted pings ------------------------------------------------


function script(t: { after(fn: () => void): void }, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'haip-ping-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ping');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('StreamProber: a reply answers the probe; a stream of misses fails it after `samples` echoes', async (t) => {
  const alive = new StreamProber(script(t, 'i=1; while :; do echo "64 bytes from $9: icmp_seq=$i ttl=64 time=0.5 ms"; i=$((i+1)); sleep 0.05; done'));
  t.after(() => alive.close());
  assert.deepEqual(await alive.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 200 }), { alive: true, rttMs: 0.5, lost: 0 });
  const dead = new StreamProber(script(t, 'i=1; while :; do sleep 0.05; echo "no answer yet for icmp_seq=$i"; i=$((i+1)); done'));
  t.after(() => dead.close());
  const t0 = Date.now();
  assert.deepEqual(await dead.probe('203.0.113.1', '198.18.1.2', 100, { intervalMs: 200 }), { alive: false, lost: 4 });
  assert.ok(Date.now() - t0 < 1000);
});

test('StreamProber.lastAnswer: unknown before the stream is made, then the time of the last answer', async (t) => {
  const p = new StreamProber(script(t, 'i=1; while :; do echo "64 bytes from $9: icmp_seq=$i ttl=64 time=0.5 ms"; i=$((i+1)); sleep 0.05; done'));
  t.after(() => p.close());
  const hints = { intervalMs: 200 };
  assert.equal(p.lastAnswer('203.0.113.1', '198.18.1.2', 300, hints), undefined);
  const before = Date.now();
  await p.probe('203.0.113.1', '198.18.1.2', 300, hints);
  const last = p.lastAnswer('203.0.113.1', '198.18.1.2', 300, hints)!;
  assert.ok(last >= before && last <= Date.now(), `${last} within the probe`);
  assert.equal(p.lastAnswer('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 }), undefined, 'another pace is another stream');
});

test('StreamProber.lastAnswer: a silent stream keeps the time it was made', async (t) => {
  const p = new StreamProber(script(t, 'i=1; while :; do sleep 0.05; echo "no answer yet for icmp_seq=$i"; i=$((i+1)); done'));
  t.after(() => p.close());
  const before = Date.now();
  await p.probe('203.0.113.1', '198.18.1.2', 100, { intervalMs: 200 });
  const last = p.lastAnswer('203.0.113.1', '198.18.1.2', 100, { intervalMs: 200 })!;
  assert.ok(last >= before - 5 && last <= before + 50, 'silence counts from the start of the stream');
});

test('StreamProber: a missing ping is a failure with the reason, never alive', async (t) => {
  const p = new StreamProber('/nonexistent/ping');
  t.after(() => p.close());
  const r = await p.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 });
  assert.equal(r.alive, false);
  assert.match(r.error ?? '', /ENOENT/);
});

test('AutoProber: a ping that cannot stream (busybox) falls back to spawning, and says so once', async (t) => {
  const stream = new StreamProber(script(t, 'echo "ping: unrecognized option \'-O\'" >&2; echo "Usage: ping [OPTIONS] HOST" >&2; exit 1'));
  const calls: string[] = [];
  const spawner: Prober = { probe: async (target) => (calls.push(target), { alive: true, rttMs: 1 }) };
  const warnings: string[] = [];
  const auto = new AutoProber(stream, spawner, (m) => warnings.push(m));
  t.after(() => auto.close());
  const first = await auto.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 });
  assert.equal(first.alive, false, 'the refused stream is a failure, not health');
  assert.deepEqual(await auto.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 }), { alive: true, rttMs: 1 });
  await auto.probe('203.0.113.2', '198.18.1.2', 300, { intervalMs: 1000 });
  assert.deepEqual(calls, ['203.0.113.1', '203.0.113.2']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /cannot stream \(ping: unrecognized option/);
  assert.equal(auto.lastAnswer('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000 }), undefined, 'spawned pings cannot tell silence');
  // method: stream insists, method: spawn never streams.
  assert.equal((await auto.probe('203.0.113.1', '198.18.1.2', 300, { intervalMs: 1000, method: 'stream' })).alive, false);
});

test('StreamProber: a quiet ping once a round while answered; the first miss starts a booster at the full pace, stopped after the hold', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'haip-boost-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Logs each start's -i; answers while no "cut" file exists, then stays silent as ping -O does.
  const ping = script(t, `echo "$4" >> ${dir}/starts; i=1; while :; do if [ -e ${dir}/cut ]; then echo "no answer yet for icmp_seq=$i"; else echo "64 bytes from $8: icmp_seq=$i ttl=64 time=0.5 ms"; fi; i=$((i+1)); sleep $4; done`);
  const p = new StreamProber(ping, 600);
  t.after(() => p.close());
  const hints = { intervalMs: 200 };
  const starts = () => (existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n') : []);
  assert.equal((await p.probe('203.0.113.1', '198.18.1.2', 300, hints)).alive, true);
  await sleep(500);
  assert.deepEqual(starts(), ['0.2'], 'answered: one quiet ping, once a round');
  assert.equal(p.pids().length, 1);
  writeFileSync(join(dir, 'cut'), '');
  const cutAt = Date.now();
  while (starts().length < 2 && Date.now() - cutAt < 2000) await sleep(10);
  assert.deepEqual(starts(), ['0.2', '0.05'], 'a miss starts the booster at the full pace');
  assert.ok(Date.now() - cutAt < 600, `boosted ${Date.now() - cutAt} ms after the cut`);
  assert.equal(p.pids().length, 2);
  rmSync(join(dir, 'cut'));
  // The hold (600 ms here) runs from the last miss; the next probe after it stops the booster.
  await sleep(900);
  await p.probe('203.0.113.1', '198.18.1.2', 300, hints);
  assert.equal(p.pids().length, 1, 'the booster stops once the hold is over');
  assert.deepEqual(starts(), ['0.2', '0.05']);
});
