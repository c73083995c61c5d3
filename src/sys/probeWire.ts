// The bytes of the HTTP and DNS probes, and how their answers are judged. Pure, so every case is a unit
// test; the socket work is the helper's (socketProber.ts).

/** The GET a `http://` target sends: HTTP/1.0 and `Connection: close`, so the server ends the exchange. */
export function httpRequest(path: string, host: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: haip-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n`, 'latin1');
}

/**
 * Whether an HTTP answer is the one expected: its status among `status` (default 2xx or 3xx) and, with
 * `body`, that text within the first 4 KiB. A captive portal's redirect (302) or login page fails both.
 */
export function judgeHttp(answer: Buffer, expect: { status?: [number, number][]; body?: string } = {}): { alive: true } | { alive: false; detail: string } {
  const text = answer.toString('latin1');
  const line = text.split(/\r?\n/)[0];
  const m = /^HTTP\/\d(?:\.\d)? ([0-9]{3})\b/.exec(line);
  if (!m) return { alive: false, detail: answer.length ? `not an HTTP answer: ${JSON.stringify(line.slice(0, 40))}` : 'closed without an answer' };
  const code = Number(m[1]);
  const ranges = expect.status ?? [[200, 399]];
  if (!ranges.some(([lo, hi]) => code >= lo && code <= hi)) return { alive: false, detail: `HTTP ${code}${expect.status ? `, expected ${expect.status.map(([lo, hi]) => (lo === hi ? lo : `${lo}-${hi}`)).join(',')}` : ''}` };
  if (expect.body !== undefined) {
    const at = text.search(/\r?\n\r?\n/);
    const body = at < 0 ? '' : text.slice(at).replace(/^\r?\n\r?\n/, '');
    if (!body.includes(expect.body)) return { alive: false, detail: `HTTP ${code} without "${expect.body}" in its first ${answer.length} bytes` };
  }
  return { alive: true };
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
export function judgeDns(reply: Buffer, id: number, answer?: string): { alive: true } | { alive: false; detail: string } {
  if (reply.length < 12) return { alive: false, detail: `a ${reply.length}-byte reply is not DNS` };
  if (reply.readUInt16BE(0) !== id || !(reply[2] & 0x80)) return { alive: false, detail: 'a reply to some other query' };
  const rcode = reply[3] & 0x0f;
  if (rcode !== 0) return { alive: false, detail: `DNS ${RCODES[rcode] ?? `RCODE ${rcode}`}` };
  if (reply.readUInt16BE(6) === 0) return { alive: false, detail: 'DNS answer without records' };
  if (answer === undefined) return { alive: true };
  const got = aRecords(reply);
  if (got === undefined) return { alive: false, detail: 'DNS answer that does not parse' };
  return got.includes(answer) ? { alive: true } : { alive: false, detail: `DNS answered ${got.length ? got.join(', ') : 'no A record'}, expected ${answer}` };
}

/** Skips a (possibly compressed) name; the offset after it, or undefined past the end. */
function skipName(b: Buffer, at: number): number | undefined {
  for (let hops = 0; hops < 128 && at < b.length; hops++) {
    const len = b[at];
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2 <= b.length ? at + 2 : undefined;
    at += 1 + len;
  }
  return undefined;
}

/** The A records of an answer section (bounds-checked: the bytes come from the network). */
export function aRecords(b: Buffer): string[] | undefined {
  let at: number | undefined = 12;
  for (let q = b.readUInt16BE(4); q > 0; q--) {
    at = skipName(b, at!);
    if (at === undefined || at + 4 > b.length) return undefined;
    at += 4;
  }
  const out: string[] = [];
  for (let n = b.readUInt16BE(6); n > 0; n--) {
    at = skipName(b, at!);
    if (at === undefined || at + 10 > b.length) return undefined;
    const type = b.readUInt16BE(at);
    const cls = b.readUInt16BE(at + 2);
    const len = b.readUInt16BE(at + 8);
    at += 10;
    if (at + len > b.length) return undefined;
    if (type === 1 && cls === 1 && len === 4) out.push([...b.subarray(at, at + 4)].join('.'));
    at += len;
  }
  return out;
}
