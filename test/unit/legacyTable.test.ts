// The `inet haip` table haip 0.1.0 left (no marker comment) is taken over; anything else stays foreign.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLegacyTable } from '../../src/net/nft';

/** `nft list table inet haip` of 0.1.0's table, as nft 1.0.6 prints it. */
const OLD = `table inet haip {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ct mark & 0x000000ff == 0x00000001 meta mark set meta mark & 0xffffff00 | 0x00000001 comment "isp1: restore"
		ct state new iifname "eth1" ct mark set ct mark & 0xffffff00 | 0x00000001 meta mark set meta mark & 0xffffff00 | 0x00000001 comment "isp1: incoming"
	}

	chain output {
		type route hook output priority mangle; policy accept;
		ct mark & 0x000000ff == 0x00000001 meta mark set meta mark & 0xffffff00 | 0x00000001 comment "isp1: restore"
	}

	chain postrouting {
		type filter hook postrouting priority mangle; policy accept;
		ct mark & 0x000000ff == 0x00000000 oifname "eth1" ct mark set ct mark & 0xffffff00 | 0x00000001 comment "isp1: outgoing"
	}
}
`;

test('0.1.0\'s table is recognised as haip\'s', () => assert.equal(isLegacyTable(OLD), true));

test('anything else in a table of that name stays someone else\'s', () => {
  const variants = [
    OLD.replace('comment "isp1: outgoing"', ''), // a rule without haip's comment
    OLD.replace('\tchain output {', '\tchain input {'), // another chain
    OLD.replace('}\n', '\tset blocked {\n\t\ttype ipv4_addr\n\t}\n}\n'), // a set
    OLD.replace('comment "isp1: restore"', 'comment "isp1: restore" counter'),
    'table inet haip {\n}\n', // empty
    'table inet haip {\n\tchain admins {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tcounter packets 0 bytes 0\n\t}\n}\n',
  ];
  for (const v of variants) assert.equal(isLegacyTable(v), false, v);
});
