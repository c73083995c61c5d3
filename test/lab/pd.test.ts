// Delegated prefixes learned from a real DHCPv6-PD client. isp1 numbers the router's WAN with nothing
// (unnumbered: link-local only) and delegates a /56 by DHCPv6-PD (ISC dhcpd -6 in its namespace); dhcpcd
// on the router puts it on the LAN and runs the hook the package ships (etc/dhcpcd/70-haip), which
// leaves the record haip reads. The config lists no prefixes6: haip learns the prefix, probes isp1 from
// the LAN address inside it, routes the LAN host in it by isp1 (IPv6's default is on isp2, which drops
// foreign sources), shows it as learned in status and plan, and follows a renumbering within a second.
// With `lan6`, the lease's lifetimes dhcpcd put on lan0's address bound what haip's RAs tell the LAN host.
// Every file dhcpd and dhcpcd write lives in the lab's temp dir (dhcpcd: tmpfs over /run and /var/lib/dhcpcd).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, TestContext } from 'node:test';
import { Haip, Lab, pingFromLan, REPO, sleep, within } from './lab';

const HOOK = join(REPO, 'etc/dhcpcd/70-haip');
const PROBE = '{ targets: [203.0.113.1, "2001:db8:ff::1"], interval: 500ms, timeout: 500ms, down: 3, up: 3 }';

/** ISC dhcpd -6 on isp1's wan, delegating `prefix` (a /56) and nothing else; a fixed DUID across restarts. */
function server(lab: Lab, prefix: string, n: number): Haip {
  const d = join(lab.dir, `dhcpd-${n}`);
  mkdirSync(d);
  const net = prefix.replace('/56', '');
  writeFileSync(join(d, 'dhcpd6.conf'), `server-duid LL ethernet 02:00:00:00:00:01;\ndefault-lease-time 600;\nmax-lease-time 600;\nsubnet6 2001:db8:1::/64 {\n  prefix6 ${net} ${net} /56;\n}\n`);
  writeFileSync(join(d, 'leases'), '');
  return lab.spawnIn(lab.isp(1), ['dhcpd', '-6', '-d', '-cf', join(d, 'dhcpd6.conf'), '-lf', join(d, 'leases'), '-pf', join(d, 'pid'), 'wan']);
}

/** dhcpcd on the router: DHCPv6 only, a /56 asked on eth1, its first /64 on lan0 (router ::1), the shipped hook. */
function client(lab: Lab): Haip {
  const d = join(lab.dir, 'dhcpcd');
  mkdirSync(d);
  writeFileSync(join(d, 'dhcpcd.conf'), 'nodev\nnoipv4\nnoipv4ll\nipv6only\nallowinterfaces eth1 lan0\ninterface eth1\n  noipv6rs\n  ia_pd 1 lan0/0/64/1\ninterface lan0\n  noipv6rs\n');
  // dhcpcd-run-hooks would run the distribution's hooks (resolv.conf...): only haip's, as it is shipped.
  const script = join(d, 'hook.sh');
  writeFileSync(script, `#!/bin/sh\n. ${HOOK}\nexit 0\n`);
  chmodSync(script, 0o755);
  // Its own PID namespace, with sh as its init: dhcpcd's privilege-separation proxies ignore SIGTERM and
  // would outlive it; when unshare ends, sh gets SIGKILL and the kernel ends everything in the namespace.
  return lab.spawnIn(lab.r, ['unshare', '-m', '-p', '--fork', '--kill-child=SIGKILL', '--mount-proc', '--propagation', 'private', 'sh', '-c',
    `mount -t tmpfs none /run && mount -t tmpfs none /var/lib/dhcpcd && dhcpcd -B -6 -f ${d}/dhcpcd.conf -c ${script} eth1 lan0 & wait`]);
}

const childOf = (pid: number): number => {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  const child = Number(children.trim().split(' ')[0]);
  // Never 0 or 1: kill(0) would signal this test's own process group.
  if (!(child > 1)) throw new Error(`no child under ${pid}: "${children}"`);
  return child;
};

/** dhcpcd's PID as the host sees it: under unshare, under sh. */
const dhcpcdPid = (p: Haip): number => childOf(childOf(p.child.pid!));

/** Stops a daemon started here (for the client: unshare, which takes its PID namespace with it). */
async function stop(p: Haip) {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.signal('SIGTERM');
  if (!(await Promise.race([p.exited.then(() => true), sleep(2000).then(() => false)]))) p.signal('SIGKILL');
}

const rules6 = (lab: Lab) => lab.ip(lab.r, '-6', 'rule', 'show');
const record = (lab: Lab, prefix: string) => lab.ip(lab.r, '-6', 'route', 'show', 'table', 'main', 'type', 'unreachable', 'proto', 'dhcp').includes(`${prefix} dev lo metric 72`);

/** isp1 routes both prefixes it may delegate to the router's link-local address and accepts them as sources; the LAN host sits in `lan64`. */
function isp1Delegates(lab: Lab, via: string) {
  for (const p of ['2001:db8:1:100::/56', '2001:db8:1:200::/56']) {
    lab.ip(lab.isp(1), '-6', 'route', 'add', p, 'via', via, 'dev', 'wan');
    lab.ip(lab.inet, '-6', 'route', 'add', p, 'via', '2001:db8:f01::1');
  }
  lab.exec(lab.isp(1), 'nft', 'delete', 'table', 'inet', 'haiplabbcp38');
  lab.nft(lab.isp(1), 'table inet haiplabbcp38 { chain forward { type filter hook forward priority -10; policy accept; iifname "wan" ip6 saddr != { 2001:db8:1:100::/56, 2001:db8:1:200::/56 } counter drop; }; }\n');
}

function lanHostIn(lab: Lab, lan64: string, old?: string) {
  if (old) lab.ip(lab.lan, '-6', 'addr', 'del', `${old}::2/64`, 'dev', 'eth0');
  lab.ip(lab.lan, '-6', 'addr', 'add', `${lan64}::2/64`, 'dev', 'eth0', 'nodad');
  lab.ip(lab.lan, '-6', 'route', 'replace', 'default', 'via', `${lan64}::1`);
}

/**
 * The lab with isp1's WAN unnumbered and delegating 2001:db8:1:100::/56 (dhcpd), dhcpcd on the router,
 * and the hook's record of the prefix there. `daemons` end before the lab's namespaces go.
 */
async function delegatingLab(t: TestContext): Promise<{ lab: Lab; daemons: Haip[]; first: Haip; dhcpcd: Haip }> {
  const lab = Lab.create({ lan: true });
  const daemons: Haip[] = [];
  // One hook, first: the DHCP daemons end before the lab's namespaces go.
  t.after(async () => {
    for (const p of daemons) await stop(p);
    lab.destroy();
  });
  lab.enableIPv6();
  lab.ip(lab.r, '-6', 'addr', 'del', '2001:db8:1::2/64', 'dev', 'eth1');
  const ll: { addr_info: { local: string }[] }[] = JSON.parse(lab.ip(lab.r, '-j', '-6', 'addr', 'show', 'dev', 'eth1', 'scope', 'link'));
  isp1Delegates(lab, ll[0].addr_info[0].local);
  const first = server(lab, '2001:db8:1:100::/56', 1);
  daemons.push(first);
  await sleep(300);
  const dhcpcd = client(lab);
  daemons.push(dhcpcd);
  await within(15_000, 'dhcpcd got the prefix and the hook left its record', () => record(lab, '2001:db8:1:100::/56'));
  return { lab, daemons, first, dhcpcd };
}

test('learned from dhcpcd: the delegated prefix gets its source rule; a renumbering moves it within a second', async (t) => {
  const { lab, daemons, first, dhcpcd } = await delegatingLab(t);
  lanHostIn(lab, '2001:db8:1:100');

  // isp2 carries IPv6's default: only the learned rule sends the LAN host in isp1's prefix by isp1.
  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 2, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 1, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n` +
      `${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  t.after(() => haip.stop());
  await haip.waitFor(/notice: ready:/, 10_000);
  await haip.waitFor(/isp1: delegated IPv6 prefixes none -> 2001:db8:1:100::\/56, learned from eth1's DHCPv6 client/, 3000);
  await within(3000, 'the learned prefix\'s source rule', () => /10010:\s+from 2001:db8:1:100::\/56 lookup 101 proto 72/.test(rules6(lab)));
  // The unnumbered WAN is probed from the LAN address inside the learned prefix, and comes up.
  await within(6000, 'isp1 up for IPv6', () => /\s+isp1\s+IPv6\s+eth1\s+UP/.test(lab.cli('status', '-c', cfg).stdout));
  assert.match(rules6(lab), /10010:\s+from 2001:db8:1:100::1 lookup 101 proto 72/);
  const drops = lab.bcp38Drops6(2);
  assert.ok(pingFromLan(lab, '2001:db8:ff::1'), 'the LAN host in the learned prefix reaches the internet by isp1');
  assert.equal(lab.bcp38Drops6(2), drops, 'nothing from isp1\'s prefix went to isp2');
  const status = lab.cli('status', '-c', cfg).stdout;
  assert.match(status, /isp1 routes delegated prefix 2001:db8:1:100::\/56 \(learned from eth1's DHCPv6 client \(unreachable 2001:db8:1:100::\/56 proto dhcp metric \d+\)\)/, status);
  const json = JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout);
  const row = json.links.find((l: { name: string; family: number }) => l.name === 'isp1' && l.family === 6);
  assert.deepEqual(row.prefixes6.map((p: { prefix: string; learned: boolean }) => `${p.prefix} ${p.learned}`), ['2001:db8:1:100::/56 true']);
  assert.match(lab.cli('plan', '-c', cfg).stdout, /delegated prefix 2001:db8:1:100::\/56, learned from eth1's DHCPv6 client/);

  // The ISP renumbers: the new server delegates 2001:db8:1:200::/56 and dhcpcd renews (SIGUSR1).
  await stop(first);
  daemons.push(server(lab, '2001:db8:1:200::/56', 2));
  await sleep(300);
  process.kill(dhcpcdPid(dhcpcd), 'SIGUSR1');
  await within(15_000, 'the hook\'s record of the new prefix', () => record(lab, '2001:db8:1:200::/56'), Date.now(), 5);
  const seen = Date.now();
  // The aim is a second (0.34-0.88 s measured, 1.05 s at load 7); the bound leaves room for a loaded machine, where one
  // pass already under way when the record appears must end first.
  const ms = await within(1500, 'the rule moved to the new prefix', () => {
    const r = rules6(lab);
    return /from 2001:db8:1:200::\/56 lookup 101/.test(r) && !/from 2001:db8:1:100::\/56/.test(r);
  }, seen, 10).catch((err) => {
    console.log(rules6(lab), lab.ip(lab.r, '-6', 'route', 'show', 'type', 'unreachable'), haip.lines.slice(-30).join('\n'));
    throw err;
  });
  console.log(`# figures: pd renumbering rule_moved_ms_after_record=${ms}`);
  lanHostIn(lab, '2001:db8:1:200', '2001:db8:1:100');
  await within(3000, 'the LAN host in the new prefix reaches the internet by isp1', () => pingFromLan(lab, '2001:db8:ff::1'));
  assert.equal(lab.bcp38Drops6(2), drops);
  assert.equal(await haip.stop(), 0);
});

test('lan6 over a learned delegation: dhcpcd\'s lease lifetimes on lan0 bound what the LAN\'s hosts are told', async (t) => {
  const { lab } = await delegatingLab(t);
  // What dhcpcd gave lan0's address from the lease (dhcpd: 600 s valid).
  const lan0 = JSON.parse(lab.ip(lab.r, '-j', '-6', 'addr', 'show', 'dev', 'lan0', 'scope', 'global'))[0].addr_info.find((a: { local: string }) => a.local.startsWith('2001:db8:1:100:'));
  assert.ok(lan0 && lan0.valid_life_time <= 600 && lan0.preferred_life_time <= lan0.valid_life_time, `dhcpcd numbered lan0 from the lease: ${JSON.stringify(lan0)}`);

  const cfg = lab.writeConfig(
    `probe: ${PROBE}\ntables: { T1: 101, T2: 102 }\nlinks:\n` +
      `  - { name: isp1, interface: eth1, weight: 1, table: T1, gateway: 198.18.1.1, gateway6: "fe80::1" }\n` +
      `  - { name: isp2, interface: eth2, weight: 2, table: T2, gateway: 198.18.2.1, gateway6: "fe80::2" }\n` +
      `lan6: { interface: lan0 }\n${lab.pathsYaml()}\n`,
  );
  const haip = lab.startHaip(['run', '-c', cfg, '-vv']);
  t.after(() => haip.stop());
  await haip.waitFor(/notice: ready:/, 10_000);
  await haip.waitFor(/lan6: 2001:db8:1:100::\/64 of isp1 advertised on lan0/, 8000);
  // The LAN host numbers itself (SLAAC) from haip's RA: no longer than the lease, counted down.
  const host = () => /inet6 2001:db8:1:100:\S+ scope global[^\n]*\n\s+valid_lft (\d+)sec preferred_lft (\d+)sec/.exec(lab.ip(lab.lan, '-6', 'addr', 'show', 'dev', 'eth0'));
  await within(8000, 'the LAN host\'s SLAAC address in the learned /64', () => !!host(), Date.now(), 100);
  const [valid, preferred] = [Number(host()![1]), Number(host()![2])];
  assert.ok(valid <= lan0.valid_life_time && preferred <= lan0.preferred_life_time, `the host holds valid ${valid} s, preferred ${preferred} s; the lease had ${lan0.valid_life_time}/${lan0.preferred_life_time} s`);
  const row = JSON.parse(lab.cli('status', '--json', '-c', cfg).stdout).lan6.prefixes[0];
  assert.ok(row.prefix === '2001:db8:1:100::/64' && row.valid_s <= lan0.valid_life_time, `status: ${JSON.stringify(row)}`);
  console.log(`# figures: lan6 over dhcpcd: lease on lan0 ${lan0.valid_life_time}/${lan0.preferred_life_time} s, LAN host ${valid}/${preferred} s`);
  assert.equal(await haip.stop(), 0);
});
