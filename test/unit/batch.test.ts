import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchable, batchInput, runBatched, splitBatch } from '../../src/net/batch';
import { Runner, RunResult } from '../../src/sys/runner';

const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });
const SHOW = ['-4', '-j', '-N', 'route', 'show', 'table', '101'];
const RULES = ['-4', '-j', '-N', 'rule', 'show'];
const DEL = ['-4', 'route', 'del', 'default', 'via', '198.18.1.1', 'dev', 'eth1', 'proto', '72', 'table', '101'];
const ADD = ['-4', 'rule', 'add', 'priority', '10010', 'from', '198.18.1.2', 'lookup', '101', 'protocol', '72'];

/** A runner that answers from a script and records what it was asked. */
function scripted(answer: (argv: string[], input?: string) => RunResult): Runner & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    run: async (argv, input) => {
      asked.push(argv.join(' ') + (input ? ` <<${input.trim().split('\n').length}` : ''));
      return answer(argv, input);
    },
  };
}

describe('ip -batch: one process per family', () => {
  it('takes a command with its family flag and plain words; one quote, hash or blank and it runs alone', () => {
    assert.ok(batchable(SHOW));
    assert.ok(batchable(DEL));
    assert.ok(!batchable(['-j', 'addr', 'show']), 'no family flag: addr show reads both families');
    assert.ok(!batchable(['-4', 'route', 'del', 'default', 'dev', 'eth"1']));
    assert.ok(!batchable(['-4', 'route', 'del', 'default', 'dev', 'eth#1']));
    assert.ok(!batchable(['-4', 'route', 'del', 'default', 'dev', 'eth 1']));
    assert.ok(batchable(['-j', '-N', 'addr', 'show']), 'reads without a family share the batch of no flag');
    assert.ok(!batchable(['-j', '-N', 'route', 'del', 'default']), 'a change always names its family');
    assert.equal(batchInput([['-j', '-N', 'addr', 'show'], ['-j', '-N', 'rule', 'show']]), 'addr show\nrule show\n');
    assert.equal(batchInput([SHOW, DEL]), 'route show table 101\nroute del default via 198.18.1.1 dev eth1 proto 72 table 101\n');
  });

  const cases: { name: string; argvs: string[][]; out: RunResult; want: RunResult[] | null }[] = [
    { name: 'reads answer a line each, changes nothing', argvs: [RULES, DEL, SHOW], out: ok('[{"a":1}]\n[]\n'), want: [ok('[{"a":1}]'), ok(), ok('[]')] },
    {
      name: 'a failure is found by its line number; a netlink error is exit 2',
      argvs: [DEL, SHOW],
      out: { code: 1, stdout: '[]\n', stderr: 'RTNETLINK answers: No such process\nCommand failed -:1\n' },
      want: [{ code: 2, stdout: '', stderr: 'RTNETLINK answers: No such process\n' }, ok('[]')],
    },
    {
      name: "ip's own checks are exit 1",
      argvs: [SHOW, ['-4', '-j', '-N', 'route', 'show', 'table', 'all', 'dev', 'eth9']],
      out: { code: 1, stdout: '[]\n', stderr: 'Cannot find device "eth9"\nCommand failed -:2\n' },
      want: [ok('[]'), { code: 1, stdout: '', stderr: 'Cannot find device "eth9"\n' }],
    },
    { name: 'a read that printed nothing: cannot be told apart', argvs: [RULES, SHOW], out: ok('[]\n'), want: null },
    { name: 'a read cut short: cannot be told apart', argvs: [RULES, SHOW], out: ok('[]\n[{"dst":\n'), want: null },
    { name: 'stopped early (a usage error exits the batch)', argvs: [DEL, SHOW], out: { code: 255, stdout: '', stderr: 'Error: argument "x" is wrong\n' }, want: null },
    { name: 'words after the last failure: cannot be told apart', argvs: [DEL, SHOW], out: { code: 1, stdout: '[]\n', stderr: 'oops\n' }, want: null },
    { name: 'a line number outside the batch', argvs: [DEL], out: { code: 1, stdout: '', stderr: 'x\nCommand failed -:5\n' }, want: null },
  ];
  for (const c of cases) it(`splitBatch: ${c.name}`, () => assert.deepEqual(splitBatch(c.argvs, c.out), c.want));

  it('runs each family as one batch, side by side, and a lone command as itself', async () => {
    const ip = scripted((argv, input) => (argv.includes('-batch') ? ok((input ?? '').split('\n').filter((l) => / show/.test(l)).map(() => '[]\n').join('')) : ok('[]')));
    const six = ['-6', '-j', '-N', 'rule', 'show'];
    const answers = await runBatched(ip, [['-j', 'addr', 'show'], RULES, SHOW, six, DEL]);
    assert.deepEqual(answers, [ok('[]'), ok('[]'), ok('[]'), ok('[]'), ok()]);
    assert.deepEqual([...ip.asked].sort(), ['-4 -j -N -force -batch - <<3', '-6 -j -N rule show', '-j addr show']);
  });

  it('a change the batch could not do runs again alone: its exit code is the kernel\'s', async () => {
    const ip = scripted((argv) => {
      if (argv.includes('-batch')) return { code: 1, stdout: '', stderr: 'RTNETLINK answers: File exists\nCommand failed -:2\n' };
      return { code: 2, stdout: '', stderr: 'RTNETLINK answers: File exists\n' };
    });
    const answers = await runBatched(ip, [DEL, ADD]);
    assert.deepEqual(answers.map((a) => a.code), [0, 2]);
    assert.deepEqual(ip.asked, ['-4 -j -N -force -batch - <<2', ADD.join(' ')]);
  });

  it('output it cannot attribute: every command again, alone, in order', async () => {
    const ip = scripted((argv) => (argv.includes('-batch') ? { code: 255, stdout: '', stderr: 'Error: ???\n' } : ok(argv.includes('show') ? '[]' : '')));
    const answers = await runBatched(ip, [DEL, SHOW]);
    assert.deepEqual(answers, [ok(), ok('[]')]);
    assert.deepEqual(ip.asked.slice(1), [DEL.join(' '), SHOW.join(' ')]);
  });

  it('a batch that timed out is not run again command by command', async () => {
    const hung: RunResult = { code: 124, stdout: '', stderr: 'timed out after 5000 ms' };
    const ip = scripted(() => hung);
    assert.deepEqual(await runBatched(ip, [DEL, SHOW]), [hung, hung]);
    assert.equal(ip.asked.length, 1);
  });
});
