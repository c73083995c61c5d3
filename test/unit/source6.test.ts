// chooseSource6: the WAN's own address when it has one, else one inside a delegated prefix anywhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InterfaceFacts, LinkConfig } from '../../src/model';
import { chooseSource6 } from '../../src/net/source6';
import { viewLink6 } from '../../src/net/desired';

const iface = (name: string, ...a: string[]): InterfaceFacts => ({
  name,
  up: true,
  addresses: [],
  addresses6: a.map((x) => ({ address: x.split('/')[0], prefixlen: Number(x.split('/')[1] ?? 64) })),
});
const link = (extra: Partial<LinkConfig> = {}) => ({ name: 'isp1', interface: 'eth1', weight: 1, table: 101, ...extra }) as LinkConfig;
const wanSlaac = iface('eth1', '2001:db8:1::2/64');
const wanBare = iface('eth1');
const lan = iface('lan0', '2001:db8:9::1/64', '2001:db8:1:100::1/64');

describe('chooseSource6', () => {
  const cases: { name: string; link: LinkConfig; wan: InterfaceFacts; want: string | undefined }[] = [
    { name: 'SLAAC WAN: its own address', link: link({ prefixes6: ['2001:db8:1:100::/56'] }), wan: wanSlaac, want: '2001:db8:1::2/64' },
    { name: 'unnumbered WAN: the LAN address inside the prefix', link: link({ prefixes6: ['2001:db8:1:100::/56'] }), wan: wanBare, want: '2001:db8:1:100::1/64 on lan0' },
    { name: 'unnumbered WAN, no prefixes6: none', link: link(), wan: wanBare, want: undefined },
    { name: 'unnumbered WAN, prefix held nowhere: none', link: link({ prefixes6: ['2001:db8:2:100::/56'] }), wan: wanBare, want: undefined },
    { name: 'source6 on the LAN', link: link({ source6: '2001:db8:9::1' }), wan: wanSlaac, want: '2001:db8:9::1/64 on lan0' },
    { name: 'source6 on the WAN', link: link({ source6: '2001:db8:1::2' }), wan: wanSlaac, want: '2001:db8:1::2/64' },
    { name: 'source6 held nowhere', link: link({ source6: '2001:db8:7::1' }), wan: wanSlaac, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = chooseSource6(c.link, c.wan, [c.wan, lan]);
      assert.equal(s && `${s.address}/${s.prefixlen}${s.on ? ` on ${s.on}` : ''}`, c.want);
    });
  }

  it('viewLink6: an unnumbered WAN is usable, with no connected prefix; the reason names prefixes6 when none is held', () => {
    const v = viewLink6(link({ prefixes6: ['2001:db8:1:100::/56'], gateway6: 'fe80::1' }), wanBare, undefined, [wanBare, lan]);
    assert.deepEqual({ source: v.source, connected: v.connected, unusable: v.unusable }, { source: '2001:db8:1:100::1', connected: undefined, unusable: undefined });
    const w = viewLink6(link({ prefixes6: ['2001:db8:2:100::/56'], gateway6: 'fe80::1' }), wanBare, undefined, [wanBare, lan]);
    assert.equal(w.unusable, 'eth1 has no global IPv6 address and the router none inside its prefixes6');
  });
});
