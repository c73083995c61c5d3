// `node dist/bench/compare.js TREE_A TREE_B [RUNS] [carrier|removal|silent] [default|fast]`: the same failover
// measured on two built checkouts (each with its own dist/), alternately, in the same lab and on the
// same machine, so a change between benches on different days can be told from a change of host.
// Prints the median and every figure of each round.
import { join, resolve } from 'node:path';

type LabModule = typeof import('../test/lab/lab');

async function measure(tree: string, runs: number, failure: string, profile: string): Promise<number[]> {
  const lab = require(join(resolve(tree), 'dist/test/lab/lab.js')) as LabModule;
  const p = profile === 'fast' ? { i: 200, t: 300 } : { i: 1000, t: 1000 };
  const L = lab.Lab.create();
  const out: number[] = [];
  try {
    const cfg = L.writeConfig(L.configYaml(`{ targets: [203.0.113.1, 203.0.113.2], interval: ${p.i}ms, timeout: ${p.t}ms, down: 3, up: 3 }`, 'damping: { penalty: 0 }\n'));
    const haip = L.startHaip(['run', '-c', cfg, '-v'], {});
    await haip.waitFor(/notice: ready:/, 15_000);
    await L.waitForDefault('eth1', 5000);
    for (let i = 0; i < runs; i++) {
      await lab.sleep(500 + Math.random() * Math.max(p.i, p.t));
      const t0 = Date.now();
      if (failure === 'carrier') L.farEnd(1, false);
      else if (failure === 'removal') L.ip(L.r, 'link', 'del', 'eth1');
      else L.dropAtIsp(1);
      out.push(await L.waitForDefault('eth2', 10_000, t0));
      await lab.sleep(300 + Math.random() * p.i);
      if (failure === 'carrier') L.farEnd(1, true);
      else if (failure === 'removal') L.addUplink(1);
      else L.healIsp(1);
      await L.waitForDefault('eth1', 10_000);
    }
    await haip.stop();
  } finally {
    L.destroy();
  }
  return out.sort((a, b) => a - b);
}

async function main() {
  const [a, b, runs = '8', failure = 'carrier', profile = 'default'] = process.argv.slice(2);
  if (!a || !b || !['carrier', 'removal', 'silent'].includes(failure) || !['default', 'fast'].includes(profile)) {
    process.stderr.write('usage: compare.js TREE_A TREE_B [RUNS] [carrier|removal|silent] [default|fast]\n');
    process.exit(2);
  }
  for (let round = 1; round <= 2; round++)
    for (const tree of [a, b]) {
      const xs = await measure(tree, Number(runs), failure, profile);
      process.stdout.write(`round ${round} ${tree}: ${failure} ${profile} median ${xs[xs.length >> 1]} ms [${xs.join(' ')}]\n`);
    }
}

void main();
