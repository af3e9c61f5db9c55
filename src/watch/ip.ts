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
 * Parses a normalised dotted-quad IPv4 address into an unsigned 32-bit integer, or returns
 * -1. Hand-written because the bulk look-up parses one address per log line and a regular
 * expression or a library parser would be most of its cost.
 */
export function parseIpv4(text: string, end = text.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < end; i++) {
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

/** Parses `a.b.c.d` or `a.b.c.d/n`; returns undefined for anything else. */
export function parseIpv4Block(text: string): Ipv4Block | undefined {
  const slash = text.indexOf('/');
  const address = parseIpv4(text, slash < 0 ? text.length : slash);
  if (address < 0) return undefined;
  if (slash < 0) return { address, prefixLength: 32 };
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
