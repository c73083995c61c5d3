// The dhcpcd hook the package ships (etc/dhcpcd/70-haip), sourced by sh as dhcpcd-run-hooks sources it,
// with a stub `ip` first on PATH that records its argv: nothing reaches the host's kernel. The
// interface is `lo` (ifindex 1 everywhere), so the hook's records sit at metric 7201.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const HOOK = resolve(__dirname, '../../../etc/dhcpcd/70-haip');
const dir = mkdtempSync(join(tmpdir(), 'haip-pdhook-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the hook for `reason` with dhcpcd's variables; `shown` is what `ip -6 route show` prints. */
function run(reason: string, vars: Record<string, string>, shown: string): string[] {
  const log = join(dir, 'argv');
  writeFileSync(log, '');
  writeFileSync(join(dir, 'shown'), shown);
  writeFileSync(join(dir, 'ip'), `#!/bin/sh\necho "$*" >> ${log}\ncase "$*" in *" show "*) cat ${join(dir, 'shown')} ;; esac\n`);
  chmodSync(join(dir, 'ip'), 0o755);
  const r = spawnSync('sh', ['-c', `. ${HOOK}`], { env: { PATH: `${dir}:/usr/bin:/bin`, interface: 'lo', reason, ...vars }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(log, 'utf8').split('\n').filter((l) => l && !l.includes(' show '));
}

const OLD = 'unreachable 2001:db8:1:100::/56 dev lo metric 7201 pref medium\nunreachable 2001:db8:1:100::/56 dev lo metric 1001 pref medium\n';

describe('the dhcpcd hook (etc/dhcpcd/70-haip)', () => {
  it('BOUND6: a record per delegated prefix at 7200 + ifindex', () => {
    assert.deepEqual(
      run('BOUND6', { new_dhcp6_ia_pd1_prefix1: '2001:db8:1:100::', new_dhcp6_ia_pd1_prefix1_length: '56', new_dhcp6_ia_pd2_prefix1: '2001:db8:9::', new_dhcp6_ia_pd2_prefix1_length: '48' }, ''),
      ['-6 route replace unreachable 2001:db8:1:100::/56 dev lo proto dhcp metric 7201', '-6 route replace unreachable 2001:db8:9::/48 dev lo proto dhcp metric 7201'],
    );
  });
  it('RENEW6 after a renumbering: the new record first, then the old one of this uplink only (not dhcpcd\'s own)', () => {
    assert.deepEqual(run('RENEW6', { new_dhcp6_ia_pd1_prefix1: '2001:db8:1:200::', new_dhcp6_ia_pd1_prefix1_length: '56' }, OLD), [
      '-6 route replace unreachable 2001:db8:1:200::/56 dev lo proto dhcp metric 7201',
      '-6 route del unreachable 2001:db8:1:100::/56 dev lo proto dhcp metric 7201',
    ]);
  });
  it('the same prefix again: replaced, nothing deleted', () => {
    assert.deepEqual(run('REBIND6', { new_dhcp6_ia_pd1_prefix1: '2001:db8:1:100::', new_dhcp6_ia_pd1_prefix1_length: '56' }, OLD), [
      '-6 route replace unreachable 2001:db8:1:100::/56 dev lo proto dhcp metric 7201',
    ]);
  });
  for (const reason of ['EXPIRE6', 'RELEASE6', 'STOP6', 'STOPPED', 'DEPARTED'])
    it(`${reason}: this uplink's records go`, () => assert.deepEqual(run(reason, {}, OLD), ['-6 route del unreachable 2001:db8:1:100::/56 dev lo proto dhcp metric 7201']));
  it('other events (DELEGATED6 on the LAN, BOUND on IPv4) change nothing', () => {
    assert.deepEqual(run('DELEGATED6', { new_delegated_dhcp6_prefix: '2001:db8:1:100::1/64' }, OLD), []);
    assert.deepEqual(run('BOUND', { new_ip_address: '198.18.1.2' }, OLD), []);
  });
});
