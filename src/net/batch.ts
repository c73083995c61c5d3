// Runs many `ip` commands as one process per family (`ip -batch`): a pass reads and writes through one
// or two children instead of one each. Spawning is most of a pass's cost on a small or busy machine
// (ten reads in parallel took 130-200 ms on a loaded 2-core box, one batch per family 30-45 ms), and it is
// the time from a lost carrier to the new default route. Each command's answer is found again in the
// batch's output; whatever cannot be told apart is run on its own, as before.
import { Runner, RunResult } from '../sys/runner';

/** A word `ip -batch` reads back as the same word: no quotes, comment signs or blanks (its line splitter has them). */
const SAFE_WORD = /^[A-Za-z0-9_.:/@%+=,-]+$/;
const FAILED = /^Command failed -:(\d+)$/;
/** What `ip` exits with when one of its own checks stops it before netlink; every netlink error exits 2. */
const USAGE = /^(Cannot find device|Error: (argument|either|an? |inet|any valid|".*" is|invalid))/;

/**
 * The batch a command joins: its family flag, or none for a read that starts `-j -N` (`addr show`, and
 * what `ip` reads as IPv4 when no family is given: rules, one table's routes).
 */
const familyOf = (argv: string[]) => (argv[0] === '-4' || argv[0] === '-6' ? argv[0] : argv[0] === '-j' && argv[1] === '-N' ? '' : undefined);
/** The words of a command after the flags the batch carries for it (`[-4|-6] [-j -N]`). */
const wordsOf = (argv: string[]) => {
  const flags = familyOf(argv) ? 1 : 0;
  return argv.slice(argv[flags] === '-j' && argv[flags + 1] === '-N' ? flags + 2 : flags);
};
const reads = (words: string[]) => words[1] === 'show';

/** Whether a command can go into a family's batch: its family flag first, only plain words. */
export function batchable(argv: string[]): boolean {
  return familyOf(argv) !== undefined && (familyOf(argv) !== '' || reads(wordsOf(argv))) && wordsOf(argv).length > 1 && wordsOf(argv).every((w) => SAFE_WORD.test(w));
}

/** The batch's input: one line per command. */
export function batchInput(argvs: string[][]): string {
  return argvs.map((a) => wordsOf(a).join(' ') + '\n').join('');
}

/**
 * Each command's answer from `ip -j -N -force -batch -` output; null when they cannot be told apart
 * (the batch stopped early, a read printed nothing or more than one line). Reads print one JSON line
 * each, changes nothing; `-force` goes on after a failure and names its line on stderr after the
 * command's own words. Pure.
 */
export function splitBatch(argvs: string[][], out: RunResult): RunResult[] | null {
  if (out.code !== 0 && out.code !== 1) return null;
  const failed = new Map<number, string>();
  let said: string[] = [];
  for (const line of out.stderr.split('\n')) {
    const m = FAILED.exec(line.trim());
    if (m) {
      failed.set(Number(m[1]) - 1, said.join('\n'));
      said = [];
    } else if (line.trim()) said.push(line);
  }
  if (said.length || [...failed.keys()].some((i) => i < 0 || i >= argvs.length)) return null;
  const lines = out.stdout.split('\n').filter((l) => l.trim());
  const answers: RunResult[] = [];
  let next = 0;
  for (const [i, argv] of argvs.entries()) {
    const error = failed.get(i);
    if (error !== undefined) answers.push({ code: USAGE.test(error) ? 1 : 2, stdout: '', stderr: error + '\n' });
    else if (!reads(wordsOf(argv))) answers.push({ code: 0, stdout: '', stderr: '' });
    else {
      const line = lines[next++];
      if (line === undefined || !line.startsWith('[') || !line.endsWith(']')) return null;
      answers.push({ code: 0, stdout: line, stderr: '' });
    }
  }
  return next === lines.length ? answers : null;
}

/**
 * Runs the commands, in order within each family, the families side by side, and answers each as if
 * it had run alone. A change the batch could not do is run again on its own, so its exit code (which
 * decides whether "already gone" is fine) is the kernel's, not guessed from the message.
 */
export async function runBatched(ip: Runner, argvs: string[][]): Promise<RunResult[]> {
  const answers: (RunResult | undefined)[] = new Array(argvs.length);
  const groups = new Map<string, number[]>();
  const alone: number[] = [];
  for (const [i, argv] of argvs.entries()) {
    if (batchable(argv)) groups.set(familyOf(argv)!, [...(groups.get(familyOf(argv)!) ?? []), i]);
    else alone.push(i);
  }
  const one = async (i: number) => {
    answers[i] = await ip.run(argvs[i]);
  };
  await Promise.all([
    ...alone.map(one),
    ...[...groups].map(async ([flag, idx]) => {
      if (idx.length === 1) return one(idx[0]);
      const mine = idx.map((i) => argvs[i]);
      const out = await ip.run([...(flag ? [flag] : []), '-j', '-N', '-force', '-batch', '-'], batchInput(mine));
      // A batch that hung is not run again command by command: each would wait as long.
      if (out.code === 124) return idx.forEach((i) => (answers[i] = out));
      const split = splitBatch(mine, out);
      if (!split) {
        for (const i of idx) await one(i);
        return;
      }
      for (const [k, i] of idx.entries()) {
        if (split[k].code !== 0 && !reads(wordsOf(argvs[i]))) await one(i);
        else answers[i] = split[k];
      }
    }),
  ]);
  return answers as RunResult[];
}
