// What one entry of `probe.targets` asks for: a bare address is an ICMP echo, `tcp://`, `http://` and
// `dns://` are a TCP connect, an HTTP GET and a DNS query. Parsed once here, for the schema's messages
// and for the probers; addresses only (no DNS lookups in the probe path), IPv6 in brackets.
import { isIPv4, isIPv6 } from 'node:net';

export type ProbeTarget =
  | { kind: 'icmp'; address: string }
  /** open: only a completed handshake counts (a reset may come from a box on the way, not the target). */
  | { kind: 'tcp'; address: string; port: number; open?: boolean }
  /** status: the codes that count (inclusive ranges; default 200-399); body: text the first 4 KiB must hold. */
  | { kind: 'http'; address: string; port: number; path: string; host?: string; status?: [number, number][]; body?: string }
  /** answer: an address one of the A records must be (a captive portal's resolver answers its own). */
  | { kind: 'dns'; address: string; port: number; name: string; answer?: string };

export type ProbeKind = ProbeTarget['kind'];

/** What a target must look like, for error messages and docs. */
export const TARGET_FORMS =
  'an IPv4 or IPv6 address, tcp://ADDR:PORT [open], http://ADDR[:PORT]/PATH [host=NAME] [status=CODES] [body=TEXT] or dns://ADDR[:PORT]/NAME [answer=ADDR]';

/** The words that may follow a URL, one space apart, per kind. */
const OPTIONS: Record<string, string[]> = { tcp: ['open'], http: ['host', 'status', 'body'], dns: ['answer'] };

const DEFAULT_PORT = { http: 80, dns: 53 } as const;
/** RFC 1035 names as resolvers take them: labels of letters, digits, '-' and '_', 253 characters in all. */
const DNS_NAME = /^(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/;
/** What an HTTP path may hold unescaped (RFC 3986 pchar, '/', '?'): nothing that could break the request line. */
const HTTP_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;

/** Parses one target; `{error}` says what is wrong with it in words a config author can act on. */
export function parseTarget(text: string): ProbeTarget | { error: string } {
  if (typeof text !== 'string') return { error: `must be ${TARGET_FORMS}` };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (!scheme) {
    const addr = address(text);
    return 'error' in addr ? { error: `${addr.error}; a target is ${TARGET_FORMS}` } : { kind: 'icmp', address: addr.address };
  }
  const kind = scheme[1].toLowerCase();
  const [rest, ...words] = scheme[2].split(' ');
  const opts = new Map<string, string>();
  for (const w of words) {
    const [k, v] = w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, ''];
    const allowed = OPTIONS[kind];
    if (!allowed) break; // the unknown kind is reported below
    if (!allowed.includes(k) || (k === 'open') !== (v === '' && !w.includes('='))) return { error: `"${text}": only ${allowed.map((a) => (a === 'open' ? '" open"' : `" ${a}=..."`)).join(', ')} may follow a ${kind}:// URL, one space apart` };
    if (opts.has(k)) return { error: `"${text}": ${k} given twice` };
    opts.set(k, v);
  }
  if (!rest.startsWith('[') && (rest.split(/[/ ]/)[0].match(/:/g)?.length ?? 0) > 1)
    return { error: `"${text}": an IPv6 address goes in brackets: ${kind}://[ADDR]:PORT` };
  if (kind === 'tcp') {
    const m = /^(\[[^\]]*\]|[^:/]*)(?::([^/]*))?$/.exec(rest);
    if (!m) return { error: `"${text}": a TCP target is tcp://ADDR:PORT, nothing after the port` };
    const addr = address(m[1], true);
    if ('error' in addr) return { error: `"${text}": ${addr.error}` };
    if (m[2] === undefined) return { error: `"${text}": a TCP target needs a port: tcp://${m[1]}:PORT` };
    const port = portNumber(m[2]);
    if (port === undefined) return { error: `"${text}": port "${m[2]}" must be a number from 1 to 65535` };
    return opts.has('open') ? { kind: 'tcp', address: addr.address, port, open: true } : { kind: 'tcp', address: addr.address, port };
  }
  if (kind === 'http' || kind === 'dns') {
    const url = rest;
    const host = opts.get('host');
    if (host !== undefined && !DNS_NAME.test(host) && !isIPv4(host)) return { error: `"${text}": host=${host} must be a host name such as www.example.com` };
    let status: [number, number][] | undefined;
    if (opts.has('status')) {
      status = statusRanges(opts.get('status')!);
      if (!status) return { error: `"${text}": status=${opts.get('status')} must be HTTP codes or ranges from 100 to 599, comma-separated: status=204 or status=200-299,301` };
    }
    const body = opts.get('body');
    if (body !== undefined && (body === '' || /[\x00-\x1f\x7f]/.test(body) || body.length > 200)) return { error: `"${text}": body=TEXT needs 1 to 200 printable characters without spaces` };
    const answer = opts.get('answer');
    if (answer !== undefined && !isIPv4(answer)) return { error: `"${text}": answer=${answer} must be the IPv4 address one of the A records holds` };
    const m = /^(\[[^\]]*\]|[^:/]*)(?::([^/]*))?(\/.*)?$/s.exec(url);
    if (!m) return { error: `"${text}": not ${kind}://ADDR[:PORT]/...` };
    const addr = address(m[1], true);
    if ('error' in addr) return { error: `"${text}": ${addr.error}` };
    const port = m[2] === undefined ? DEFAULT_PORT[kind] : portNumber(m[2]);
    if (port === undefined) return { error: `"${text}": port "${m[2]}" must be a number from 1 to 65535` };
    const tail = m[3] ?? '';
    if (kind === 'http') {
      const path = tail || '/';
      if (!HTTP_PATH.test(path)) return { error: `"${text}": the path may hold only URL characters (letters, digits, -._~!$&'()*+,;=:@%/?), no spaces or '#'` };
      return { kind, address: addr.address, port, path, ...(host ? { host } : {}), ...(status ? { status } : {}), ...(body !== undefined ? { body } : {}) };
    }
    const name = tail.slice(1);
    if (!name) return { error: `"${text}": a DNS target names what to ask for: dns://${m[1]}/www.example.com` };
    if (!DNS_NAME.test(name)) return { error: `"${text}": "${name}" is not a DNS name (labels of letters, digits, - and _, at most 63 characters each)` };
    return answer ? { kind, address: addr.address, port, name, answer } : { kind, address: addr.address, port, name };
  }
  return { error: `"${text}": unknown probe kind "${kind}://"; a target is ${TARGET_FORMS}` };
}

/** Parses a target the schema has already accepted. */
export function targetOf(text: string): ProbeTarget {
  const t = parseTarget(text);
  if ('error' in t) throw new Error(`bad probe target: ${t.error}`);
  return t;
}

/** A bare address (ICMP, either family) or the ADDR of a URL (IPv6 in brackets). */
function address(text: string, inUrl = false): { address: string } | { error: string } {
  const bracketed = /^\[(.*)\]$/.exec(text);
  const a = bracketed ? bracketed[1] : text;
  if (isIPv6(a) && !a.includes('%')) {
    if (inUrl && bracketed) return { address: a };
    if (inUrl) return { error: `an IPv6 address goes in brackets: [${a}]` };
    return bracketed ? { error: `a bare address goes without brackets: ${a}` } : { address: a };
  }
  if (bracketed) return { error: `[${a}] is not an IPv6 address` };
  if (isIPv4(a)) return { address: a };
  if (a === '') return { error: 'the address is missing' };
  if (/^[0-9.]+$/.test(a)) return { error: `${a} is not an IPv4 address` };
  if (DNS_NAME.test(a) && /^[A-Za-z0-9]/.test(a)) return { error: `${a} is not an IP address (host names are not looked up: write the address)` };
  return { error: `${JSON.stringify(a)} is not an IP address` };
}

/** "204", "200-299,301": inclusive ranges of HTTP codes; undefined when anything is off. */
function statusRanges(text: string): [number, number][] | undefined {
  const out: [number, number][] = [];
  for (const part of text.split(',')) {
    const m = /^([1-5][0-9]{2})(?:-([1-5][0-9]{2}))?$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    out.push([lo, hi]);
  }
  return out.length ? out : undefined;
}

function portNumber(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** What a target probes and what counts as its answer, for `haip check`. */
export function explainTarget(text: string): string {
  const t = parseTarget(text);
  if ('error' in t) return `${text}: ${t.error}`;
  const ranges = (r: [number, number][]) => r.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
  switch (t.kind) {
    case 'icmp':
      return `${text}: ICMP echo; any echo reply counts (an ISP box answering for the target cannot be told apart)`;
    case 'tcp':
      return t.open
        ? `${text}: TCP connect; only a completed handshake counts`
        : `${text}: TCP connect; a handshake or a reset counts (add " open" when a box on the way may reset in the target's name)`;
    case 'http':
      return `${text}: HTTP GET ${t.path}; counts when the status is ${t.status ? ranges(t.status) : '200-399 (a captive portal\'s redirect counts: set status=204 on a generate_204-style URL)'}${t.body !== undefined ? ` and the first 4 KiB hold "${t.body}"` : ''}`;
    case 'dns':
      return `${text}: DNS query for the A records of ${t.name}; counts ${t.answer ? `only when one of them is ${t.answer}` : 'with at least one record (a lying resolver counts: set answer=ADDR)'}`;
  }
}

