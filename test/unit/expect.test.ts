// Probes that know what a real answer looks like: HTTP status and body, the DNS answer, a TCP handshake.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aRecords, dnsQuery, judgeDns, judgeHttp } from '../../src/sys/probeWire';
import { explainTarget, parseTarget } from '../../src/sys/probeTarget';

/** A DNS reply to `dnsQuery(name, id)` with these A records (names compressed to the question). */
function reply(id: number, name: string, addrs: string[]): Buffer {
  const q = dnsQuery(name, id);
  const head = Buffer.from(q.subarray(0, 12));
  head[2] = 0x81;
  head[3] = 0x80;
  head.writeUInt16BE(addrs.length, 6);
  const answers = addrs.map((a) => Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(a.split('.').map(Number))]));
  return Buffer.concat([head, q.subarray(12), ...answers]);
}

describe('probe expectations', () => {
  it('parse: status codes and ranges, body, answer, open', () => {
    assert.deepEqual(parseTarget('http://203.0.113.1/generate_204 status=204'), { kind: 'http', address: '203.0.113.1', port: 80, path: '/generate_204', status: [[204, 204]] });
    assert.deepEqual(parseTarget('http://203.0.113.1/ host=example.com status=200-299,301 body=Welcome'), {
      kind: 'http', address: '203.0.113.1', port: 80, path: '/', host: 'example.com', status: [[200, 299], [301, 301]], body: 'Welcome',
    });
    assert.deepEqual(parseTarget('dns://203.0.113.53/example.com answer=198.51.100.7'), { kind: 'dns', address: '203.0.113.53', port: 53, name: 'example.com', answer: '198.51.100.7' });
    assert.deepEqual(parseTarget('tcp://[2001:db8::1]:443 open'), { kind: 'tcp', address: '2001:db8::1', port: 443, open: true });
  });

  const bad: [string, RegExp][] = [
    ['http://203.0.113.1/ status=299-200', /status=299-200 must be HTTP codes or ranges/],
    ['http://203.0.113.1/ status=99', /status=99 must be/],
    ['http://203.0.113.1/ status=204 status=200', /status given twice/],
    ['http://203.0.113.1/ answer=1.2.3.4', /only " host=...", " status=...", " body=..." may follow a http:\/\//],
    ['dns://203.0.113.53/x.org answer=example.com', /answer=example\.com must be the IPv4 address/],
    ['tcp://203.0.113.1:443 open=yes', /only " open" may follow a tcp:\/\//],
    ['tcp://203.0.113.1:443 status=200', /only " open" may follow/],
  ];
  for (const [text, why] of bad) it(`refuses ${JSON.stringify(text)}`, () => assert.match((parseTarget(text) as { error: string }).error, why));

  const http = (s: string) => Buffer.from(s, 'latin1');
  it('http: a redirect counts by default, not when status is set; the body must hold the text', () => {
    const portal = http('HTTP/1.1 302 Found\r\nLocation: http://portal/login\r\n\r\n');
    assert.deepEqual(judgeHttp(portal), { alive: true });
    assert.deepEqual(judgeHttp(portal, { status: [[204, 204]] }), { alive: false, detail: 'HTTP 302, expected 204' });
    assert.deepEqual(judgeHttp(http('HTTP/1.1 204 No Content\r\n\r\n'), { status: [[204, 204]] }), { alive: true });
    const page = http('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nSuccess\n');
    assert.deepEqual(judgeHttp(page, { body: 'Success' }), { alive: true });
    assert.match((judgeHttp(http('HTTP/1.0 200 OK\r\n\r\nPlease log in'), { body: 'Success' }) as { detail: string }).detail, /without "Success"/);
    // The text in a header is not the body.
    assert.equal(judgeHttp(http('HTTP/1.0 200 OK\r\nX-Success: Success\r\n\r\nlogin'), { body: 'Success' }).alive, false);
  });

  it('dns: answer= needs one A record to be it; a lying resolver fails', () => {
    assert.deepEqual(aRecords(reply(7, 'example.com', ['198.51.100.7', '198.51.100.8'])), ['198.51.100.7', '198.51.100.8']);
    assert.deepEqual(judgeDns(reply(7, 'example.com', ['198.51.100.8', '198.51.100.7']), 7, '198.51.100.7'), { alive: true });
    assert.deepEqual(judgeDns(reply(7, 'example.com', ['203.0.113.66']), 7, '198.51.100.7'), { alive: false, detail: 'DNS answered 203.0.113.66, expected 198.51.100.7' });
    assert.deepEqual(judgeDns(reply(7, 'example.com', ['203.0.113.66']), 7), { alive: true });
  });

  it('dns: a truncated or looping answer does not parse, and never throws', () => {
    const r = reply(7, 'example.com', ['198.51.100.7']);
    for (let n = 12; n < r.length; n++) assert.doesNotThrow(() => judgeDns(r.subarray(0, n), 7, '198.51.100.7'));
    assert.equal(judgeDns(r.subarray(0, r.length - 2), 7, '198.51.100.7').alive, false);
    const loop = Buffer.from(r);
    loop[loop.length - 16] = 0xc0; // the answer's name points at itself
    assert.doesNotThrow(() => judgeDns(loop, 7, '198.51.100.7'));
  });

  it('haip check explains what counts, and how to make a fake answer fail', () => {
    assert.match(explainTarget('http://203.0.113.1/'), /counts when the status is 200-399 \(a captive portal's redirect counts: set status=204/);
    assert.match(explainTarget('http://203.0.113.1/generate_204 status=204'), /counts when the status is 204$/);
    assert.match(explainTarget('dns://203.0.113.53/example.com'), /a lying resolver counts: set answer=ADDR/);
    assert.match(explainTarget('tcp://203.0.113.1:443 open'), /only a completed handshake counts/);
    assert.match(explainTarget('tcp://203.0.113.1:443'), /a handshake or a reset counts/);
  });
});
