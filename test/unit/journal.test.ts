// Journal fields: the native protocol's encoding, entries arriving on a real AF_UNIX datagram socket
// (a perl receiver standing in for journald) through the log, the fallback to `<N>` lines, and the
// fields the daemon gives its switch and link-state lines. Under a real journald: test/e2e/run.sh.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { Daemon } from '../../src/daemon';
import { createLog, eventFields, MESSAGE_IDS } from '../../src/log';
import { encodeEntry, JournalSender, JournalSink } from '../../src/sys/journal';
import { nullNotifier } from '../../src/sys/notifier';
import { receiver } from './datagramReceiver';
import { FakeClock, FakeKernel, FakeProber, memoryLog } from './fakes';
import { CONFIG, ETH1, PPP0 } from './fixtures';

/** Reads a native-protocol datagram back into its fields (repeated keys keep the last). */
function decodeEntry(buf: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    const line = buf.subarray(at, nl).toString();
    const eq = line.indexOf('=');
    if (eq >= 0) {
      fields[line.slice(0, eq)] = line.slice(eq + 1);
      at = nl + 1;
    } else {
      const size = Number(buf.readBigUInt64LE(nl + 1));
      fields[line] = buf.subarray(nl + 9, nl + 9 + size).toString();
      assert.equal(buf[nl + 9 + size], 0x0a, 'the binary form ends with a newline');
      at = nl + 10 + size;
    }
  }
  return fields;
}

describe('journal: the native protocol', () => {
  it('KEY=VALUE lines', () => {
    assert.equal(encodeEntry({ MESSAGE: 'switch: a -> b', PRIORITY: '4', HAIP_LINK: 'isp2' }).toString(), 'MESSAGE=switch: a -> b\nPRIORITY=4\nHAIP_LINK=isp2\n');
  });

  it('a value with a newline goes in the binary-safe form: name, newline, 64-bit LE length, bytes, newline', () => {
    const buf = encodeEntry({ MESSAGE: 'two\nlines', PRIORITY: '6' });
    assert.deepEqual(buf, Buffer.concat([Buffer.from('MESSAGE\n'), Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('two\nlines\n'), Buffer.from('PRIORITY=6\n')]));
    assert.deepEqual(decodeEntry(buf), { MESSAGE: 'two\nlines', PRIORITY: '6' });
  });

  it('the length counts bytes, not characters', () => {
    const buf = encodeEntry({ MESSAGE: 'ä\n' });
    assert.equal(buf.readBigUInt64LE(8), 3n);
  });

  it('a name journald would refuse is a programming error', () => {
    for (const bad of ['haip_link', '_PID', 'HAIP-LINK', '', 'A'.repeat(65)]) assert.throws(() => encodeEntry({ [bad]: 'x' }), /not a journal field name/);
  });
});

describe('journal: event fields', () => {
  it('the hooks\' variables and one fixed 128-bit MESSAGE_ID per kind of event', () => {
    assert.deepEqual(eventFields({ event: 'switch', link: 'isp2', interface: 'eth2', state: 'up', previous: 'isp1', gateway: '198.18.2.1' }), {
      MESSAGE_ID: 'd4cd4cf6bfb6466c97c6a0d4ab768113',
      HAIP_EVENT: 'switch',
      HAIP_LINK: 'isp2',
      HAIP_INTERFACE: 'eth2',
      HAIP_STATE: 'up',
      HAIP_PREVIOUS: 'isp1',
      HAIP_FAMILY: '4',
      HAIP_GATEWAY: '198.18.2.1',
    });
    const ids = Object.values(MESSAGE_IDS);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  });

  it('the daemon gives every switch and link-state line its fields', async () => {
    const kernel = new FakeKernel().addInterface('eth1', [ETH1]).addInterface('ppp0', [PPP0]);
    const clock = new FakeClock();
    const prober = new FakeProber();
    const log = memoryLog();
    const daemon = new Daemon(CONFIG, { ip: kernel, prober, clock, notifier: nullNotifier, log, watchdogMs: null });
    await daemon.start();
    await clock.advance(0);
    prober.setDown(ETH1.address);
    await clock.advance(10_000);
    await daemon.stop();
    const told = log.lines.filter((l) => /^\w+: (switch: |link \w+ \()/.test(l));
    assert.ok(told.length >= 4, told.join('\n'));
    for (const line of told) assert.ok(log.fields.has(line), `no fields for ${line}`);
    const down = [...log.fields].find(([l]) => /link dsl \(eth1\): up -> down/.test(l))?.[1];
    assert.deepEqual(down, { MESSAGE_ID: MESSAGE_IDS['link-down'], HAIP_EVENT: 'link-down', HAIP_LINK: 'dsl', HAIP_INTERFACE: 'eth1', HAIP_STATE: 'down', HAIP_PREVIOUS: 'up', HAIP_FAMILY: '4', HAIP_GATEWAY: '198.18.1.1' });
    const away = [...log.fields].find(([l]) => /switch: default route dsl .* -> lte/.test(l))?.[1];
    assert.equal(away?.HAIP_EVENT, 'switch');
    assert.equal(away?.HAIP_LINK, 'lte');
    assert.equal(away?.HAIP_PREVIOUS, 'dsl');
    assert.equal(away?.MESSAGE_ID, MESSAGE_IDS.switch);
    assert.ok(!log.fields.has(log.lines.find((l) => /^debug: probe /.test(l))!), 'probe lines carry no event fields');
  });
});

describe('journal: through the log to a real datagram socket', () => {
  it('each entry arrives as one datagram with its priority, identifier and fields; nothing on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'haip-journal-'));
    const address = join(dir, 'socket');
    const rx = await receiver(address);
    const problems: string[] = [];
    const journal = new JournalSender(address, (m) => problems.push(m));
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (d) => (printed += d));
    try {
      const log = createLog('journal', 'info', stdout, journal);
      const fields = eventFields({ event: 'switch', link: 'isp2', interface: 'eth2', state: 'up', previous: 'isp1' });
      log.warning('switch: default route isp1 (eth1) -> isp2 (eth2): isp1 is down', fields);
      // Text from outside stays on one line (neutralised), as on stdout.
      log.notice('reloaded\nwith a second line');
      log.debug('not at this level');
      // A value with a newline crosses the socket in the binary-safe form.
      journal.send({ MESSAGE: 'two\nlines', PRIORITY: '6' });
      const [first, second, third] = (await rx.next(3)).map(decodeEntry);
      assert.deepEqual(first, { MESSAGE: 'switch: default route isp1 (eth1) -> isp2 (eth2): isp1 is down', PRIORITY: '4', SYSLOG_IDENTIFIER: 'haip', ...fields });
      assert.deepEqual(second, { MESSAGE: 'reloaded\\x0awith a second line', PRIORITY: '5', SYSLOG_IDENTIFIER: 'haip' });
      assert.deepEqual(third, { MESSAGE: 'two\nlines', PRIORITY: '6' });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await rx.next(3)).length, 3, 'the debug line was not sent');
      assert.equal(printed, '');
      assert.deepEqual(problems, []);
    } finally {
      journal.close();
      rx.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('close() resolves once the helper has sent everything: the lines just before exit are not lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'haip-journal-'));
    const address = join(dir, 'socket');
    const rx = await receiver(address);
    const journal = new JournalSender(address, () => {});
    try {
      for (let i = 0; i < 50; i++) journal.send({ MESSAGE: `line ${i}`, PRIORITY: '6' });
      await journal.close(5000);
      assert.equal(journal.send({ MESSAGE: 'after close' }), false);
      const got = (await rx.next(50)).map((b) => decodeEntry(b).MESSAGE);
      assert.equal(got[49], 'line 49');
    } finally {
      rx.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the journal cannot take an entry, it is a `<N>` line on stdout', () => {
    const refusing: JournalSink = { send: () => false, close() {} };
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (d) => (printed += d));
    const log = createLog('journal', 'info', stdout, refusing);
    log.warning('switch: a -> b', { HAIP_LINK: 'b' });
    log.error('every link is down');
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        assert.equal(printed, '<4>switch: a -> b\n<3>every link is down\n');
        resolve();
      }),
    );
  });

  it('a helper that cannot start: the sender gives up after three tries and the log falls back', async () => {
    const problems: string[] = [];
    const journal = new JournalSender('/nonexistent/socket', (m) => problems.push(m), '/nonexistent/perl');
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (d) => (printed += d));
    const log = createLog('journal', 'info', stdout, journal);
    for (let i = 0; i < 5; i++) {
      log.notice(`line ${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    journal.close();
    assert.ok(problems.some((p) => /journal helper could not start \/nonexistent\/perl/.test(p)), problems.join('\n'));
    assert.match(printed, /<5>line 4\n$/);
  });
});
