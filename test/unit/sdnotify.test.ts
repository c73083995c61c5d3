// SdNotifier against a real AF_UNIX datagram socket (a perl receiver standing in for PID 1),
// for a path socket and an abstract one. Needs no root, so it runs with the unit tests; the whole path
// under systemd is in test/e2e/run.sh.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { receiver } from './datagramReceiver';
import { memoryLog } from './fakes';
import { nullNotifier } from '../../src/sys/notifier';
import { createSdNotifier, formatMessage, SdNotifier } from '../../src/sys/sdnotify';

test('formatMessage puts one field a line and keeps STATUS on one line', () => {
  assert.equal(formatMessage({ READY: '1', STATUS: 'a\nb' }), 'READY=1\nSTATUS=a b');
});

test('without NOTIFY_SOCKET the notifier is the no-op', () => {
  assert.equal(createSdNotifier({}, memoryLog()), nullNotifier);
});

for (const kind of ['path', 'abstract'] as const) {
  test(`every message arrives as one datagram on the ${kind} socket`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'haip-sdnotify-'));
    const address = kind === 'path' ? join(dir, 'notify') : `@haip-test-${process.pid}-${Date.now()}`;
    const rx = await receiver(address);
    const log = memoryLog();
    const notifier = createSdNotifier({ NOTIFY_SOCKET: address }, log);
    assert.ok(notifier instanceof SdNotifier);
    try {
      notifier.notify({ READY: '1', STATUS: 'active: isp1 (eth1); isp1 up 1.0ms, isp2 up 2.0ms' });
      notifier.notify({ WATCHDOG: '1' });
      notifier.notify({ RELOADING: '1' });
      notifier.notify({ STOPPING: '1' });
      assert.deepEqual((await rx.next(4)).map(String), [
        'READY=1\nSTATUS=active: isp1 (eth1); isp1 up 1.0ms, isp2 up 2.0ms',
        'WATCHDOG=1',
        'RELOADING=1',
        'STOPPING=1',
      ]);
      assert.deepEqual(log.lines, []);
    } finally {
      notifier.close();
      rx.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a helper that cannot start is logged, and notify() stays harmless', async () => {
  const log = memoryLog();
  const notifier = new SdNotifier('/nonexistent/notify', log, '/nonexistent/perl');
  notifier.notify({ READY: '1' });
  await new Promise((r) => setTimeout(r, 200));
  notifier.notify({ WATCHDOG: '1' });
  notifier.close();
  assert.ok(log.lines.some((l) => /could not start/.test(l)), log.lines.join('\n'));
});
