// Issue 11: the real daemon in a lab router, attacked as the `nobody` account and fed the files a careless
// admin would. Each test asserts that nothing outside haip's own files changed, and that haip said why.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Haip, HAIP_JS, Lab, sleep } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';
const NOBODY = 65534;

/** Runs argv as the unprivileged `nobody` account. */
function asNobody(...argv: string[]): string {
  return execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv], { encoding: 'utf8' });
}

/** `haip ARGS` as a one-shot command (check, flush, status) in the lab router. */
function cli(lab: Lab, args: string[], timeoutMs = 10_000) {
  const t0 = Date.now();
  const r = spawnSync('ip', ['netns', 'exec', lab.r, process.execPath, HAIP_JS, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: (r.stdout ?? '') + (r.stderr ?? ''), ms: Date.now() - t0, signal: r.signal };
}

/** Root-only files that no action of another account may change: content and mode. */
function victims(lab: Lab, n: number): { paths: string[]; unchanged(): void } {
  const paths = Array.from({ length: n }, (_, i) => join(lab.dir, `victim${i}`));
  for (const p of paths) writeFileSync(p, `root's own ${p}\n`, { mode: 0o600 });
  return {
    paths,
    unchanged() {
      for (const p of paths) {
        assert.equal(readFileSync(p, 'utf8'), `root's own ${p}\n`, `${p} was written`);
        assert.equal(statSync(p).mode & 0o7777, 0o600, `${p} changed mode`);
      }
    },
  };
}

/** The lab dir is 0700 (mkdtemp): nobody needs to reach the directories it attacks. */
function openLab(lab: Lab) {
  chmodSync(lab.dir, 0o755);
}

function config(lab: Lab, extra: string, probe = FAST): string {
  return lab.writeConfig(lab.configYaml(probe, extra));
}

function procsMatching(re: RegExp): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (re.test(readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '))) out.push(Number(p));
    } catch {}
  }
  return out;
}

test('files: a state_dir and a metrics directory another account can write are refused, and nothing is written through its links', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  openLab(lab);
  const v = victims(lab, 4);
  const state = join(lab.dir, 'state');
  const prom = join(lab.dir, 'prom');
  mkdirSync(state, { mode: 0o777 });
  chmodSync(state, 0o777); // the umask took bits off
  mkdirSync(prom);
  chownSync(prom, NOBODY, NOBODY); // a prometheus-owned textfile directory
  const haip = lab.startHaip(['run', '-c', config(lab, `metrics_file: ${prom}/haip.prom\n`)]);
  // The attack of issue 11: links at the temp names of this very process, and at the final names.
  asNobody('ln', '-s', v.paths[0], join(state, `.status.json.${haip.pid}`));
  asNobody('ln', '-s', v.paths[1], join(prom, `.haip.prom.${haip.pid}`));
  asNobody('ln', '-s', v.paths[2], join(state, 'status.json.tmp'));
  asNobody('ln', '-s', v.paths[3], join(prom, 'haip.prom.tmp'));
  await haip.waitFor(/ready:/, 15_000);
  await haip.waitFor(new RegExp(`cannot write ${state}/status\\.json: refusing to write in ${state}: ${state} is writable by every account \\(mode 777\\) without the sticky bit`), 5000);
  await haip.waitFor(new RegExp(`cannot write ${prom}/haip\\.prom: refusing to write in ${prom}: ${prom} belongs to uid ${NOBODY}`), 5000);
  await sleep(1500);
  v.unchanged();
  assert.ok(!existsSync(join(state, 'status.json')), 'no status.json in a directory others control');
  assert.equal(haip.lines.filter((l) => /cannot write .*status\.json/.test(l)).length, 1, 'the refusal is logged once, not every second');
  assert.equal(await haip.stop(), 0);
  v.unchanged();
});

test('files: under umask 000 haip still creates 0755 directories and 0644 files', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const old = process.umask(0);
  let haip: Haip;
  try {
    haip = lab.startHaip(['run', '-c', config(lab, `metrics_file: ${lab.dir}/prom/sub/haip.prom\n`)]);
  } finally {
    process.umask(old);
  }
  await haip.waitFor(/ready:/, 15_000);
  await sleep(1500);
  const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
  assert.deepEqual(
    [`${lab.dir}/state`, `${lab.dir}/state/status.json`, `${lab.dir}/prom`, `${lab.dir}/prom/sub`, `${lab.dir}/prom/sub/haip.prom`, `${lab.dir}/rt_tables.d`, `${lab.dir}/rt_tables.d/haip.conf`].map(mode),
    ['755', '644', '755', '755', '644', '755', '644'],
  );
  await haip.stop();
});

test('hooks: only root\'s, in a directory only root can write, each refusal named once; clean environment; setsid children end with haip; no forged journal line', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  // On code without the fix the setsid children outlive haip: they are this test's to end.
  t.after(() => procsMatching(/^sleep 3011 $/).forEach((p) => process.kill(p, 'SIGKILL')));
  openLab(lab);
  const hooks = join(lab.dir, 'hooks.d');
  const out = join(lab.dir, 'out');
  mkdirSync(hooks, { mode: 0o755 });
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  const script = (body: string) => `#!/bin/sh\n${body}\n`;
  writeFileSync(join(hooks, '10-ok'), script(`env > ${out}/env.$$; echo ran >> ${out}/ok\nsetsid sh -c 'exec sleep 3011' </dev/null >/dev/null 2>&1 &`), { mode: 0o755 });
  writeFileSync(join(hooks, '20-world-writable'), script(`echo ran >> ${out}/ww`));
  chmodSync(join(hooks, '20-world-writable'), 0o777);
  // A script in nobody's own directory, linked into hooks.d by a careless admin.
  const theirs = join(lab.dir, 'nobody');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, NOBODY, NOBODY);
  asNobody('sh', '-c', `printf '#!/bin/sh\\necho ran >> ${out}/theirs\\n' > ${theirs}/x && chmod 755 ${theirs}/x`);
  symlinkSync(join(theirs, 'x'), join(hooks, '30-link'));
  // A root-owned hook whose name carries a newline and a journal priority.
  writeFileSync(join(hooks, '40-x\n<0>forged line'), script(`echo ran >> ${out}/newline`), { mode: 0o755 });
  const haip = lab.startHaip(['run', '-c', config(lab, 'hook_timeout: 30s\n')], { JOURNAL_STREAM: '1:1', NOTIFY_SOCKET: `@haip-lab-${lab.id}-notify`, WATCHDOG_USEC: '60000000' });
  await haip.waitFor(/ready:/, 15_000);
  // More events: isp1 down and back, so refusals would repeat if they were not logged once.
  lab.dropAtIsp(1);
  await haip.waitFor(/switch: default route isp1 .* -> isp2/, 10_000);
  lab.healIsp(1);
  await haip.waitFor(/switch: default route isp2 .* -> isp1/, 15_000);
  await sleep(1000);
  const ran = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8').trim().split('\n').length : 0);
  assert.ok(ran('ok') >= 3, `the root-owned hook ran on every event (${ran('ok')})`);
  assert.equal(ran('ww'), 0, 'a world-writable hook never runs');
  assert.equal(ran('theirs'), 0, 'a link to another account\'s script never runs');
  assert.ok(ran('newline') >= 1, 'a root-owned hook with an odd name still runs');
  const log = haip.output();
  assert.equal(haip.lines.filter((l) => /not running hook .*20-world-writable: writable by every account/.test(l)).length, 1, log);
  assert.equal(haip.lines.filter((l) => new RegExp(`not running hook .*30-link: owned by uid ${NOBODY}, not root \\(a link to ${theirs}/x\\)`).test(l)).length, 1, log);
  assert.ok(!haip.lines.some((l) => l.startsWith('<0>')), 'no line of the hook\'s name became a journal line of its own');
  assert.match(log, /40-x\\x0a<0>forged line: exit 0/);
  const envFile = readdirSync(out).find((f) => f.startsWith('env.'))!;
  const env = readFileSync(join(out, envFile), 'utf8');
  assert.doesNotMatch(env, /NOTIFY_SOCKET|WATCHDOG_|JOURNAL_STREAM/);
  assert.match(env, /^HAIP_EVENT=/m);
  assert.ok(procsMatching(/^sleep 3011 $/).length >= 1, 'the setsid children are running before the stop');
  assert.equal(await haip.stop(), 0);
  await sleep(300);
  assert.deepEqual(procsMatching(/^sleep 3011 $/), [], 'stopping haip ended what its hooks started in sessions of their own');
});

test('hooks: a hooks_dir other accounts can write runs nothing, and says so once', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const hooks = join(lab.dir, 'hooks.d');
  mkdirSync(hooks);
  chmodSync(hooks, 0o777);
  writeFileSync(join(hooks, 'ok'), `#!/bin/sh\ntouch ${lab.dir}/ran\n`, { mode: 0o755 });
  const haip = lab.startHaip(['run', '-c', config(lab, '')]);
  await haip.waitFor(/ready:/, 15_000);
  await sleep(1000);
  assert.ok(!existsSync(join(lab.dir, 'ran')));
  assert.equal(haip.lines.filter((l) => new RegExp(`not running any hook from ${hooks}: ${hooks} is writable by every account`).test(l)).length, 1, haip.output());
  await haip.stop();
});

test('ownership: name files not haip\'s, protocols others use, foreign routes, a foreign inet haip table, a second daemon', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const base = config(lab, '');
  const text = readFileSync(base, 'utf8');
  // rt_tables_file at the admin's own file, or any file: refused by check and by flush, never touched.
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const bad1 = lab.writeConfig(text.replace(/rt_tables_file: .*/, 'rt_tables_file: /etc/passwd'), 'bad1.yaml');
  let r = cli(lab, ['check', '-c', bad1]);
  assert.equal(r.code, 78, r.out);
  assert.match(r.out, /bad1\.yaml:\d+:\d+: rt_tables_file: \/etc\/passwd: haip writes its names only as a \.conf file in a rt_tables\.d directory/);
  mkdirSync(join(lab.dir, 'rt_tables.d'), { recursive: true });
  writeFileSync(join(lab.dir, 'rt_tables.d', 'haip.conf'), '200\tadmins\n');
  for (const cmd of ['check', 'flush', 'run']) {
    r = cli(lab, [cmd, '-c', base]);
    assert.equal(r.code, 78, `${cmd}: ${r.out}`);
    assert.match(r.out, /rt_tables_file: .*haip\.conf exists and was not written by haip/);
  }
  assert.equal(readFileSync(join(lab.dir, 'rt_tables.d', 'haip.conf'), 'utf8'), '200\tadmins\n');
  assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
  execFileSync('rm', [join(lab.dir, 'rt_tables.d', 'haip.conf')]);
  // protocol 16 is dhcp's: haip would delete the DHCP client's routes.
  r = cli(lab, ['check', '-c', lab.writeConfig(`${text}protocol: 16\n`, 'p16.yaml')]);
  assert.equal(r.code, 78, r.out);
  assert.match(r.out, /p16\.yaml:\d+:\d+: protocol: protocol 16 is dhcp's/);

  // A foreign default route in T1, and a foreign `inet haip` table, both there before haip starts.
  lab.ip(lab.r, 'route', 'add', 'default', 'via', lab.gateway(1), 'dev', 'eth1', 'table', '101', 'proto', 'static', 'metric', '0');
  lab.nft(lab.r, 'table inet haip { chain admins { type filter hook input priority 0; policy accept; counter; }; }\n');
  const sticky = lab.writeConfig(`${text}sticky: true\n`, 'sticky.yaml');
  const first = lab.startHaip(['run', '-c', sticky, '-v']);
  await first.waitFor(/ready:/, 15_000);
  await first.waitFor(/table 101 holds a route haip did not install \(protocol 4\): "default via 198\.18\.1\.1 dev eth1 proto 4 table 101"/, 5000);
  await first.waitFor(/nftables table inet haip exists without haip's marker comment: it is someone else's/, 5000);
  await sleep(3000);
  assert.equal(first.lines.filter((l) => /someone else's/.test(l)).length, 1, 'the foreign table is reported once, not on every retry');
  const foreignRoute = () => lab.ip(lab.r, 'route', 'show', 'table', '101', 'default');
  assert.match(foreignRoute(), /default via 198\.18\.1\.1 dev eth1 proto static/);
  assert.match(lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip'), /chain admins/);
  const route = lab.defaultRoute();

  // A second daemon in the same network namespace: out at once, naming the first; the first undisturbed.
  const second = lab.startHaip(['run', '-c', sticky]);
  const t0 = Date.now();
  const code = await second.exited;
  assert.equal(code, 75, second.output());
  assert.ok(Date.now() - t0 < 3000, `the second daemon took ${Date.now() - t0} ms to give up`);
  assert.match(second.output(), new RegExp(`another haip daemon \\(pid ${first.pid}\\) is already running in this network namespace`));
  assert.doesNotMatch(second.output(), /applied:|switch:/);
  await sleep(1500);
  assert.equal(first.child.exitCode, null);
  assert.equal(lab.defaultRoute(), route);
  assert.equal(first.lines.filter((l) => /switch:/.test(l)).length, 1, 'the first daemon never switched again');
  assert.equal(await first.stop(), 0);

  // flush removes what is haip's and nothing else.
  r = cli(lab, ['flush', '-c', sticky]);
  assert.equal(r.code, 1, r.out); // the foreign nft table is an error, reported
  assert.match(r.out, /someone else's/);
  assert.match(foreignRoute(), /default via 198\.18\.1\.1 dev eth1 proto static/);
  assert.match(lab.exec(lab.r, 'nft', 'list', 'table', 'inet', 'haip'), /chain admins/);
});

test('input: NUL, fifo, /dev/zero, a huge file, 130,000 problems: clear errors at once; a reload from a fifo or with a NUL keeps the daemon', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const good = config(lab, '');
  const text = readFileSync(good, 'utf8');
  const nul = lab.writeConfig(`${text}rules: [{ priority: 5001, table: T1, iif: "lo\\0x" }]\n`, 'nul.yaml');
  let r = cli(lab, ['check', '-c', nul]);
  assert.equal(r.code, 78, r.out);
  assert.match(r.out, /nul\.yaml:\d+:\d+: rules\[0\]\.iif: contains the control character U\+0000/);
  r = cli(lab, ['run', '-c', nul]);
  assert.equal(r.code, 78, r.out);
  assert.equal(lab.rules().match(/proto 72/g), null, 'run refused before touching the kernel');
  const fifo = join(lab.dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  r = cli(lab, ['check', '-c', fifo], 5000);
  assert.equal(r.code, 78, `${r.signal ?? ''} ${r.out}`);
  assert.ok(r.ms < 3000);
  assert.match(r.out, /fifo\.yaml: \(top level\): not a regular file \(a fifo\)/);
  r = cli(lab, ['check', '-c', '/dev/zero'], 5000);
  assert.equal(r.code, 78, `${r.signal ?? ''} ${r.out}`);
  assert.match(r.out, /\/dev\/zero: \(top level\): not a regular file \(a device\)/);
  const huge = lab.writeConfig(`${text}#${'x'.repeat(2 << 20)}\n`, 'huge.yaml');
  r = cli(lab, ['check', '-c', huge]);
  assert.equal(r.code, 78, r.out);
  assert.match(r.out, /bytes: a config is at most 1048576 bytes/);
  const many = lab.writeConfig(`links:\n${'  - 1\n'.repeat(130_000)}`, 'many.yaml');
  r = cli(lab, ['check', '-c', many], 60_000);
  assert.equal(r.code, 78, r.out.slice(-2000));
  assert.match(r.out, /\.\.\. and \d+ more\n/);
  assert.ok(r.out.split('\n').length < 110, 'the first 100 problems, not 130,000 lines');
  assert.doesNotMatch(r.out, /Maximum call stack|\n\s+at /);

  // A running daemon: its config becomes a fifo, then a file with a NUL; each reload is refused.
  const live = lab.writeConfig(text, 'live.yaml');
  const haip = lab.startHaip(['run', '-c', live]);
  await haip.waitFor(/ready:/, 15_000);
  const route = lab.defaultRoute();
  execFileSync('rm', [live]);
  execFileSync('mkfifo', [live]);
  haip.signal('SIGHUP');
  await haip.waitFor(/reload refused, keeping the running config: 1 problem/, 5000);
  await haip.waitFor(/live\.yaml: \(top level\): not a regular file \(a fifo\)/, 1000);
  execFileSync('rm', [live]);
  writeFileSync(live, `${text}rules: [{ priority: 5001, table: T1, iif: "lo\\0x" }]\n`);
  const from = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/reload refused, keeping the running config/, 5000, from);
  await haip.waitFor(/contains the control character U\+0000/, 1000, from);
  await sleep(1500);
  assert.equal(haip.child.exitCode, null, 'still running');
  assert.equal(lab.defaultRoute(), route);
  assert.doesNotMatch(lab.rules(), /iif lo/, 'nothing of the refused file reached the kernel');
  assert.doesNotMatch(haip.output(), /\n\s+at /);
  assert.equal(await haip.stop(), 0);
});

test('signals: SIGHUP during the first 0.4 s never kills the daemon; it reloads once it listens', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const file = config(lab, '');
  for (const delay of [150, 250, 350, 450]) {
    const haip = lab.startHaip(['run', '-c', file]);
    await sleep(delay);
    haip.signal('SIGHUP');
    await haip.waitFor(/ready:/, 15_000).catch((err) => assert.fail(`SIGHUP at ${delay} ms: ${err.message}; exit ${haip.child.exitCode} ${haip.child.signalCode}`));
    assert.equal(haip.child.exitCode, null);
    assert.equal(haip.child.signalCode, null);
    assert.equal(await haip.stop(), 0);
  }
});

test('text and buffers: a ping printing 50 MB without a newline stays bounded; escape codes never reach `haip status`; a stale or unwritable status says so and exits 4', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  openLab(lab);
  // A ping that floods stdout without a newline, as the ping did (the fallback of one ping per
  // target: HAIP_ICMP=ping, since the ICMP helper reads no ping).
  const bin = join(lab.dir, 'bin');
  mkdirSync(bin);
  const ip = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  symlinkSync(ip, join(bin, 'ip'));
  writeFileSync(join(bin, 'ping'), `#!/bin/sh\nhead -c 50000000 /dev/zero | tr '\\0' x\nexec sleep 60\n`, { mode: 0o755 });
  const prom = join(lab.dir, 'prom');
  mkdirSync(prom, { mode: 0o755 });
  const haip = lab.startHaip(['run', '-c', config(lab, `metrics_file: ${prom}/haip.prom\nmetrics_interval: 1s\n`, FAST.replace(' }', ', method: stream }'))], { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HAIP_ICMP: 'ping' });
  let peakKb = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 12_000 && haip.child.exitCode === null) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${haip.pid}/status`, 'utf8'));
    if (m) peakKb = Math.max(peakKb, Number(m[1]));
    // Fail at once past the limit: on code without bounded buffers this grows by hundreds of MB a second.
    if (peakKb >= 250 * 1024) break;
    await sleep(100);
  }
  console.log(`# RSS peak with a 50 MB ping line: ${Math.round(peakKb / 1024)} MB`);
  assert.ok(peakKb < 250 * 1024, `haip grew to ${Math.round(peakKb / 1024)} MB`);
  await haip.waitFor(/every link is down/, 5000);

  // status.json as an attacker with root's help might leave it: escape codes in every field.
  const state = join(lab.dir, 'state');
  const doc = JSON.parse(readFileSync(join(state, 'status.json'), 'utf8'));
  const dirty = { ...doc, active: 'isp1\u001b]0;owned\u0007', links: doc.links.map((l: object) => ({ ...l, name: 'isp\u001b[2J1', interface: 'eth\n1' })) };
  const fake = join(lab.dir, 'fake-state');
  mkdirSync(fake);
  writeFileSync(join(fake, 'status.json'), JSON.stringify(dirty));
  let r = cli(lab, ['status', '--state-dir', fake]);
  assert.doesNotMatch(r.out, /\u001b|\u0007/, 'no escape code reaches the terminal');
  // An unwritable metrics directory (someone made it world-writable): status says so, exit 4.
  chmodSync(prom, 0o777);
  await haip.waitFor(/cannot write .*haip\.prom: refusing to write/, 5000);
  await sleep(1500);
  r = cli(lab, ['status', '--state-dir', state]);
  assert.equal(r.code, 4, r.out);
  assert.match(r.out, /STALE: the daemon could not write: .*haip\.prom/);
  chmodSync(prom, 0o755);
  await sleep(2000);
  r = cli(lab, ['status', '--state-dir', state]);
  assert.equal(r.code, 0, r.out);
  // A daemon that stops writing (stopped, or state_dir full) is stale after a few intervals.
  haip.signal('SIGSTOP');
  await sleep(11_000);
  r = cli(lab, ['status', '--state-dir', state]);
  haip.signal('SIGCONT');
  assert.equal(r.code, 4, r.out);
  assert.match(r.out, /STALE: status\.json was last written 1\d s ago/);
  assert.equal(await haip.stop(), 0);
  void lstatSync;
  void spawn;
});
