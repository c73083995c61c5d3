// Issue 11 on plain files and pure functions: config input that once crashed or misrouted, safe writes,
// name files that are not haip's, hooks root must not run, text from outside, stale status.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hostProblems, HostFiles, NAMES_MARKER } from '../../src/config/host';
import { ConfigError, loadConfigFile, MAX_CONFIG_BYTES, parseConfigText } from '../../src/config/load';
import { MAX_RUNNING_HOOKS, ProcessHooks, unsafeHook } from '../../src/hooks';
import { Config } from '../../src/model';
import { removeNameFiles, writeNameFiles } from '../../src/net/names';
import { StatusDoc } from '../../src/status';
import { renderStatus, staleness } from '../../src/statusView';
import { unsafeDirectory, writeFileSafely } from '../../src/sys/files';
import { AlreadyRunning, holdInstanceLock } from '../../src/sys/instanceLock';
import { LineBuffer, neutralise } from '../../src/sys/text';

const tmp = mkdtempSync(join(tmpdir(), 'haip-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${(err as Error).stack}`);
    return err.lines();
  }
  assert.fail('config was accepted');
}

const link = (extra: string) => `probe: { targets: [203.0.113.1] }\ntables: { T1: 101, T2: 102 }\nlinks:\n  - name: dsl\n    interface: eth1\n${extra}`;

describe('config: control characters', () => {
  it('NUL in a rule iif is refused with its position', () => {
    const yaml = 'rules: [{ priority: 5001, table: T1, iif: "lo\\0x" }]\n';
    assert.deepEqual(problems(() => parseConfigText(link('') + yaml, 'h.yaml')), ['h.yaml:6:43: rules[0].iif: contains the control character U+0000: not allowed in any field']);
  });
  it('in state_dir, hooks_dir, a target and a map key', () => {
    const text = `state_dir: "/tmp/a\\nb"\nhooks_dir: "/x\\u001b[31m"\n` + link('').replace('T2: 102', '"T\\u0007": 5');
    const ps = problems(() => parseConfigText(text, 'h.yaml'));
    assert.ok(ps.some((p) => p.startsWith('h.yaml:1:12: state_dir: contains the control character U+000A')), ps.join('\n'));
    assert.ok(ps.some((p) => p.startsWith('h.yaml:2:12: hooks_dir: contains the control character U+001B')), ps.join('\n'));
    assert.ok(ps.some((p) => /tables: a key contains the control character U\+0007/.test(p)), ps.join('\n'));
    // The message itself reaches a terminal: no raw control character in it.
    for (const p of ps) assert.doesNotMatch(p, /[\u0000-\u001f]/);
  });
});

describe('config: misrouting configs (issue 10 item 9)', () => {
  const cases: [string, string, string][] = [
    ['two tables on one interface', `    table: T1\n  - name: b\n    interface: eth1\n    table: T2\n`, 'h.yaml:8:16: links[1].interface: links[0] also has a table on eth1'],
    ['main_table naming a link\'s table', `    table: T1\nmain_table: T1\n`, 'h.yaml:7:13: main_table: table T1 is links[0]\'s table'],
    ['main_table local', `main_table: local\n`, 'h.yaml:6:13: main_table: the local table'],
    ['gateway 0.0.0.0', `    gateway: 0.0.0.0\n`, 'h.yaml:6:14: links[0].gateway: 0.0.0.0 is 0.0.0.0, the unspecified address'],
    ['gateway broadcast', `    gateway: 255.255.255.255\n`, 'links[0].gateway: 255.255.255.255 is the broadcast address'],
    ['gateway multicast', `    gateway: 224.0.0.1\n`, 'links[0].gateway: 224.0.0.1 is a multicast address'],
    ['gateway the link\'s own source', `    source: 198.18.1.2\n    gateway: 198.18.1.2\n`, 'links[0].gateway: 198.18.1.2 is the link\'s own source address'],
    ['gateway loopback', `    gateway: 127.0.0.1\n`, 'links[0].gateway: 127.0.0.1 is a loopback address'],
    ['target 0.0.0.0', `    probe: { targets: [0.0.0.0] }\n`, 'links[0].probe.targets[0]: 0.0.0.0 is 0.0.0.0'],
    ['target 127.x', `    probe: { targets: [127.1.2.3] }\n`, 'links[0].probe.targets[0]: 127.1.2.3 is a loopback address'],
  ];
  for (const [what, extra, want] of cases)
    it(`${what} is refused`, () => {
      const ps = problems(() => parseConfigText(link(extra), 'h.yaml'));
      assert.ok(ps.some((p) => p.includes(want)), `${want}\nnot in\n${ps.join('\n')}`);
    });
  it('two tables on one interface with two different sources are fine', () => {
    parseConfigText(link(`    table: T1\n    source: 198.18.1.2\n  - name: b\n    interface: eth1\n    table: T2\n    source: 198.18.1.3\n`), 'h.yaml');
  });
});

describe('config: the file itself', () => {
  const write = (name: string, text: string) => (writeFileSync(join(tmp, name), text), join(tmp, name));
  it('a fifo is refused at once instead of hanging', () => {
    const fifo = join(tmp, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    assert.deepEqual(problems(() => loadConfigFile(fifo)), [`${fifo}: (top level): not a regular file (a fifo): the config must be a plain file`]);
    assert.ok(Date.now() - t0 < 1000);
  });
  it('/dev/zero and a directory are refused', () => {
    assert.match(problems(() => loadConfigFile('/dev/zero'))[0], /not a regular file \(a device\)/);
    assert.match(problems(() => loadConfigFile(tmp))[0], /not a regular file \(a directory\)/);
  });
  it('a file over 1 MB is refused before parsing', () => {
    const big = write('big.yaml', '#'.repeat(MAX_CONFIG_BYTES + 1));
    assert.match(problems(() => loadConfigFile(big))[0], /1048577 bytes: a config is at most 1048576 bytes/);
  });
  it('3,000 problems: the first 100, then "... and N more" (130,000 through haip check: lab faults test)', () => {
    const text = 'links:\n' + '  - 1\n'.repeat(3000);
    const lines = problems(() => parseConfigText(text, 'h.yaml'));
    assert.equal(lines.length, 101);
    assert.match(lines[100], /^\.\.\. and \d+ more$/);
  });
});

describe('config: protocol and name files against the host', () => {
  const files = (map: Record<string, string | 'other'>): HostFiles => ({
    read: (p) => map[p],
    list: (d) => Object.keys(map).filter((p) => p.startsWith(d + '/')).map((p) => p.slice(d.length + 1)),
  });
  const base = 'rt_tables_file: /e/rt_tables.d/haip.conf\nrt_protos_file: /e/rt_protos.d/haip.conf\n';
  const check = (text: string, f: HostFiles) => {
    try {
      parseConfigText(text, 'h.yaml', f);
      return [];
    } catch (err) {
      return (err as ConfigError).lines();
    }
  };
  it('protocol 16 (dhcp), 186 (bgp), 18 (keepalived) and one named in rt_protos.d are refused; 72 is not', () => {
    const f = files({ '/e/rt_protos.d/bird.conf': '200 mydaemon\n' });
    for (const [p, who] of [[16, 'dhcp'], [186, 'bgp'], [18, 'keepalived'], [200, 'mydaemon']] as const)
      assert.match(check(`${base}protocol: ${p}\n${link('')}`, f).join('\n'), new RegExp(`protocol: protocol ${p} is ${who}'s`));
    assert.deepEqual(check(`${base}${link('')}`, f), []);
  });
  it('a names file outside rt_tables.d, or one without haip\'s marker, is refused', () => {
    assert.match(check(`rt_tables_file: /etc/passwd\n${link('')}`, files({})).join('\n'), /rt_tables_file: \/etc\/passwd: haip writes its names only as a \.conf file in a rt_tables\.d directory/);
    const foreign = files({ '/e/rt_tables.d/haip.conf': '100 mine\n' });
    assert.match(check(`${base}${link('')}`, foreign).join('\n'), /rt_tables_file: \/e\/rt_tables\.d\/haip\.conf exists and was not written by haip/);
    assert.deepEqual(check(`${base}${link('')}`, files({ '/e/rt_tables.d/haip.conf': `${NAMES_MARKER}\n101\tT1\n` })), []);
  });
  it('run and flush leave a foreign names file alone', () => {
    const d = join(tmp, 'rt_tables.d');
    mkdirSync(d, { recursive: true });
    const path = join(d, 'haip.conf');
    writeFileSync(path, '100 admins\n');
    const config = { tables: { T1: 101 }, protocol: 72, rtTablesFile: path } as unknown as Config;
    assert.match(writeNameFiles(config).join(), /not writing .*haip\.conf: it exists and is not haip's/);
    assert.deepEqual(removeNameFiles(config), [path]);
    assert.equal(readFileSync(path, 'utf8'), '100 admins\n');
    rmSync(path);
    assert.deepEqual(writeNameFiles(config), []);
    assert.deepEqual(removeNameFiles(config), []);
    assert.ok(!existsSync(path));
  });
  void hostProblems;
});

describe('safe writes', () => {
  it('a planted symlink at the temp name or the target is never written through', () => {
    const d = mkdtempSync(join(tmp, 'w-'));
    const victim = join(tmp, 'victim');
    writeFileSync(victim, 'root only\n', { mode: 0o600 });
    symlinkSync(victim, join(d, 'status.json'));
    writeFileSafely(join(d, 'status.json'), '{}\n');
    assert.equal(readFileSync(victim, 'utf8'), 'root only\n');
    assert.ok(lstatSync(join(d, 'status.json')).isFile());
    assert.equal(statSync(join(d, 'status.json')).mode & 0o777, 0o644);
  });
  it('modes are explicit under umask 000', () => {
    const old = process.umask(0);
    try {
      const d = join(tmp, 'um', 'sub');
      writeFileSafely(join(d, 'm.prom'), 'x\n');
      assert.equal(statSync(d).mode & 0o777, 0o755);
      assert.equal(statSync(join(tmp, 'um')).mode & 0o777, 0o755);
      assert.equal(statSync(join(d, 'm.prom')).mode & 0o777, 0o644);
    } finally {
      process.umask(old);
    }
  });
  it('a directory another account can write is refused, a sticky one is not', () => {
    const d = mkdtempSync(join(tmp, 'ww-'));
    chmodSync(d, 0o777);
    assert.throws(() => writeFileSafely(join(d, 'status.json'), '{}'), /refusing to write in .*writable by every account \(mode 777\) without the sticky bit/);
    assert.deepEqual(readdirSync(d), []);
    chmodSync(d, 0o1777);
    writeFileSafely(join(d, 'status.json'), '{}');
    execFileSync('chown', ['nobody', d]);
    assert.match(unsafeDirectory(d) ?? '', /belongs to uid \d+/);
  });
  it('a failed write removes its temp file', () => {
    const d = mkdtempSync(join(tmp, 'f-'));
    mkdirSync(join(d, 'status.json')); // rename over a directory fails
    assert.throws(() => writeFileSafely(join(d, 'status.json'), '{}'));
    assert.deepEqual(readdirSync(d), ['status.json']);
  });
});

describe('hooks root may run', () => {
  it('refuses world-writable, foreign-owned and linked-to-foreign hooks, and a writable directory', () => {
    const d = mkdtempSync(join(tmp, 'hooks-'));
    chmodSync(d, 0o755);
    const ok = join(d, 'ok');
    writeFileSync(ok, '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(unsafeHook(ok), undefined);
    const ww = join(d, 'ww');
    writeFileSync(ww, '#!/bin/sh\n');
    chmodSync(ww, 0o777);
    assert.match(unsafeHook(ww) ?? '', /writable by every account/);
    const other = mkdtempSync(join(tmp, 'nobody-'));
    execFileSync('chown', ['nobody', other]);
    const theirs = join(other, 'x');
    writeFileSync(theirs, '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync(theirs, join(d, 'link'));
    assert.match(unsafeHook(join(d, 'link')) ?? '', /belongs to uid .*a link to/);
    chmodSync(d, 0o775);
    assert.match(unsafeHook(ok) ?? '', /writable by group/);
  });
});

describe('text from outside', () => {
  it('neutralise makes control characters visible', () => {
    assert.equal(neutralise('a\nb\u001b[31mc\u0000'), 'a\\x0ab\\x1b[31mc\\x00');
    assert.equal(neutralise('hé ✓'), 'hé ✓');
  });
  it('LineBuffer cuts an endless line and resumes at the next newline', () => {
    const lines: string[] = [];
    const b = new LineBuffer((l) => lines.push(l), 10);
    b.push('x'.repeat(25));
    b.push('yyy\nok\npart');
    b.push('ial\n');
    assert.deepEqual(lines, ['x'.repeat(10), 'ok', 'partial']);
  });
  it('haip status renders escape codes and newlines from status.json inert', () => {
    const doc: StatusDoc = {
      active: 'a\u001b]0;pwned\u0007',
      since: new Date(0).toISOString(),
      pid: 1,
      updated: new Date(0).toISOString(),
      switches: 0,
      links: [{ name: 'a\u001b[2J', interface: 'eth\n1', state: 'up', since: new Date(0).toISOString(), reason: '', rtt_ms: 1, loss: 0, weight: 1, table: null, source: null, gateway: null, targets: [], recent_rtt_ms: [], rounds: 1 }],
    };
    assert.doesNotMatch(renderStatus(doc, 0).replace(/\n/g, ''), /[\u0000-\u001f]/);
  });
  it('status is stale past stale_after_ms or with a write error', () => {
    const doc = { updated: new Date(100_000).toISOString(), stale_after_ms: 5000, write_errors: [] } as unknown as StatusDoc;
    assert.equal(staleness(doc, 104_000), undefined);
    assert.match(staleness(doc, 106_000) ?? '', /last written 6 s ago/);
    assert.match(staleness({ ...doc, write_errors: ['/m.prom: ENOSPC'] }, 100_000) ?? '', /could not write: \/m\.prom: ENOSPC/);
  });
});

describe('hooks at run time', () => {
  it('at most 4 run at once, all of them run, and the environment is clean', async () => {
    const d = mkdtempSync(join(tmp, 'many-'));
    const hooks = join(d, 'hooks.d');
    mkdirSync(hooks, { mode: 0o755 });
    const trace = join(d, 'trace');
    for (let i = 0; i < 12; i++)
      writeFileSync(join(hooks, `h${String(i).padStart(2, '0')}`), `#!/bin/sh\necho + >> ${trace}\nsleep 0.2\necho - >> ${trace}\nenv > ${d}/env\n`, { mode: 0o755 });
    const log = { lines: [] as string[], error(m: string) { this.lines.push(m); }, warning(m: string) { this.lines.push(m); }, notice() {}, info() {}, debug() {}, setLevel() {} };
    process.env.NOTIFY_SOCKET = '/run/systemd/notify';
    const h = new ProcessHooks(() => ({ hooksDir: hooks, hookTimeoutMs: 10_000 }), log);
    try {
      h.run({ event: 'switch', link: 'dsl', interface: 'eth1', state: 'up', previous: '' });
    } finally {
      delete process.env.NOTIFY_SOCKET;
    }
    for (let i = 0; i < 100 && (!existsSync(trace) || readFileSync(trace, 'utf8').split('-').length < 13); i++) await new Promise((r) => setTimeout(r, 50));
    let now = 0;
    let max = 0;
    for (const c of readFileSync(trace, 'utf8').replace(/\n/g, '')) max = Math.max(max, (now += c === '+' ? 1 : -1));
    assert.equal(readFileSync(trace, 'utf8').split('+').length - 1, 12);
    assert.equal(max, MAX_RUNNING_HOOKS);
    assert.doesNotMatch(readFileSync(join(d, 'env'), 'utf8'), /NOTIFY_SOCKET/);
    h.stop();
  });
});

describe('one daemon per network namespace', () => {
  it('a second holder is refused with the first one\'s pid', async () => {
    const name = `\0haip-unit-${process.pid}-${Date.now()}`;
    const first = await holdInstanceLock(4242, name);
    try {
      await assert.rejects(holdInstanceLock(99, name), (err: Error) => err instanceof AlreadyRunning && err.pid === 4242 && /another haip daemon \(pid 4242\)/.test(err.message));
    } finally {
      first.close();
    }
    (await holdInstanceLock(99, name)).close();
  });
});
