/**
 * Numeric forms of the IP addresses and blocks that src/normalise writes, for the address
 * structures of the matchers. Inputs here are already normalised (`a.b.c.d`, RFC 5952 IPv6,
 * `address/prefix` with the host bits cleared), so parsing only converts and never guesses.
 */
import { parseCidr } from '../pattern/cidr.ts';

export interface Ipv4Block {
  /** The network address as a signed 32-bit integer (see maskIpv4). */
  address: number;
  prefixLength: number;
}

export interface Ipv6Block {
  address: bigint;
  prefixLength: number;
}

/**
 * Parses a normalised dotted-quad IPv4 address, the text from `start` to `end`, into an
 * unsigned 32-bit integer, or returns -1. Hand-written because the bulk look-up parses one
 * address per log line and a regular expression or a library parser would be most of its
 * cost.
 */
export function parseIpv4(text: string, end = text.length, start = 0): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (code >= 48 && code <= 57) {
      part = part * 10 + (code - 48);
      digits++;
      if (part > 255 || digits > 3) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/**
 * Parses `a.b.c.d` or `a.b.c.d/n` into a signed network address, as maskIpv4 returns it;
 * returns undefined for anything else.
 */
export function parseIpv4Block(text: string): Ipv4Block | undefined {
  const slash = text.indexOf('/');
  const address = parseIpv4(text, slash < 0 ? text.length : slash);
  if (address < 0) return undefined;
  if (slash < 0) return { address: maskIpv4(address, 32), prefixLength: 32 };
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,2}$/.test(prefixText) || Number(prefixText) > 32) return undefined;
  const prefixLength = Number(prefixText);
  return { address: maskIpv4(address, prefixLength), prefixLength };
}

/**
 * Clears the host bits of an IPv4 address. The result is a signed 32-bit integer, which V8
 * keeps unboxed; an unsigned one above 2^31 would be a heap number allocated on every
 * look-up. Every address key of the matchers goes through here, so they compare alike.
 */
export function maskIpv4(address: number, prefixLength: number): number {
  if (prefixLength === 0) return 0;
  return address & (0xffffffff << (32 - prefixLength));
}

/** Parses an IPv6 address or block; returns undefined for anything else. */
export function parseIpv6Block(text: string): Ipv6Block | undefined {
  const block = parseCidr(text);
  if (!block || block.family !== 6) return undefined;
  return { address: maskIpv6(block.address, block.prefixLength), prefixLength: block.prefixLength };
}

export function maskIpv6(address: bigint, prefixLength: number): bigint {
  const hostBits = BigInt(128 - prefixLength);
  return (address >> hostBits) << hostBits;
}

/** Groups of the IPv6 address being parsed; parsing never re-enters, so one array serves. */
const GROUPS = new Int32Array(8);

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 32;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** Parses a dotted quad without leading zeros in its parts, as an IPv6 address may end with. */
function parseStrictIpv4(text: string, start: number, end: number): number {
  for (let i = start; i < end - 1; i++) {
    const leading = i === start || text.charCodeAt(i - 1) === 46;
    if (leading && text.charCodeAt(i) === 48 && text.charCodeAt(i + 1) !== 46) return -1;
  }
  return parseIpv4(text, end, start);
}

/**
 * Parses an IPv6 address, the text from `start` to `end` without a prefix length or zone,
 * into four big-endian 32-bit words in `out`. Returns false for anything else.
 *
 * It accepts the addresses that parseCidr accepts through node:net's isIPv6, which a test
 * checks on random text: one `::` for one or more zero groups, and a dotted-quad tail.
 * Written by hand so that the bulk look-up parses an address without slicing strings or
 * making BigInts.
 */
export function parseIpv6Words(text: string, start: number, end: number, out: Int32Array): boolean {
  let count = 0;
  let gap = -1;
  let i = start;
  if (end - start >= 2 && text.charCodeAt(i) === 58) {
    if (text.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    let value = 0;
    let j = i;
    while (j < end && j - i < 5) {
      const digit = hexDigit(text.charCodeAt(j));
      if (digit < 0) break;
      value = value * 16 + digit;
      j++;
    }
    if (j < end && text.charCodeAt(j) === 46) {
      // A dotted-quad tail stands for the last two groups.
      if (count > 6) return false;
      const address = parseStrictIpv4(text, i, end);
      if (address < 0) return false;
      GROUPS[count++] = address >>> 16;
      GROUPS[count++] = address & 0xffff;
      break;
    }
    if (j === i || j - i > 4 || count === 8) return false;
    GROUPS[count++] = value;
    i = j;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  for (let group = 0; group < 4; group++) {
    out[group] = (groupAt(2 * group, gap, zeros) << 16) | groupAt(2 * group + 1, gap, zeros);
  }
  return true;
}

/** Returns group `position` of the address, given where `::` was and how many zeros it made. */
function groupAt(position: number, gap: number, zeros: number): number {
  if (gap < 0 || position < gap) return GROUPS[position]!;
  if (position < gap + zeros) return 0;
  return GROUPS[position - zeros]!;
}

/** Writes `words` (an IPv6 address as four 32-bit words) with the host bits cleared to `out`. */
export function maskIpv6Words(words: Int32Array, prefixLength: number, out: Int32Array): void {
  for (let i = 0; i < 4; i++) {
    const bits = prefixLength - 32 * i;
    if (bits >= 32) out[i] = words[i]!;
    else if (bits <= 0) out[i] = 0;
    else out[i] = words[i]! & (-1 << (32 - bits));
  }
}

/** Writes a 128-bit address to four big-endian 32-bit words. */
export function ipv6Words(address: bigint, out: Int32Array): Int32Array {
  for (let i = 0; i < 4; i++) out[i] = Number(BigInt.asIntN(32, address >> BigInt(96 - 32 * i)));
  return out;
}

/** Reads four big-endian 32-bit words as a 128-bit address. */
export function ipv6FromWords(words: Int32Array): bigint {
  let address = 0n;
  for (let i = 0; i < 4; i++) address = (address << 32n) | BigInt(words[i]! >>> 0);
  return address;
}

/** Formats a 32-bit integer, signed or not, as a dotted quad. */
export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/** Formats a 128-bit integer as an IPv6 address in the RFC 5952 text form. */
export function formatIpv6(address: bigint): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((address >> shift) & 0xffffn).toString(16));
  }
  // The longest run of two or more zero groups becomes `::`; the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  const head = groups.slice(0, bestStart).join(':');
  const tail = groups.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}
