// The bytes of the HTTP and DNS probes, and how their answers are judged. Pure, so every case is a unit
// test; the socket work is the helper's (socketProber.ts).

/** The GET a `http://` target sends: HTTP/1.0 and `Connection: close`, so the server ends the exchange. */
export function httpRequest(path: string, host: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: haip-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n`, 'latin1');
}

/** Whether the first bytes of an HTTP answer say 2xx or 3xx; otherwise what they said instead. */
export function judgeHttp(answer: Buffer): { alive: true } | { alive: false; detail: string } {
  const line = answer.toString('latin1').split(/\r?\n/)[0];
  const m = /^HTTP\/\d(?:\.\d)? ([0-9]{3})\b/.exec(line);
  if (!m) return { alive: false, detail: answer.length ? `not an HTTP answer: ${JSON.stringify(line.slice(0, 40))}` : 'closed without an answer' };
  const code = Number(m[1]);
  return code >= 200 && code < 400 ? { alive: true } : { alive: false, detail: `HTTP ${code}` };
}

/** A recursive query for the A records of `name`, as one UDP datagram. */
export function dnsQuery(name: string, id: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0, 0, 1, 0, 1])); // root, QTYPE A, QCLASS IN
  return Buffer.concat(parts);
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/**
 * An answer counts when it is the reply to our query and carries at least one record: what a user's
 * lookup needs. SERVFAIL (the resolver cannot reach its upstream) and an empty answer do not.
 */
export function judgeDns(reply: Buffer, id: number): { alive: true } | { alive: false; detail: string } {
  if (reply.length < 12) return { alive: false, detail: `a ${reply.length}-byte reply is not DNS` };
  if (reply.readUInt16BE(0) !== id || !(reply[2] & 0x80)) return { alive: false, detail: 'a reply to some other query' };
  const rcode = reply[3] & 0x0f;
  if (rcode !== 0) return { alive: false, detail: `DNS ${RCODES[rcode] ?? `RCODE ${rcode}`}` };
  if (reply.readUInt16BE(6) === 0) return { alive: false, detail: 'DNS answer without records' };
  return { alive: true };
}
