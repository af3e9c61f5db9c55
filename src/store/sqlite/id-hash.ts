/**
 * Returns the lookup key of a STIX id: a 48-bit hash of its UTF-16 code units, as a
 * non-negative integer.
 *
 * Objects are found by id through an index on this integer instead of the id text. Both are
 * random, but the integer index is about a fifth of the size, so on a large collection far
 * fewer of its pages miss the cache or are rewritten by each batch of inserts. Different ids
 * may share a key, so every lookup also compares the id itself.
 *
 * The hash is written here instead of taken from node:crypto because a digest call costs
 * 1 to 2 µs, a tenth of an insert, and lookups need no cryptographic strength. It runs two
 * multiply-xor lanes (FNV-1a's prime and MurmurHash2's multiplier) and mixes them with
 * MurmurHash3's 32-bit finaliser. The value is stored, so changing this function needs a
 * migration that recomputes `object_versions.id_hash`.
 */
export function idHash(id: string): number {
  let low = 0x811c9dc5;
  let high = 0x9e3779b9;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    low = Math.imul(low ^ code, 0x01000193);
    high = Math.imul(high ^ code, 0x5bd1e995);
  }

  low = finalMix(low ^ Math.imul(high, 0x27d4eb2d));
  high = finalMix(high ^ low);
  return (high & 0xffff) * 0x1_0000_0000 + (low >>> 0);
}

/** MurmurHash3's fmix32, which spreads every input bit over the whole 32-bit result. */
function finalMix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
