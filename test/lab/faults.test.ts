// Faults injected into a real haip in a lab router: no ping, a ping that cannot start, ping children
// killed, every uplink failing at once, a storm of reloads, a broken reload, and 1000 mangled configs.
// (A failing `ip`, the ip monitor dying and kill -9 are in core.test.ts and plumbing.test.ts.)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { ConfigError, parseConfigText } from '../../src/config/load';
import { HAIP_JS, Lab, sleep } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

function children(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
};

/** A directory for PATH holding `ip` and, optionally, a `ping` of our own making. */
function binDir(lab: Lab, ping?: string): string {
  const dir = join(lab.dir, 'bin');
  mkdirSync(dir, { recursive: true });
  const ip = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  symlinkSync(ip, join(dir, 'ip'));
  if (ping !== undefined) {
    writeFileSync(join(dir, 'ping'), ping);
    chmodSync(join(dir, 'ping'), 0o755);
  }
  return dir;
}

async function noPingScenario(t: { after(fn: () => void): void }, method: string, ping?: string) {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const probe = FAST.replace(' }', `, method: ${method} }`);
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(probe)), '-v'], { PATH: binDir(lab, ping) });
  const err = await haip.waitFor(/error: probe isp1: cannot probe: .*; counting it as a failure/, 10_000);
  await haip.waitFor(/link isp1 \(eth1\): unknown -> down: first probe round failed/, 5000);
  await haip.waitFor(/link isp2 \(eth2\): unknown -> down: first probe round failed/, 5000);
  await haip.waitFor(/every link is down and no default route is ours to keep/, 5000);
  await sleep(2000);
  assert.doesNotMatch(haip.output(), /-> up|switch: default route/, 'no ping must never look like a healthy link');
  assert.equal(lab.defaultRoute(), '', 'no default route was made up');
  const status = JSON.parse(readFileSync(`${lab.dir}/state/status.json`, 'utf8'));
  assert.deepEqual(status.links.map((l: { state: string }) => l.state), ['down', 'down']);
  assert.equal(haip.child.exitCode, null, 'still running, still probing');
  return err;
}

test('ping missing from PATH (stream): both links down, loudly, never up, no route invented', async (t) => {
  const err = await noPingScenario(t, 'stream');
  assert.match(err, /ENOENT/);
});

test('ping missing from PATH (spawn, node-ping): the same', async (t) => {
  const err = await noPingScenario(t, 'spawn');
  assert.match(err, /ENOENT|error while executing the ping program/i);
});

test('a ping that fails to start (auto): both links down with its message, never up', async (t) => {
  const err = await noPingScenario(t, 'auto', '#!/bin/sh\necho "ping: socket: Operation not permitted" >&2\nexit 2\n');
  assert.match(err, /Operation not permitted/);
});

// The fallback of one ping per target (HAIP_ICMP=ping), and the ICMP helper that carries every link.
test('ping children killed: streams restart, the link does not flap', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST)), '-v'], { HAIP_ICMP: 'ping' });
  await haip.waitFor(/ready:/, 10_000);
  const pings = () => children(haip.pid).filter((p) => /\bping\b.*-O/.test(cmdline(p)));
  const before = pings();
  assert.equal(before.length, 4, `one ping per link and target: ${before.map(cmdline).join('; ')}`);
  const mark = haip.lines.length;
  for (const p of before.filter((p) => cmdline(p).includes('198.18.1.2'))) process.kill(p, 'SIGKILL');
  await sleep(3000);
  const after = pings();
  assert.equal(after.length, 4, 'restarted');
  assert.equal(after.filter((p) => before.includes(p)).length, 2, 'only the killed ones were replaced');
  const lines = haip.lines.slice(mark).join('\n');
  assert.match(lines, /error: probe isp1: cannot probe: .*SIGKILL/, 'the death is told');
  assert.doesNotMatch(lines, /up -> down|switch:/, 'two lost rounds are not an outage');
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
});

test('the ICMP helper killed: it starts again, no link flaps, no ping is spawned', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST)), '-v']);
  await haip.waitFor(/ready:/, 10_000);
  const helpers = () => children(haip.pid).filter((p) => /^haip: icmp helper/.test(cmdline(p)));
  const before = helpers();
  assert.equal(before.length, 1, `one helper for every link: ${children(haip.pid).map(cmdline).join('; ')}`);
  const mark = haip.lines.length;
  process.kill(before[0], 'SIGKILL');
  await sleep(3000);
  const after = helpers();
  assert.equal(after.length, 1, 'started again');
  assert.notEqual(after[0], before[0]);
  assert.deepEqual(children(haip.pid).filter((p) => /\bping\b/.test(cmdline(p))), [], 'no fallback to ping');
  const lines = haip.lines.slice(mark).join('\n');
  assert.doesNotMatch(lines, /up -> down|switch:/, 'a lost round is not an outage');
  assert.equal(lab.defaultRoute(), 'eth1 via 198.18.1.1');
});

for (const engine of ['ping', 'helper'])
  test(`kill -9 of haip: its probe children (${engine}) die with it (SIGPIPE or end of input)`, async (t) => {
    const lab = Lab.create();
    t.after(() => lab.destroy());
    const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST))], engine === 'ping' ? { HAIP_ICMP: 'ping' } : {});
    await haip.waitFor(/ready:/, 10_000);
    const probes = children(haip.pid).filter((p) => (engine === 'ping' ? /\bping\b/ : /^haip: icmp helper/).test(cmdline(p)));
    assert.equal(probes.length, engine === 'ping' ? 4 : 1);
    haip.signal('SIGKILL');
    await haip.exited;
    await sleep(1500);
    const state = (pid: number) => {
      try {
        const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
      } catch {
        return 'gone';
      }
    };
    assert.deepEqual(probes.map(state).filter((s) => s !== 'gone' && s !== 'Z'), [], `no ${engine} left running`);
  });

test('every uplink failing at once: the route stays, loudly, and the first link back takes it', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST)), '-v']);
  await haip.waitFor(/ready:/, 10_000);
  const mark = haip.lines.length;
  lab.dropAtIsp(1);
  lab.dropAtIsp(2);
  // Both fail within one round of each other; whichever is noticed last, the loss of all is told.
  await haip.waitFor(/error: every link is down; keeping the default route on isp\d/, 6000, mark);
  const kept = lab.defaultRoute();
  assert.match(kept, /^eth[12] via /);
  await sleep(2000);
  assert.equal(lab.defaultRoute(), kept, 'the route stays while every link is down');
  lab.healIsp(2);
  await lab.waitForDefault('eth2', 6000);
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
});

test('100 SIGHUPs in a second: no crash, no flap, and the last file wins', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const cfg = lab.writeConfig(lab.configYaml(FAST));
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/ready:/, 10_000);
  const mark = haip.lines.length;
  const t0 = Date.now();
  for (let i = 0; i < 100; i++) {
    haip.signal('SIGHUP');
    await sleep(10);
  }
  // The file changes at the end of the storm: isp2 becomes preferred.
  writeFileSync(cfg, lab.configYaml(FAST).replace('weight: 1,', 'weight: 5,'));
  haip.signal('SIGHUP');
  const ms = await lab.waitForDefault('eth2', 20_000, t0);
  await sleep(1000);
  const lines = haip.lines.slice(mark);
  const reloads = lines.filter((l) => /reloaded /.test(l)).length;
  t.diagnostic(`storm: ${reloads} reloads done, new preference in effect ${ms} ms after the first SIGHUP`);
  assert.equal(haip.child.exitCode, null, 'still running');
  assert.ok(reloads >= 1 && reloads <= 101, `${reloads} reloads`);
  assert.doesNotMatch(lines.join('\n'), /up -> down|down -> up|error:/, 'links kept their state through the storm');
  assert.equal(lines.filter((l) => /switch:/.test(l)).length, 1, 'one switch, to the new preference');
});

test('a reload with a broken file is refused with every problem, and the running config stays', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const good = lab.configYaml(FAST);
  const cfg = lab.writeConfig(good);
  const haip = lab.startHaip(['run', '-c', cfg, '-v']);
  await haip.waitFor(/ready:/, 10_000);
  let mark = haip.lines.length;
  writeFileSync(cfg, good.replace('gateway: 198.18.2.1', 'gateway: 198.18.2.999').replace('weight: 1,', 'wieght: 1,'));
  haip.signal('SIGHUP');
  await haip.waitFor(/error: reload refused, keeping the running config: 2 problem\(s\)/, 5000, mark);
  await haip.waitFor(/links\[1\]\.gateway: must be an IPv4 address/, 1000, mark);
  await haip.waitFor(/links\[0\]\.wieght: unknown field/, 1000, mark);
  // Not YAML at all, then no file.
  mark = haip.lines.length;
  writeFileSync(cfg, 'links: [ { name: isp1, \n  - : :\n');
  haip.signal('SIGHUP');
  await haip.waitFor(/error: reload refused/, 5000, mark);
  mark = haip.lines.length;
  execFileSync('rm', [cfg]);
  haip.signal('SIGHUP');
  await haip.waitFor(/error: reload refused.*\n?/, 5000, mark);
  await haip.waitFor(/cannot read: ENOENT/, 1000, mark);
  assert.doesNotMatch(haip.output(), /\n\s+at /, 'no stack trace');
  // Still the old config: probing goes on, and a failure is still handled.
  lab.dropAtIsp(1);
  await lab.waitForDefault('eth2', 6000);
  writeFileSync(cfg, good);
  mark = haip.lines.length;
  haip.signal('SIGHUP');
  await haip.waitFor(/reloaded .*links unchanged/, 5000, mark);
  lab.healIsp(1);
  await lab.waitForDefault('eth1', 6000);
});

// ---- config fuzzing ---------------------------------------------------------------------------------

/** mulberry32: a small seeded generator, so a failure can be replayed from the seed it prints. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = `log_level: info
probe: { targets: [203.0.113.1, 203.0.113.2], interval: 1s, timeout: 800ms, quorum: 1, down: 3, up: 3, method: auto }
tables: { T1: 101, T2: 102 }
links:
  - name: dsl
    interface: eth1
    weight: 1
    table: T1
    gateway: 198.18.1.1
    source: 198.18.1.2
  - name: lte
    interface: ppp0
    weight: 2
    table: T2
    probe: { targets: [198.51.100.1], down: 5 }
rules:
  - { priority: 5001, fwmark: 1, table: T1 }
  - { priority: 5002, from: 198.51.100.0/24, table: 102 }
sticky: false
state_dir: /run/haip
hooks_dir: /etc/haip/hooks.d
hook_timeout: 5s
`;

const ODD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e309, 4294967296, '', ' ', 'x', '__proto__', 'constructor', 'toString',
  '1s', '0ms', '-1s', '1.5.5s', '999999999m', '203.0.113.1', '203.0.113.256', '198.51.100.0/33', 'eth0/1',
  'a'.repeat(300), [], [1, 2], {}, { a: 1 }, '*', '&a', '!!binary', '%', '\u0000', 'ü', '0x10',
  // Control characters (issue 11): NUL, escape codes, DEL, C1, line separators, inside otherwise good values.
  'lo\u0000x', 'eth\u001b[2J1', '203.0.113.1\u0000', 'T1\u0007', '/run/haip\n<0>x', '\u007f', '\u0085', '\u2028', '\r', 'e\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9',
];
const ODD_TEXT = [':', ' ', '\n', '-', '[', ']', '{', '}', ',', '#', '"', "'", '&a ', '*a', '!', '|', '>', '%', '@', '`', '\t', '?', '0', 'x', '\\',
  '\u0000', '\u001b', '\u007f', '\r', '\u0085', '\u2028', '\\0', '\\e', '\\x1b', '\\u0000'];
/** Control characters put into a string value of the parsed file (so the YAML still parses). */
const CONTROL = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\u000b', '\f', '\r', '\u001b', '\u001b[31m', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029'];

/** One control character into one string (value or key) of the file: what a careless edit or a generator leaves. */
function controlMutate(text: string, rand: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const doc = parse(text);
  const spots: { parent: any; key: string | number; isKey: boolean }[] = [];
  const walk = (v: any) => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      const key = Array.isArray(v) ? Number(k) : k;
      if (typeof x === 'string') spots.push({ parent: v, key, isKey: false });
      if (!Array.isArray(v)) spots.push({ parent: v, key, isKey: true });
      walk(x);
    }
  };
  walk(doc);
  const spot = pick(spots);
  const c = pick(CONTROL);
  const put = (str: string) => {
    const i = Math.floor(rand() * (str.length + 1));
    return str.slice(0, i) + c + str.slice(i);
  };
  if (spot.isKey) {
    const v = spot.parent[spot.key];
    delete spot.parent[spot.key];
    spot.parent[put(String(spot.key))] = v;
  } else spot.parent[spot.key] = put(spot.parent[spot.key]);
  return stringify(doc);
}

/** Whether any string in a value (keys too) holds a control character. */
function hasControl(v: unknown): boolean {
  if (typeof v === 'string') return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(v);
  if (v && typeof v === 'object') return Object.entries(v).some(([k, x]) => hasControl(k) || hasControl(x));
  return false;
}

/** A problem a person can act on: where (FILE:LINE:COL or the file), which field, and no raw control character. */
function unclear(line: string, file: string): boolean {
  return !line.startsWith(file) || /[\u0000-\u001f\u007f-\u009f]/.test(line) || /undefined|\[object|NaN|must pass/.test(line);
}

function mutate(text: string, rand: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  if (rand() < 0.25) return controlMutate(text, rand);
  const r = rand();
  if (r < 0.45) {
    // Structural: replace, delete, or add a value somewhere in the parsed tree.
    const doc = parse(text, { logLevel: 'error' });
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, path: (string | number)[]) => {
      paths.push(path);
      if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, Array.isArray(v) ? Number(k) : k]);
    };
    walk(doc, []);
    const path = pick(paths.filter((p) => p.length));
    const parent = path.slice(0, -1).reduce((o: any, k) => o[k], doc);
    const key = path[path.length - 1];
    const op = rand();
    if (op < 0.6) parent[key] = pick(ODD_VALUES);
    else if (op < 0.8) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (Array.isArray(parent)) parent.push(pick(ODD_VALUES));
    else parent[pick(['wieght', 'targets', 'probe', 'extra', 'table', 'gateway', '__proto__', 'links'])] = pick(ODD_VALUES);
    return stringify(doc);
  }
  const i = Math.floor(rand() * (text.length + 1));
  if (r < 0.65) return text.slice(0, i) + pick(ODD_TEXT) + text.slice(i);
  if (r < 0.8) return text.slice(0, i) + text.slice(i + 1 + Math.floor(rand() * 5));
  const lines = text.split('\n');
  const a = Math.floor(rand() * lines.length);
  const b = Math.floor(rand() * lines.length);
  if (r < 0.9) [lines[a], lines[b]] = [lines[b], lines[a]];
  else lines.splice(a, 0, lines[b]);
  return lines.join('\n');
}

test('1000 random mutations of a valid config: a Config or a ConfigError, never anything else', () => {
  const seed = Number(process.env.HAIP_FUZZ_SEED ?? Date.now() % 100000);
  const rand = rng(seed);
  assert.ok(parseConfigText(VALID, 'valid.yaml').links.length === 2);
  // Found by this test: table names resolved through Object.prototype, an anchorless alias throwing,
  // and durations no timer can hold.
  for (const [from, to] of [['interface: eth1', 'interface: *eth1'], ['interval: 1s', 'interval: .inf'], ['interval: 1s', 'interval: 99999999m'], ['timeout: 800ms', 'timeout: 1e12']])
    assert.throws(() => parseConfigText(VALID.replace(from, to), 'fuzz.yaml'), ConfigError, to);
  for (const name of ['toString', '__proto__', 'constructor'])
    assert.throws(() => parseConfigText(VALID.replace('table: T1', `table: ${name}`), 'fuzz.yaml'), (e: ConfigError) => /unknown table/.test(e.message));
  let ok = 0;
  let refused = 0;
  let lastAccepted: unknown;
  for (let i = 0; i < 1000; i++) {
    let text = VALID;
    const rounds = 1 + Math.floor(rand() * 3);
    for (let k = 0; k < rounds; k++) {
      try {
        text = mutate(text, rand);
      } catch {
        break; // the previous mutation already broke the YAML for the structural mutator
      }
    }
    lastAccepted = undefined;
    try {
      const c = parseConfigText(text, 'fuzz.yaml');
      lastAccepted = c;
      for (const l of c.links) {
        assert.ok(l.table === undefined || (Number.isInteger(l.table) && l.table > 0), `seed ${seed} #${i}: table ${String(l.table)} passed:\n${text}`);
        for (const ms of [l.probe.intervalMs, l.probe.timeoutMs, c.hookTimeoutMs])
          assert.ok(ms >= 1 && ms <= 86_400_000, `seed ${seed} #${i}: a duration of ${ms} ms passed (timers above 2^31-1 ms fire at once):\n${text}`);
      }
      ok++;
    } catch (err) {
      if (!(err instanceof ConfigError)) assert.fail(`seed ${seed} #${i}: ${(err as Error).stack}\n--- config:\n${text}`);
      for (const p of err.problems) assert.match(p.where, /^fuzz\.yaml(:\d+:\d+)?$/, `seed ${seed} #${i}: where ${p.where}`);
      for (const line of err.message.split('\n')) if (!/^\.\.\. and \d+ more$/.test(line)) assert.ok(!unclear(line, 'fuzz.yaml'), `seed ${seed} #${i}: unclear problem: ${JSON.stringify(line)}`);
      refused++;
    }
    // Whatever passed must hold no control character anywhere: it would reach ip argv, nft text and the journal.
    if (lastAccepted !== undefined && hasControl(lastAccepted)) assert.fail(`seed ${seed} #${i}: a control character passed:\n${text}`);
  }
  console.log(`# fuzz seed ${seed}: 1000 inputs, ${ok} accepted, ${refused} refused, 0 crashes, 0 unclear errors`);
});

test('60 mutated configs (a quarter with control characters) through `haip check`: exit 0 or 78 at once, never a stack trace, every problem clear', () => {
  const seed = Number(process.env.HAIP_FUZZ_SEED ?? Date.now() % 100000) + 1;
  const rand = rng(seed);
  const dir = execFileSync('mktemp', ['-d', '/tmp/haip-fuzz-XXXXXX'], { encoding: 'utf8' }).trim();
  try {
    const codes: number[] = [];
    for (let i = 0; i < 60; i++) {
      let text = VALID.replace('/run/haip', `${dir}/state`).replace('/etc/haip/hooks.d', `${dir}/hooks.d`) + `rt_tables_file: ${dir}/rt_tables.d/haip.conf\nrt_protos_file: ${dir}/rt_protos.d/haip.conf\n`;
      try {
        text = mutate(mutate(text, rand), rand);
      } catch {}
      const file = join(dir, `c${i}.yaml`);
      writeFileSync(file, text);
      const r = spawnSync(process.execPath, [HAIP_JS, 'check', '-c', file], { encoding: 'utf8', timeout: 10_000 });
      const out = r.stdout + r.stderr;
      assert.ok(r.signal === null, `seed ${seed} #${i}: hung (killed by ${r.signal}):\n--- config:\n${text}`);
      assert.ok(r.status === 0 || r.status === 78, `seed ${seed} #${i}: exit ${r.status}:\n${out}\n--- config:\n${text}`);
      assert.doesNotMatch(out, /\n\s+at /, `seed ${seed} #${i}: stack trace:\n${out}`);
      if (r.status === 78)
        for (const line of r.stderr.split('\n').filter((l) => l && !/^haip: invalid config|^\.\.\. and \d+ more$/.test(l)))
          assert.ok(!unclear(line, file), `seed ${seed} #${i}: unclear problem: ${JSON.stringify(line)}`);
      codes.push(r.status!);
    }
    console.log(`# check seed ${seed}: 60 inputs, ${codes.filter((c) => c === 0).length} ok, ${codes.filter((c) => c === 78).length} refused, 0 crashes, 0 hangs, 0 unclear errors`);
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
});

test('60 mutated configs (a quarter with control characters) as reloads of a running daemon: each refused or taken, the daemon never dies or hangs', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const seed = Number(process.env.HAIP_FUZZ_SEED ?? Date.now() % 100000) + 2;
  const rand = rng(seed);
  // Paths stay out of the mutations: a mangled state_dir must not point the daemon at /tmp itself.
  const paths = lab.pathsYaml();
  const body = lab.configYaml(FAST).replace(paths, '');
  const file = lab.writeConfig(body + paths + '\n');
  const haip = lab.startHaip(['run', '-c', file]);
  await haip.waitFor(/ready:/, 15_000);
  let taken = 0;
  let refused = 0;
  for (let i = 0; i < 60; i++) {
    let text = body;
    try {
      text = mutate(mutate(text, rand), rand);
    } catch {}
    if (/state_dir|hooks_dir|rt_tables_file|rt_protos_file|metrics_file/.test(text)) text = body;
    writeFileSync(file, text + '\n' + paths + '\n');
    const from = haip.lines.length;
    haip.signal('SIGHUP');
    const outcome = await haip.waitFor(/reloaded |reload refused|reload failed/, 10_000, from).catch(() => assert.fail(`seed ${seed} #${i}: the reload hung:\n${text}\n--- log:\n${haip.lines.slice(from).join('\n')}`));
    assert.doesNotMatch(outcome, /reload failed/, `seed ${seed} #${i}: ${outcome}\n${text}`);
    await sleep(100);
    assert.equal(haip.child.exitCode, null, `seed ${seed} #${i}: the daemon died:\n${haip.lines.slice(from).join('\n')}\n--- config:\n${text}`);
    const lines = haip.lines.slice(from);
    if (/reload refused/.test(outcome)) {
      refused++;
      const problems = lines.filter((l) => / error: /.test(l) && !/reload refused|\.\.\. and \d+ more/.test(l)).map((l) => l.replace(/^.* error: /, ''));
      for (const p of problems) assert.ok(!unclear(p, file), `seed ${seed} #${i}: unclear problem: ${JSON.stringify(p)}`);
    } else taken++;
    assert.doesNotMatch(lines.join('\n'), /\n\s+at |TypeError|RangeError/, `seed ${seed} #${i}: stack trace`);
  }
  console.log(`# reload seed ${seed}: 60 inputs, ${taken} taken, ${refused} refused, 0 crashes, 0 hangs, 0 unclear errors`);
  assert.equal(await haip.stop(), 0);
});
