// Probe targets: every form parses to what the probers need, every bad one says what is wrong, in the
// config's FILE:LINE:COL messages too; the HTTP and DNS bytes and how their answers are judged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatProblem, parseConfigText } from '../../src/config/load';
import { parseTarget } from '../../src/sys/probeTarget';
import { dnsQuery, httpRequest, judgeDns, judgeHttp } from '../../src/sys/probeWire';
import type { Prober } from '../../src/sys/prober';
import { KindProber, SocketProber } from '../../src/sys/socketProber';

describe('probe targets: every form', () => {
  const cases: [string, unknown][] = [
    ['203.0.113.1', { kind: 'icmp', address: '203.0.113.1' }],
    ['2001:db8::1', { kind: 'icmp', address: '2001:db8::1' }],
    ['tcp://203.0.113.1:443', { kind: 'tcp', address: '203.0.113.1', port: 443 }],
    ['TCP://203.0.113.1:1', { kind: 'tcp', address: '203.0.113.1', port: 1 }],
    ['tcp://203.0.113.1:65535', { kind: 'tcp', address: '203.0.113.1', port: 65535 }],
    ['http://203.0.113.1', { kind: 'http', address: '203.0.113.1', port: 80, path: '/' }],
    ['http://203.0.113.1/', { kind: 'http', address: '203.0.113.1', port: 80, path: '/' }],
    ['http://203.0.113.1:8080/generate_204', { kind: 'http', address: '203.0.113.1', port: 8080, path: '/generate_204' }],
    ['http://203.0.113.1/a/b?x=1&y=%20', { kind: 'http', address: '203.0.113.1', port: 80, path: '/a/b?x=1&y=%20' }],
    ['http://203.0.113.1/ok host=www.example.com', { kind: 'http', address: '203.0.113.1', port: 80, path: '/ok', host: 'www.example.com' }],
    ['http://203.0.113.1:81 host=example.com', { kind: 'http', address: '203.0.113.1', port: 81, path: '/', host: 'example.com' }],
    ['dns://203.0.113.53/example.com', { kind: 'dns', address: '203.0.113.53', port: 53, name: 'example.com' }],
    ['dns://203.0.113.53:5353/example.com.', { kind: 'dns', address: '203.0.113.53', port: 5353, name: 'example.com.' }],
    ['dns://203.0.113.53/_probe.example', { kind: 'dns', address: '203.0.113.53', port: 53, name: '_probe.example' }],
    ['tcp://[2001:db8::1]:443', { kind: 'tcp', address: '2001:db8::1', port: 443 }],
    ['http://[2001:db8::1]:8080/ok', { kind: 'http', address: '2001:db8::1', port: 8080, path: '/ok' }],
    ['dns://[2001:db8::53]/example.com', { kind: 'dns', address: '2001:db8::53', port: 53, name: 'example.com' }],
  ];
  for (const [text, want] of cases) it(text, () => assert.deepEqual(parseTarget(text), want));
});

describe('probe targets: each bad form says why', () => {
  const cases: [string, RegExp][] = [
    ['203.0.113', /203\.0\.113 is not an IPv4 address; a target is an IPv4 or IPv6 address, tcp:\/\/ADDR:PORT/],
    ['example.com', /example\.com is not an IP address \(host names are not looked up: write the address\)/],
    ['', /the address is missing/],
    ['[2001:db8::1]', /a bare address goes without brackets: 2001:db8::1/],
    ['tcp://2001:db8::1:443', /"tcp:\/\/2001:db8::1:443": an IPv6 address goes in brackets: tcp:\/\/\[ADDR\]:PORT/],
    ['fe80::1%eth0', /is not an IP address/],
    ['tcp://[203.0.113.1]:443', /\[203\.0\.113\.1\] is not an IPv6 address/],
    ['tcp://203.0.113.1', /a TCP target needs a port: tcp:\/\/203\.0\.113\.1:PORT/],
    ['tcp://203.0.113.1:0', /port "0" must be a number from 1 to 65535/],
    ['tcp://203.0.113.1:65536', /port "65536" must be a number from 1 to 65535/],
    ['tcp://203.0.113.1:https', /port "https" must be a number/],
    ['tcp://203.0.113.1:443/x', /a TCP target is tcp:\/\/ADDR:PORT, nothing after the port/],
    ['tcp://example.com:443', /example\.com is not an IP address \(host names are not looked up/],
    ['http://example.com/', /example\.com is not an IP address/],
    ['http://203.0.113.1:x/', /port "x" must be a number/],
    ['http://203.0.113.1/a b', /only " host=...", " status=...", " body=..." may follow a http:\/\/ URL, one space apart/],
    ['http://203.0.113.1/a#frag', /the path may hold only URL characters/],
    ['http://203.0.113.1/ host=bad_name!', /host=bad_name! must be a host name/],
    ['http://203.0.113.1/\r\nX: y', /may follow a http:\/\/ URL/],
    ['dns://203.0.113.53', /a DNS target names what to ask for: dns:\/\/203\.0\.113\.53\/www\.example\.com/],
    ['dns://203.0.113.53/', /a DNS target names what to ask for/],
    ['dns://203.0.113.53/bad..name', /"bad\.\.name" is not a DNS name/],
    ['dns://203.0.113.53/' + 'a'.repeat(64) + '.com', /is not a DNS name/],
    ['https://203.0.113.1/', /unknown probe kind "https:\/\/"; a target is/],
    ['udp://203.0.113.1:53', /unknown probe kind "udp:\/\/"/],
  ];
  for (const [text, want] of cases)
    it(JSON.stringify(text), () => {
      const got = parseTarget(text);
      assert.ok('error' in got, `accepted: ${JSON.stringify(got)}`);
      assert.match(got.error, want);
    });
});

describe('probe targets in haip.yaml', () => {
  const config = (targets: string) =>
    `probe: { targets: ${targets} }\nlinks:\n  - { name: a, interface: eth1 }\nstate_dir: /tmp/x\n`;

  it('mixes kinds freely', () => {
    const c = parseConfigText(config('[203.0.113.1, "tcp://203.0.113.1:443", "http://203.0.113.2/ host=example.com", "dns://203.0.113.3/example.com"]'), 'haip.yaml');
    assert.deepEqual(c.links[0].probe.targets, ['203.0.113.1', 'tcp://203.0.113.1:443', 'http://203.0.113.2/ host=example.com', 'dns://203.0.113.3/example.com']);
  });

  it('reports each bad target at its position with its own reason', () => {
    let problems: string[] = [];
    try {
      parseConfigText(config('[203.0.113.1, "tcp://203.0.113.1", "dns://example.com/x", 7]'), 'haip.yaml');
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      problems = err.problems.map(formatProblem);
    }
    assert.deepEqual(problems, [
      'haip.yaml:1:33: probe.targets[1]: "tcp://203.0.113.1": a TCP target needs a port: tcp://203.0.113.1:PORT',
      'haip.yaml:1:54: probe.targets[2]: "dns://example.com/x": example.com is not an IP address (host names are not looked up: write the address)',
      'haip.yaml:1:77: probe.targets[3]: must be an IPv4 or IPv6 address, tcp://ADDR:PORT [open], http://ADDR[:PORT]/PATH [host=NAME] [status=CODES] [body=TEXT] or dns://ADDR[:PORT]/NAME [answer=ADDR]',
    ]);
  });
});

describe('probe wire: HTTP', () => {
  it('sends a closing HTTP/1.0 GET with the Host header', () => {
    assert.equal(httpRequest('/ok?x=1', 'www.example.com').toString(), 'GET /ok?x=1 HTTP/1.0\r\nHost: www.example.com\r\nUser-Agent: haip-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n');
  });
  const cases: [string, unknown][] = [
    ['HTTP/1.1 200 OK\r\n', { alive: true }],
    ['HTTP/1.0 204 No Content\r\n', { alive: true }],
    ['HTTP/1.1 302 Found\r\nLocation: /x', { alive: true }],
    ['HTTP/2 301\n', { alive: true }],
    ['HTTP/1.1 404 Not Found\r\n', { alive: false, detail: 'HTTP 404' }],
    ['HTTP/1.1 503 Service Unavailable\r\n', { alive: false, detail: 'HTTP 503' }],
    ['HTTP/1.1 199 Early\r\n', { alive: false, detail: 'HTTP 199' }],
    ['SSH-2.0-OpenSSH_9.2\r\n', { alive: false, detail: 'not an HTTP answer: "SSH-2.0-OpenSSH_9.2"' }],
    ['', { alive: false, detail: 'closed without an answer' }],
  ];
  for (const [answer, want] of cases) it(JSON.stringify(answer), () => assert.deepEqual(judgeHttp(Buffer.from(answer)), want));
});

describe('probe wire: DNS', () => {
  it('asks for the A records of the name, recursion desired', () => {
    assert.equal(dnsQuery('ab.c', 0x1234).toString('hex'), '123401000001000000000000' + '026162' + '0163' + '00' + '00010001');
    assert.equal(dnsQuery('ab.c.', 0x1234).toString('hex'), dnsQuery('ab.c', 0x1234).toString('hex'));
  });
  const reply = (id: number, flags: number, answers: number) => {
    const b = Buffer.alloc(12);
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(1, 4);
    b.writeUInt16BE(answers, 6);
    return b;
  };
  const cases: [string, Buffer, unknown][] = [
    ['an answer with records', reply(7, 0x8180, 1), { alive: true }],
    ['NXDOMAIN', reply(7, 0x8183, 0), { alive: false, detail: 'DNS NXDOMAIN' }],
    ['SERVFAIL', reply(7, 0x8182, 0), { alive: false, detail: 'DNS SERVFAIL' }],
    ['REFUSED', reply(7, 0x8185, 0), { alive: false, detail: 'DNS REFUSED' }],
    ['an unknown RCODE', reply(7, 0x818b, 0), { alive: false, detail: 'DNS RCODE 11' }],
    ['NOERROR without records', reply(7, 0x8180, 0), { alive: false, detail: 'DNS answer without records' }],
    ['another query\'s id', reply(8, 0x8180, 1), { alive: false, detail: 'a reply to some other query' }],
    ['a query, not a reply', reply(7, 0x0100, 1), { alive: false, detail: 'a reply to some other query' }],
    ['too short', Buffer.alloc(5), { alive: false, detail: 'a 5-byte reply is not DNS' }],
  ];
  for (const [name, b, want] of cases) it(name, () => assert.deepEqual(judgeDns(b, 7), want));
});

describe('probers by kind', () => {
  it('KindProber sends bare addresses to the ping prober and URLs to the socket prober, with the hints', async () => {
    const seen: string[] = [];
    const fake = (name: string): Prober => ({ probe: async (t, s, ms, h) => (seen.push(`${name} ${t} ${s} ${ms} ${h?.device}`), { alive: true, rttMs: 1 }) });
    const p = new KindProber(fake('icmp'), fake('sockets'));
    for (const t of ['203.0.113.1', 'tcp://203.0.113.1:443', 'dns://203.0.113.2/example.com']) await p.probe(t, '198.18.1.2', 500, { intervalMs: 1000, device: 'eth1' });
    assert.deepEqual(seen, [
      'icmp 203.0.113.1 198.18.1.2 500 eth1',
      'sockets tcp://203.0.113.1:443 198.18.1.2 500 eth1',
      'sockets dns://203.0.113.2/example.com 198.18.1.2 500 eth1',
    ]);
  });

  it('SocketProber without its helper fails each probe with the reason, never as health', async () => {
    const p = new SocketProber('/nonexistent/perl');
    const r = await p.probe('tcp://203.0.113.1:443', '198.18.1.2', 500, { intervalMs: 1000, device: 'eth1' });
    assert.equal(r.alive, false);
    assert.match(r.error ?? '', /probe helper \(\/nonexistent\/perl\) could not start: spawn \/nonexistent\/perl ENOENT/);
    // Tried again at most once a second: the next probe says the same at once.
    const again = await p.probe('tcp://203.0.113.1:443', '198.18.1.2', 500);
    assert.match(again.error ?? '', /could not start/);
    p.close();
  });
});

describe('probe targets: the address inside a URL is checked as a bare one is', () => {
  it('tcp://127.0.0.1:80 is refused as 127.0.0.1 would be', () => {
    try {
      parseConfigText('probe: { targets: ["tcp://127.0.0.1:80"] }\nlinks:\n  - { name: a, interface: eth1 }\n', 'haip.yaml');
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map(formatProblem), ['haip.yaml:1:20: probe.targets[0]: 127.0.0.1 is a loopback address (127.0.0.0/8): it cannot be a probe target']);
    }
  });
});
