// `sudo make demo`: a router with two uplinks in namespaces, haip running in it, the primary broken and
// healed while you watch the log and the route. Removes every namespace it made, also on Ctrl-C.
import { spawnSync } from 'node:child_process';
import { HAIP_JS, Lab, sleep } from './lab';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function say(s: string) {
  process.stdout.write(`\n${bold(`== ${s}`)}\n`);
}

async function main() {
  const started = Date.now();
  say('building the lab: router haip-*-r with eth1 -> isp1 and eth2 -> isp2; targets 203.0.113.1-2 in haip-*-inet');
  const lab = Lab.create();
  try {
    const cfg = lab.writeConfig(
      lab.configYaml('{ targets: [203.0.113.1, 203.0.113.2], interval: 500ms, timeout: 500ms, down: 3, up: 3 }'),
    );
    process.stdout.write(`config ${cfg}:\n${lab.configYaml().split('\n').slice(0, 5).map((l) => `  ${l}`).join('\n')}\n`);
    say('starting haip in the router namespace (its log lines start with "|")');
    process.env.HAIP_LAB_ECHO = '1';
    const haip = lab.startHaip(['run', '-c', cfg, '-v']);
    await haip.waitFor(/ready:/, 15_000);
    const show = () => {
      process.stdout.write(`   default route: ${lab.defaultRoute()}\n`);
    };
    show();
    process.stdout.write(`   source rules:\n${lab.rules().split('\n').filter((l) => /proto/.test(l)).map((l) => `     ${l}`).join('\n')}\n`);

    say('breaking isp1 silently (nft drop at the ISP): haip should move the default route to eth2 within ~2 s');
    let t0 = Date.now();
    lab.dropAtIsp(1);
    const failover = await lab.waitForDefault('eth2', 10_000, t0);
    show();
    process.stdout.write(`   failover took ${failover} ms\n`);
    await sleep(500);
    process.stdout.write(`   $ haip status\n`);
    const status = spawnSync(process.execPath, [HAIP_JS, 'status', '-c', cfg], { encoding: 'utf8' }).stdout;
    process.stdout.write(status.split('\n').map((l) => (l ? `     ${l}` : l)).join('\n'));

    await sleep(1000);
    say('healing isp1: haip should switch back once isp1 answers 3 rounds in a row');
    t0 = Date.now();
    lab.healIsp(1);
    const failback = await lab.waitForDefault('eth1', 10_000, t0);
    show();
    process.stdout.write(`   failback took ${failback} ms\n`);

    await sleep(500);
    say('pulling the cable at isp1 (far-end link down): carrier loss moves the route without waiting for probes');
    t0 = Date.now();
    lab.farEnd(1, false);
    const carrier = await lab.waitForDefault('eth2', 10_000, t0);
    show();
    process.stdout.write(`   carrier loss handled in ${carrier} ms\n`);
    lab.farEnd(1, true);
    await lab.waitForDefault('eth1', 10_000);
    show();

    say('stopping haip (SIGTERM): the default route stays');
    await haip.stop();
    show();
    say(`done in ${Math.round((Date.now() - started) / 1000)} s; removing the lab`);
  } finally {
    lab.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
