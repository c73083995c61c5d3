// haip(8), the README and the package against the code: every command, option and exit status the CLI
// knows is documented, the man pages are lint-clean, and what a user runs behaves as they say.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS, commandHelp, EX_USAGE, EXIT_STATUS, OPTIONS, Subcommand, SUBCOMMANDS } from '../../src/cli';
import { EX_CONFIG } from '../../src/config/load';

const REPO = join(__dirname, '../../..');
const HAIP = join(REPO, 'dist/src/main.js');
const read = (file: string) => readFileSync(join(REPO, file), 'utf8');

/** The text of one `.SH NAME` section of a man page. */
function section(page: string, name: string): string {
  const m = page.match(new RegExp(`^\\.SH ${name}\\n([\\s\\S]*?)(?=^\\.SH |(?![\\s\\S]))`, 'm'));
  assert.ok(m, `no .SH ${name}`);
  return m[1];
}
/** roff's spelling of an option: `--state-dir` is `\-\-state\-dir`. */
const roff = (s: string) => s.replace(/-/g, '\\-');

const page = read('man/haip.8');

test('haip(8) describes every command', () => {
  const commands = section(page, 'COMMANDS');
  const missing = SUBCOMMANDS.filter((c) => !new RegExp(`^\\.BR? ${c}\\b`, 'm').test(commands));
  assert.deepEqual(missing, []);
});

test('haip(8) describes every option, long and short', () => {
  const options = section(page, 'OPTIONS');
  const missing = Object.entries(OPTIONS).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])].filter((s) => !options.includes(roff(s))));
  assert.deepEqual(missing, []);
});

test("haip(8)'s synopsis and COMMANDS give each command the options it takes", () => {
  const synopsis = section(page, 'SYNOPSIS');
  const commands = section(page, 'COMMANDS');
  for (const c of SUBCOMMANDS) {
    assert.match(synopsis, new RegExp(`^\\.B haip${c === 'run' ? '' : ` ${c}`}$`, 'm'), `${c} in SYNOPSIS`);
    const entry = commands.split(/^\.TP\n/m).find((e) => new RegExp(`^\\.BR? ${c}\\b`).test(e)) ?? '';
    for (const o of COMMANDS[c].options) {
      const spellings = [`--${o}`, ...(OPTIONS[o].short ? [`-${OPTIONS[o].short}`] : [])].map(roff);
      const legacy = ['route', 'wait', 'fail', 'toggle'].includes(o) && /original command line/.test(entry);
      assert.ok(legacy || spellings.some((s) => entry.includes(s)), `haip(8) COMMANDS: ${c} takes ${spellings.join(' or ')}`);
    }
  }
});

test('haip(8) lists every exit status, and the code uses no other', () => {
  const exit = section(page, 'EXIT STATUS');
  const listed = [...exit.matchAll(/^\.B (\d+)$/gm)].map((m) => Number(m[1]));
  assert.deepEqual(listed, EXIT_STATUS.map(([code]) => code));
  assert.ok(listed.includes(EX_CONFIG) && listed.includes(EX_USAGE));
});

test('haip(8) says flush hands the default route over as proto static (ops.ts does), not that it removes it', () => {
  const flush = section(page, 'COMMANDS').split(/^\.TP\n/m).find((e) => e.startsWith('.B flush')) ?? '';
  assert.match(flush, /proto static/);
  assert.doesNotMatch(flush, /including the default route/);
  assert.match(read('src/ops.ts'), /protocol: 4 \}/, 'ops.ts hands over with protocol 4 (static)');
});

test('every command help names all of its options', () => {
  for (const c of SUBCOMMANDS) {
    const help = commandHelp(c);
    for (const o of COMMANDS[c].options) assert.ok(help.includes(`--${o}`), `haip ${c} --help lacks --${o}`);
  }
});

test("the README's Running it shows every command", () => {
  const running = read('README.md').split(/^## Running it$/m)[1].split(/^## /m)[0];
  const missing = SUBCOMMANDS.filter((c) => !new RegExp(`haip ${c}\\b`).test(running));
  assert.deepEqual(missing, []);
});

test('mandoc -Tlint finds nothing in haip(8) and haip.yaml(5) (scripts/deps.sh installs mandoc)', () => {
  const r = spawnSync('mandoc', ['-Tlint', '-Wstyle', 'man/haip.8', 'man/haip.yaml.5'], { cwd: REPO, encoding: 'utf8' });
  assert.ifError(r.error);
  assert.equal(r.stdout + r.stderr, '');
  assert.equal(r.status, 0);
});

test('one unit file: debian/haip.service is a link to systemd/haip.service', () => {
  assert.equal(readlinkSync(join(REPO, 'debian/haip.service')), '../systemd/haip.service');
});

test('package.json depends only on modules src/ imports', () => {
  const deps = Object.keys(JSON.parse(read('package.json')).dependencies);
  const sources = spawnSync('grep', ['-rhoE', "from '[^.][^']*'|require\\('[^.][^']*'\\)", 'src'], { cwd: REPO, encoding: 'utf8' }).stdout;
  const unused = deps.filter((d) => !sources.includes(`'${d}'`));
  assert.deepEqual(unused, []);
});

// The command line as a user meets it: exit statuses and which stream says what.
function haip(...args: string[]) {
  return spawnSync(process.execPath, [HAIP, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
}

test('haip check --json is refused with exit 64, on stderr, with check\'s usage', () => {
  const r = haip('check', '--json');
  assert.equal(r.status, 64);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^haip: check takes no --json option/);
  assert.match(r.stderr, /usage: haip check \[-c FILE\] \(haip check --help for more\)/);
});

for (const c of SUBCOMMANDS.filter((c): c is Exclude<Subcommand, 'help'> => c !== 'help')) {
  test(`haip ${c} --help prints ${c}'s help on stdout, exit 0`, () => {
    const r = haip(c, '--help');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, commandHelp(c) + '\n');
  });
}

test('haip check of a file with no links says that haip will change nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'haip-manual-'));
  try {
    const file = join(dir, 'haip.yaml');
    writeFileSync(file, 'links: []\n');
    const r = haip('check', '-c', file);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${file}: ok, no links: haip changes nothing on this host until links are added (see haip.yaml(5))\n`);
    writeFileSync(file, 'links: [\n');
    const bad = haip('check', '-c', file);
    assert.equal(bad.status, EX_CONFIG);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /invalid config, nothing changed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('haip status without a running daemon: exit 3, the reason on stderr', () => {
  const dir = mkdtempSync(join(tmpdir(), 'haip-manual-'));
  try {
    const r = haip('status', '--state-dir', dir);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /is the daemon running\?/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
