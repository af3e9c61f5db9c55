/**
 * File hashes in the one form Cairn stores: the algorithm under its STIX 2.1 name
 * (`hash-algorithm-ov`, section 10.7) and the digest in lower-case hex.
 */
import { type Normalised, accept, quote, reject, tooLong } from './result.ts';

export type HashAlgorithm =
  'MD5' | 'SHA-1' | 'SHA-256' | 'SHA-512' | 'SHA3-256' | 'SHA3-512' | 'SSDEEP' | 'TLSH';

export interface HashValue {
  algorithm: HashAlgorithm;
  value: string;
}

/** The algorithm a bare hex digest of each length is taken to be. */
const BY_HEX_LENGTH: ReadonlyMap<number, HashAlgorithm> = new Map([
  [32, 'MD5'],
  [40, 'SHA-1'],
  [64, 'SHA-256'],
  [128, 'SHA-512'],
]);

const HEX_LENGTH: Readonly<Record<HashAlgorithm, number | undefined>> = {
  MD5: 32,
  'SHA-1': 40,
  'SHA-256': 64,
  'SHA-512': 128,
  'SHA3-256': 64,
  'SHA3-512': 128,
  SSDEEP: undefined,
  TLSH: undefined,
};

/** Spellings of algorithm names in MISP, CSV headers and STIX, reduced to letters and digits. */
const ALGORITHM_NAMES: ReadonlyMap<string, HashAlgorithm> = new Map([
  ['md5', 'MD5'],
  ['sha1', 'SHA-1'],
  ['sha256', 'SHA-256'],
  ['sha512', 'SHA-512'],
  ['sha3256', 'SHA3-256'],
  ['sha3512', 'SHA3-512'],
  ['ssdeep', 'SSDEEP'],
  ['tlsh', 'TLSH'],
]);

const HEX = /^[0-9a-f]+$/;
const SSDEEP = /^[0-9]{1,10}:[A-Za-z0-9/+]{1,64}:[A-Za-z0-9/+]{0,64}$/;
const TLSH = /^(?:t1)?[0-9a-f]{70}$/;

/**
 * Maps a hash algorithm name to its STIX 2.1 name. Correlation, watch lists and importers
 * read every algorithm name (hashes keys, pattern paths, watch entries, CSV and MISP types)
 * with this one rule. Case and any character other than a letter or digit are ignored, so
 * `SHA-256`, `sha256` (MISP), `SHA256` (CybOX), `sha_256` and `Sha-256` all name SHA-256.
 * Returns undefined for other algorithms (such as SHA-384) and custom names.
 *
 * NOTE: STIX validation (src/stix/properties.ts), deterministic ids (src/stix/ids.ts) and
 * pattern evaluation still compare hashes keys exactly as written.
 */
export function hashAlgorithm(name: string): HashAlgorithm | undefined {
  return ALGORITHM_NAMES.get(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/**
 * Normalises a hash digest. Without `algorithm`, a hex digest of 32, 40, 64 or 128 digits
 * is taken as MD5, SHA-1, SHA-256 or SHA-512, the algorithms feeds use for those lengths.
 * With `algorithm` (any usual spelling), the digest must have that algorithm's format.
 * Hex digests are lowercased; SSDEEP digests are base64 and keep their case.
 */
export function normaliseHash(input: string, algorithm?: string): Normalised<HashValue> {
  // A lower-case hex digest under its STIX algorithm name is already canonical.
  if (algorithm !== undefined && Object.hasOwn(HEX_LENGTH, algorithm)) {
    const named = algorithm as HashAlgorithm;
    if (input.length === HEX_LENGTH[named] && HEX.test(input)) {
      return accept({ algorithm: named, value: input });
    }
  }
  const long = tooLong(input, 'hash');
  if (long) return long;
  const text = input.trim();
  if (algorithm === undefined) {
    const lower = text.toLowerCase();
    const guessed = BY_HEX_LENGTH.get(lower.length);
    if (guessed && HEX.test(lower)) return accept({ algorithm: guessed, value: lower });
    return reject(
      `${quote(input)} is not a hash: expected 32, 40, 64 or 128 hex digits (MD5, SHA-1, SHA-256, SHA-512)`,
    );
  }

  const named = hashAlgorithm(algorithm);
  if (!named) {
    return reject(
      `${quote(algorithm)} is not a supported hash algorithm; expected one of ${Object.keys(HEX_LENGTH).join(', ')}`,
    );
  }
  if (named === 'SSDEEP') {
    if (SSDEEP.test(text)) return accept({ algorithm: named, value: text });
    return reject(`${quote(input)} is not an SSDEEP digest (blocksize:hash:hash)`);
  }
  const lower = text.toLowerCase();
  if (named === 'TLSH') {
    if (TLSH.test(lower)) {
      const value = lower.startsWith('t1') ? `T1${lower.slice(2)}` : lower;
      return accept({ algorithm: named, value });
    }
    return reject(`${quote(input)} is not a TLSH digest (70 hex digits, optionally after "T1")`);
  }
  if (lower.length === HEX_LENGTH[named] && HEX.test(lower)) {
    return accept({ algorithm: named, value: lower });
  }
  return reject(
    `${quote(input)} is not a ${named} digest: expected ${HEX_LENGTH[named]} hex digits`,
  );
}
