// What an admin at the console uses, against a real daemon in a lab: haip status (table and JSON),
// haip plan (changes nothing), hooks on switches (with a time limit), and the metrics file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { test } from 'node:test';
import { Lab, sleep } from './lab';

/** An unusual number, so the test can tell its own hook's sleep from anything else on the machine. */
const HANG_SECONDS = 4242;
const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

const haipCli = (lab: Lab, ...args: string[]) => lab.cli(...args);

test('haip status names the active link and each link\'s state and RTT, before and after a failover', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(FAST, `metrics_file: ${lab.dir}/metrics/haip.prom\n`));
  const notRunning = haipCli(lab, 'status', '-c', cfg);
  assert.equal(notRunning.status, 3);
  assert.match(notRunning.stderr, /no status in .*: is the daemon running\?/);

  const haip = lab.startHaip(['run', '-c', cfg]);
  await haip.waitFor(/ready:/, 10_000);
  await sleep(1200); // a few rounds of RTT history
  let doc = JSON.parse(haipCli(lab, 'status', '-c', cfg, '--json').stdout);
  assert.equal(doc.active, 'isp1');
  assert.equal(doc.running, true);
  assert.deepEqual(doc.links.map((l: any) => [l.name, l.interface, l.state]), [['isp1', 'eth1', 'up'], ['isp2', 'eth2', 'up']]);
  for (const l of doc.links) {
    assert.equal(typeof l.rtt_ms, 'number');
    assert.ok(l.rtt_ms > 0 && l.rtt_ms < 100, `rtt ${l.rtt_ms}`);
    assert.deepEqual(l.targets.map((x: any) => x.address), ['203.0.113.1', '203.0.113.2']);
  }
  let table = haipCli(lab, 'status', '-c', cfg).stdout;
  assert.match(table, /default route: isp1/);
  assert.match(table, /^\*\s+isp1\s+eth1\s+UP\s+\S+ ago\s+[\d.]+ms\s+0%\s+1\s+\S+/m);
  assert.match(table, /^\s+isp2\s+eth2\s+UP\s/m);

  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
  await sleep(300);
  doc = JSON.parse(haipCli(lab, 'status', '-c', cfg, '--json').stdout);
  assert.equal(doc.active, 'isp2');
  assert.equal(doc.links[0].state, 'down');
  assert.equal(doc.links[0].rtt_ms, null);
  assert.ok(doc.links[0].loss > 0);
  assert.equal(doc.switches, 2, 'start and failover');
  table = haipCli(lab, 'status', '-c', cfg).stdout;
  assert.match(table, /default route: isp2/);
  assert.match(table, /^\s+isp1\s+eth1\s+DOWN\s+\S+ ago\s+-\s+\d+%/m);
  assert.match(table, /^\*\s+isp2\s+eth2\s+UP/m);

  // The metrics file for node_exporter's textfile collector.
  await sleep(1100);
  const prom = readFileSync(`${lab.dir}/metrics/haip.prom`, 'utf8');
  assert.match(prom, /^haip_link_up\{link="isp1",interface="eth1",family="4"\} 0$/m);
  assert.match(prom, /^haip_link_up\{link="isp2",interface="eth2",family="4"\} 1$/m);
  assert.match(prom, /^haip_link_active\{link="isp2",interface="eth2",family="4"\} 1$/m);
  assert.match(prom, /^haip_switches_total\{family="4"\} 2$/m);
  assert.match(prom, /^haip_probe_rounds_total\{link="isp1",interface="eth1",family="4"\} [1-9]\d*$/m);
  assert.match(prom, /^haip_link_rtt_seconds\{link="isp2",interface="eth2",family="4"\} 0\.\d+/m);
  assert.match(prom, /^haip_link_state\{link="isp1",interface="eth1",family="4",state="down"\} 1$/m);
  assert.match(prom, /^haip_link_state\{link="isp1",interface="eth1",family="4",state="unknown"\} 0$/m);
  assert.match(prom, /^haip_running 1$/m);
  assert.equal(readFileSync(`${lab.dir}/state/healthy`, 'utf8'), '1\n', 'isp2 is up and carries the default route');

  await haip.stop();
  // Stopped: no link series left looking current, and no health to vouch for.
  assert.doesNotMatch(readFileSync(`${lab.dir}/metrics/haip.prom`, 'utf8'), /haip_link_/);
  assert.match(readFileSync(`${lab.dir}/metrics/haip.prom`, 'utf8'), /^haip_running 0$/m);
  assert.equal(readFileSync(`${lab.dir}/state/healthy`, 'utf8'), '0\n');
  const after = haipCli(lab, 'status', '-c', cfg);
  assert.equal(after.status, 3);
  assert.match(after.stdout, /haip is not running/);
});

test('haip plan lists what it would add and why, and changes nothing', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const rulesBefore = lab.rules();
  // The kernel's own routes are left out: a veth's link-local address (and its `local fe80::` route)
  // appears a little after the link comes up, whenever that is.
  const routesNow = () => lab.ip(lab.r, 'route', 'show', 'table', 'all').split('\n').filter((l) => !/ proto kernel /.test(l)).join('\n');
  const routesBefore = routesNow();
  const plan = haipCli(lab, 'plan', '-c', cfg);
  assert.equal(plan.status, 0, plan.stderr);
  assert.match(plan.stdout, /isp1 \(eth1, weight 1, table 101\): usable, source 198\.18\.1\.2.*would carry the default route/);
  assert.match(plan.stdout, /isp2 \(eth2, weight 2, table 102\): usable.*standby/);
  assert.match(plan.stdout, /^ip -4 rule add priority 10010 from 198\.18\.1\.2 lookup 101 protocol 72$/m);
  assert.match(plan.stdout, /^ip -4 rule add priority 10020 from 198\.18\.2\.2 lookup 102 protocol 72$/m);
  assert.match(plan.stdout, /^ip -4 route replace default via 198\.18\.1\.1 dev eth1 proto 72 table 254$/m);
  assert.equal(lab.rules(), rulesBefore);
  assert.equal(routesNow(), routesBefore);
  assert.ok(!existsSync(`${lab.dir}/rt_tables.d/haip.conf`), 'plan writes no files');
  // Once haip has applied the config, the plan is empty.
  const haip = lab.startHaip(['run', '-c', cfg]);
  await haip.waitFor(/ready:/, 10_000);
  assert.match(haipCli(lab, 'plan', '-c', cfg).stdout, /the kernel already matches the config: no commands/);
});

test('hooks see every switch and link change; a hook that hangs is killed at its limit and probing goes on', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const hooks = `${lab.dir}/hooks.d`;
  mkdirSync(hooks, { recursive: true });
  const record = `${lab.dir}/events.log`;
  writeFileSync(`${hooks}/10-record`, `#!/bin/sh\necho "$HAIP_EVENT link=$HAIP_LINK if=$HAIP_INTERFACE state=$HAIP_STATE prev=$HAIP_PREVIOUS gw=$HAIP_GATEWAY" >> ${record}\n`);
  writeFileSync(`${hooks}/20-hang`, `#!/bin/sh\nsleep ${HANG_SECONDS}\n`);
  writeFileSync(`${hooks}/30-not-executable`, '#!/bin/sh\necho should-not-run >> /dev/null\n');
  chmodSync(`${hooks}/10-record`, 0o755);
  chmodSync(`${hooks}/20-hang`, 0o755);
  const cfg = lab.writeConfig(lab.configYaml(FAST, 'hook_timeout: 1s\n'));
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  await haip.waitFor(/ready:/, 10_000);
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
  await haip.waitFor(/hook .*20-hang: still running after 1000 ms, killed/, 4000);
  const mark = haip.lines.length;
  await haip.waitFor(/debug: probe isp1:/, 2000, mark);
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
  await sleep(300);
  const events = readFileSync(record, 'utf8');
  assert.match(events, /^switch link=isp1 if=eth1 state=up prev= gw=198\.18\.1\.1$/m);
  assert.match(events, /^link-down link=isp1 if=eth1 state=down prev=up gw=198\.18\.1\.1$/m);
  assert.match(events, /^switch link=isp2 if=eth2 state=up prev=isp1 gw=198\.18\.2\.1$/m);
  assert.match(events, /^link-up link=isp1 if=eth1 state=up prev=down/m);
  assert.match(events, /^switch link=isp1 if=eth1 state=up prev=isp2/m);
  assert.match(haip.output(), /info: hook .*10-record: exit 0/);
  assert.doesNotMatch(haip.output(), /30-not-executable/);
  // The last switch's hang hook is still running: stopping haip ends it, and its `sleep` with it.
  await haip.stop();
  await sleep(200);
  const leftovers = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`${hooks}/20-hang`));
  assert.deepEqual(leftovers, [], 'no hook process outlives haip');
  assert.doesNotMatch(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }), new RegExp(`^sleep ${HANG_SECONDS}$`, 'm'));
});

test('--toggle runs on every switch with IFNAME and GATEWAY, as the original did', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const out = `${lab.dir}/toggle.log`;
  // The seed's own setup, done by the admin as its /etc/network/interfaces and ip-up.d lines did:
  // without per-uplink tables the backup's probes would follow the main default route.
  for (const [i, table] of [[1, '10'], [2, '20']] as const) {
    lab.ip(lab.r, 'route', 'add', `198.18.${i}.0/24`, 'dev', `eth${i}`, 'src', `198.18.${i}.2`, 'table', table);
    lab.ip(lab.r, 'route', 'add', 'default', 'via', `198.18.${i}.1`, 'table', table);
    lab.ip(lab.r, 'rule', 'add', 'from', `198.18.${i}.2`, 'table', table);
  }
  const haip = lab.startHaip([
    '-v',
    '--wait=0.5',
    '--route', '1/203.0.113.1/eth1:198.18.1.1',
    '--route', '2/203.0.113.1/eth2:198.18.2.1',
    '--toggle', `echo "$IFNAME $GATEWAY" >> ${out}`,
    '--state-dir', `${lab.dir}/state`,
  ]);
  await haip.waitFor(/ready:/, 10_000);
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 8000);
  await sleep(300);
  assert.equal(readFileSync(out, 'utf8'), 'eth1 198.18.1.1\neth2 198.18.2.1\n');
  // The admin's own rules and tables are not haip's: left exactly as they were.
  assert.match(lab.rules(), /from 198\.18\.2\.2 lookup 20/);
  assert.match(lab.ip(lab.r, 'route', 'show', 'table', '20'), /default via 198\.18\.2\.1 dev eth2/);
});
