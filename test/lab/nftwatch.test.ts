// Sticky's nftables table comes back within a second of `nft flush ruleset` (what restarting nftables
// does): haip watches `nft monitor tables` instead of waiting for its 30 s periodic check.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Lab, sleep } from './lab';

const FAST = '{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

function hasTable(lab: Lab): boolean {
  return spawnSync('ip', ['netns', 'exec', lab.r, 'nft', 'list', 'table', 'inet', 'haip'], { stdio: 'ignore' }).status === 0;
}

test('nft flush ruleset: sticky\'s table inet haip is back within a second, twice in a row, and once after the monitor was killed', async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const haip = lab.startHaip(['run', '-c', lab.writeConfig(lab.configYaml(FAST, 'sticky: true\n'))]);
  await haip.waitFor(/ready:/, 10_000);
  await haip.waitFor(/applied: nftables table inet haip/, 5000);
  assert.ok(hasTable(lab));
  const times: number[] = [];
  const flushAndWait = async () => {
    lab.exec(lab.r, 'nft', 'flush', 'ruleset');
    const t0 = Date.now();
    assert.ok(!hasTable(lab));
    while (!hasTable(lab)) {
      if (Date.now() - t0 > 5000) throw new Error(`inet haip not back after 5 s:\n${haip.output()}`);
      await sleep(10);
    }
    times.push(Date.now() - t0);
  };
  await flushAndWait();
  await sleep(500);
  await flushAndWait();
  // The monitor dying is noticed and it is restarted.
  const monitor = spawnSync('pgrep', ['-P', String(haip.pid), '-f', 'nft monitor tables'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(monitor, 'an nft monitor child runs');
  process.kill(Number(monitor.split('\n')[0]), 'SIGKILL');
  await haip.waitFor(/nft monitor exited .*restarting in 1 s/, 3000);
  await sleep(1500);
  await flushAndWait();
  console.log(`# inet haip back after nft flush ruleset in ${times.join(', ')} ms`);
  for (const ms of times) assert.ok(ms < 1000, `${ms} ms`);
  await haip.waitFor(/changed outside haip, putting back: nftables table inet haip/, 1000);
});
