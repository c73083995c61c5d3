// The kernel's jhash (Bob Jenkins' lookup3, include/linux/jhash.h) as nft_jhash uses it, so `haip which`
// names the bucket the kernel puts a flow in. Words are read little-endian, as on x86 and arm64.

const rol = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export function jhash(key: Uint8Array, initval: number): number {
  let a = (0xdeadbeef + key.length + initval) >>> 0;
  let b = a;
  let c = a;
  const word = (i: number) => (key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24)) >>> 0;
  let k = 0;
  let length = key.length;
  while (length > 12) {
    a = (a + word(k)) >>> 0;
    b = (b + word(k + 4)) >>> 0;
    c = (c + word(k + 8)) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol(b, 4)) >>> 0; b = (b + a) >>> 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c;
  // The tail: bytes past the end count as zero, which is what the kernel's fall-through switch adds.
  const at = (i: number) => (i < length ? key[k + i] : 0);
  a = (a + (at(0) | (at(1) << 8) | (at(2) << 16) | (at(3) << 24))) >>> 0;
  b = (b + (at(4) | (at(5) << 8) | (at(6) << 16) | (at(7) << 24))) >>> 0;
  c = (c + (at(8) | (at(9) << 8) | (at(10) << 16) | (at(11) << 24))) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 24)) >>> 0;
  return c;
}

/** `jhash ... mod n seed s`: reciprocal_scale() of the hash, as nft_jhash_eval computes it. */
export function jhashMod(key: Uint8Array, n: number, seed: number): number {
  return Number((BigInt(jhash(key, seed)) * BigInt(n)) >> 32n);
}
