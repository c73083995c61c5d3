// Sticky connections against the real kernel: a LAN host behind the haip router, masquerade per uplink,
// ISPs that drop what is not from their customer, and long-lived TCP connections to a server in the
// internet that says which uplink address each connection arrives from.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Haip, LAN_HOST, Lab, SERVER, sleep } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const PORT = '8080';

type T = { after(fn: () => void): void; diagnostic(s: string): void };

async function startLab(t: T, sticky: boolean, env: NodeJS.ProcessEnv | ((lab: Lab) => NodeJS.ProcessEnv) = {}) {
  const lab = Lab.create({ lan: true });
  t.after(() => lab.destroy());
  const server = lab.spawnNode(lab.inet, 'tcpPeer', ['server', SERVER, PORT]);
  await server.waitFor(/^listening$/, 5000);
  const cfg = lab.writeConfig(lab.configYaml(FAST, `sticky: ${sticky}\n`));
  const haip = lab.startHaip(['run', '-c', cfg, '-vv'], typeof env === 'function' ? env(lab) : env);
  await haip.waitFor(/notice: ready:/, 10_000);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  return { lab, haip, cfg };
}

/** A LAN client connected to the server; `say` sends a line and waits for the echo (or fails). */
async function connect(lab: Lab) {
  const c = lab.spawnNode(lab.lan, 'tcpPeer', ['client', SERVER, PORT]);
  const port = Number((await c.waitFor(/^connected \d+$/, 3000)).split(' ')[1]);
  return { c, port };
}

async function say(c: Haip, word: string, timeoutMs = 2000): Promise<string> {
  const from = c.lines.length;
  c.send(word);
  const line = await c.waitFor(new RegExp(`^reply ${word} from |^error |^closed$`), timeoutMs, from);
  const m = /^reply \S+ from ([\d.]+):\d+$/.exec(line);
  if (!m) throw new Error(`${word}: ${line}`);
  return m[1];
}

/** Conntrack entries in the router for a LAN client port, one line each. */
function conntrackOf(lab: Lab, port: number): string[] {
  return lab.exec(lab.r, 'conntrack', '-L', '-p', 'tcp', '--orig-port-src', String(port)).split('\n').filter(Boolean);
}

function hasHaipTable(lab: Lab): boolean {
  return /^table inet haip$/m.test(lab.exec(lab.r, 'nft', 'list', 'tables'));
}

/** Fails over to the backup, opens a connection there, fails back; the connection and what it says. */
async function connectionAcrossFailBack(lab: Lab, haip: Haip) {
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
  const old = await connect(lab);
  assert.equal(await say(old.c, 'before'), '198.18.2.2', 'opened while the backup carries traffic');
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
  await haip.waitFor(/switch: default route isp2 .* -> isp1 /);
  return old;
}

test('sticky: a LAN connection opened on the backup keeps its uplink across the fail-back; new ones take the primary', async (t) => {
  const { lab, haip, cfg } = await startLab(t, true);
  assert.ok(hasHaipTable(lab), 'inet haip installed');
  assert.match(lab.rules(), /11010:\s+from all fwmark 0x1\/0xff lookup 101 proto (72|haip)/);
  assert.match(lab.rules(), /11020:\s+from all fwmark 0x2\/0xff lookup 102 proto (72|haip)/);
  const old = await connectionAcrossFailBack(lab, haip);
  const t0 = Date.now();
  assert.equal(await say(old.c, 'after'), '198.18.2.2', 'the old connection still leaves through the backup');
  t.diagnostic(`old connection answered ${Date.now() - t0} ms after the fail-back`);
  assert.match(conntrackOf(lab, old.port)[0], /mark=2\b/);
  const fresh = await connect(lab);
  assert.equal(await say(fresh.c, 'new'), '198.18.1.2', 'a new connection leaves through the primary');
  assert.match(conntrackOf(lab, fresh.port)[0], /mark=1\b/);
  assert.equal(lab.spoofDrops(1) + lab.spoofDrops(2), 0, 'nothing left by the wrong uplink');

  const plan = lab.startHaip(['plan', '-c', cfg]);
  assert.equal(await plan.exited, 0);
  assert.match(plan.output(), /# the kernel already matches the config: no commands/);
  assert.match(plan.output(), /nft -f - <<'EOF'\ntable inet haip \{\}\ndelete table inet haip\ntable inet haip \{\n/);

  // Stopping leaves routing and stickiness working; `haip flush` removes the table and the fwmark rules.
  assert.equal(await haip.stop(), 0);
  assert.ok(hasHaipTable(lab), 'the table stays after stop');
  assert.equal(await say(old.c, 'stopped'), '198.18.2.2');
  assert.equal(await say(fresh.c, 'stopped'), '198.18.1.2');
  const flush = lab.startHaip(['flush', '-c', cfg]);
  assert.equal(await flush.exited, 0, flush.output());
  assert.match(flush.output(), /flush: nft delete table inet haip/);
  assert.ok(!hasHaipTable(lab), 'flush removed inet haip');
  assert.match(lab.exec(lab.r, 'nft', 'list', 'tables'), /table ip haiplabnat/, "the lab's own NAT table stays");
  assert.doesNotMatch(lab.rules(), /fwmark/);
});

test('not sticky: the same connection breaks at the fail-back (the primary cannot carry the backup address)', async (t) => {
  const { lab, haip } = await startLab(t, false);
  // Replies by the arrival uplink need the table and the fwmark rules; only the outgoing marks are sticky's.
  assert.ok(hasHaipTable(lab));
  assert.doesNotMatch(lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip'), /outgoing/);
  const old = await connectionAcrossFailBack(lab, haip);
  // Routed by the main table now, the connection's packets reach eth1. Masquerade notices the new output
  // interface and kills the conntrack entry (nf_nat_oif_changed), dropping the packet; the retransmission
  // is picked up as a new connection from the primary's address, which the server answers with a reset.
  // With SNAT instead of masquerade they would leave eth1 from 198.18.2.2 and be dropped by isp1: a stall.
  const err = await say(old.c, 'after', 3000).then(
    (from) => `answered from ${from}`,
    (e: Error) => e.message,
  );
  t.diagnostic(`old connection after the fail-back without sticky: ${err}`);
  assert.match(err, /^after: error ECONNRESET$|never logged/, 'the old connection must not survive');
  const fresh = await connect(lab);
  assert.equal(await say(fresh.c, 'new'), '198.18.1.2');
});

test('sticky: the backup going down flushes only its connections; their clients get a reset at once, the others carry on', async (t) => {
  const { lab, haip } = await startLab(t, true);
  const onBackup = await connectionAcrossFailBack(lab, haip);
  const onPrimary = await connect(lab);
  assert.equal(await say(onPrimary.c, 'hello'), '198.18.1.2');
  const marks = () => {
    const all = lab.exec(lab.r, 'conntrack', '-L').split('\n').filter(Boolean);
    return { total: all.length, backup: all.filter((l) => /mark=2\b/.test(l)).length, primary: all.filter((l) => /mark=1\b/.test(l)).length };
  };
  const before = marks();
  assert.ok(before.backup >= 1 && before.primary >= 1, JSON.stringify(before));
  const mark = haip.lines.length;
  const t0 = Date.now();
  lab.dropAtIsp(2);
  const flushed = await haip.waitFor(/notice: sticky: isp2 is down: flushed its \d+ connection\(s\) \(mark 0x2\)/, 6000, mark);
  const flushMs = Date.now() - t0;
  const after = marks();
  t.diagnostic(`${flushed.replace(/^.*sticky: /, '')}; ${flushMs} ms after the loss began; conntrack before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
  assert.equal(conntrackOf(lab, onBackup.port).length, 0, "the backup's connection is gone from conntrack");
  assert.equal(conntrackOf(lab, onPrimary.port).length, 1, "the primary's connection stays");
  assert.ok(after.primary >= 1, JSON.stringify(after));
  // The next packet of the flushed connection leaves by the primary, the server answers it with a reset.
  const events = lab.spawnIn(lab.r, ['conntrack', '-E', '-p', 'tcp', '--orig-port-src', String(onBackup.port)]);
  await sleep(300);
  const t1 = Date.now();
  onBackup.c.send('anyone');
  await onBackup.c.waitFor(/^error ECONNRESET$/, 1000);
  const resetMs = Date.now() - t1;
  const picked = await events.waitFor(/NEW/, 1000);
  t.diagnostic(`the flushed connection's next packet: ${picked.trim()}`);
  assert.match(picked, /dst=198\.18\.1\.2\b.*mark=1\b/, 'its next packet left by the primary');
  assert.equal(await say(onPrimary.c, 'still'), '198.18.1.2', "the primary's connection is untouched");
  t.diagnostic(`flushed client learned in ${resetMs} ms (ECONNRESET)`);
  console.log(`# figures: sticky flush_after_loss_ms=${flushMs} reset_ms=${resetMs}`);
  assert.ok(resetMs < 500, `reset took ${resetMs} ms`);
});

test('reload: turning sticky off removes the outgoing marks (replies keep theirs), turning it on puts them back', async (t) => {
  const { lab, haip, cfg } = await startLab(t, true);
  assert.ok(hasHaipTable(lab));
  lab.writeConfig(lab.configYaml(FAST, 'sticky: false\n'));
  let mark = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/info: applied: nftables table inet haip/, 5000, mark);
  assert.doesNotMatch(lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip'), /outgoing/);
  assert.match(lab.rules(), /11020:\s+from all fwmark 0x2\/0xff lookup 102/);
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
  lab.writeConfig(lab.configYaml(FAST, 'sticky: true\nmark_mask: 0xff00\n').replace('gateway: 198.18.1.1 }', 'gateway: 198.18.1.1, mark: 0x100 }').replace('gateway: 198.18.2.1 }', 'gateway: 198.18.2.1, mark: 0x200 }'));
  mark = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/info: applied: nftables table inet haip \(isp1 mark 0x100, isp2 mark 0x200; mask 0xff00\)/, 5000, mark);
  assert.ok(hasHaipTable(lab));
  assert.match(lab.rules(), /11020:\s+from all fwmark 0x200\/0xff00 lookup 102/);
  const fresh = await connect(lab);
  assert.equal(await say(fresh.c, 'hi'), '198.18.1.2');
  assert.match(conntrackOf(lab, fresh.port)[0], /mark=256\b/);
  assert.ok(cfg);
});

test('control: without conntrack-tools nothing is flushed, the error says so, and the backup\'s client hangs', async (t) => {
  // The same as above on a host where conntrack is not installed: PATH holds only ip, nft and ping.
  const { lab, haip } = await startLab(t, true, (l) => {
    const bin = join(l.dir, 'bin');
    mkdirSync(bin);
    for (const tool of ['ip', 'nft', 'ping']) symlinkSync(execFileSync('which', [tool], { encoding: 'utf8' }).trim(), join(bin, tool));
    return { PATH: bin };
  });
  const onBackup = await connectionAcrossFailBack(lab, haip);
  const mark = haip.lines.length;
  lab.dropAtIsp(2);
  await haip.waitFor(/error: sticky: flushing the connections of isp2: conntrack -D -f ipv4 --mark 0x2\/0xff: exit 127/, 6000, mark);
  assert.match(conntrackOf(lab, onBackup.port)[0], /mark=2\b/, 'the entry stays');
  const outcome = await say(onBackup.c, 'anyone', 3000).then(
    (from) => `answered from ${from}`,
    (e: Error) => e.message,
  );
  assert.match(outcome, /never logged/, `the client must hang, got: ${outcome}`);
});

test('a port forward on the standby uplink answers through it, sticky or not (replies.test.ts covers rp_filter=1)', async (t) => {
  const { lab, haip } = await startLab(t, true);
  const server = lab.spawnNode(lab.lan, 'tcpPeer', ['server', LAN_HOST, '8080']);
  await server.waitFor(/^listening$/, 5000);
  lab.portForward(2, 8022, 8080);
  // From the internet to the backup's address while the primary carries the default route.
  const c = lab.spawnNode(lab.inet, 'tcpPeer', ['client', '198.18.2.2', '8022']);
  await c.waitFor(/^connected \d+$/, 3000);
  assert.equal(await say(c, 'in'), '198.19.2.2');
  assert.match(lab.exec(lab.r, 'conntrack', '-L', '-p', 'tcp', '--orig-port-dst', '8022'), /mark=2\b/, 'marked for the uplink it arrived on');
  assert.equal(lab.spoofDrops(1), 0);

  lab.writeConfig(lab.configYaml(FAST, 'sticky: false\n'));
  const mark = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/info: applied: nftables table inet haip/, 5000, mark);
  const plain = lab.spawnNode(lab.inet, 'tcpPeer', ['client', '198.18.2.2', '8022']);
  await plain.waitFor(/^connected \d+$/, 3000);
  assert.equal(await say(plain, 'plain'), '198.19.2.2');
  assert.equal(await say(c, 'still'), '198.19.2.2', 'the first connection too');
  assert.equal(lab.spoofDrops(1), 0, 'nothing left by the primary from the backup address');
});
