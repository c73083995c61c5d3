// Address arithmetic shared by the net modules: the network an address lies in, IPv4 and IPv6.

export function networkOf(address: string, prefixlen: number): string {
  const n = address.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const mask = prefixlen === 0 ? 0 : (0xffffffff << (32 - prefixlen)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${prefixlen}`;
}

/** The /n network of an IPv6 address, in the kernel's compressed spelling. */
export function networkOf6(address: string, prefixlen: number): string {
  const bits = BigInt(prefixlen);
  const mask = prefixlen === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << (128n - bits)) - 1n);
  const n = parse6(address) & mask;
  return `${format6(n)}/${prefixlen}`;
}

export function parse6(a: string): bigint {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

function format6(n: bigint): string {
  const g = [...Array(8)].map((_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}
