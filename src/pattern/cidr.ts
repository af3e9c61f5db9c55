/**
 * IPv4 and IPv6 addresses and CIDR blocks for the ISSUBSET and ISSUPERSET operators
 * (STIX 2.1 section 9). An address without a prefix length is a block of one address.
 */

import { isIPv4, isIPv6 } from 'node:net';

export interface CidrBlock {
  family: 4 | 6;
  /** The address as an unsigned integer, with the host bits kept as written. */
  address: bigint;
  prefixLength: number;
}

/**
 * Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or an IPv6 block, or returns undefined.
 * Only dotted-quad IPv4 is accepted, not the short and octal forms that inet_aton allows.
 */
export function parseCidr(text: string): CidrBlock | undefined {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);

  let family: 4 | 6;
  let address: bigint;
  if (isIPv4(addressText)) {
    family = 4;
    address = ipv4ToBigInt(addressText);
  } else if (isIPv6(addressText) && !addressText.includes('%')) {
    family = 6;
    address = ipv6ToBigInt(addressText);
  } else {
    return undefined;
  }

  const maxLength = family === 4 ? 32 : 128;
  if (prefixText === undefined) return { family, address, prefixLength: maxLength };
  if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefixLength = Number(prefixText);
  if (prefixLength > maxLength) return undefined;
  return { family, address, prefixLength };
}

/** Checks whether every address of `inner` lies in `outer`. Blocks of different families never do. */
export function cidrContains(outer: CidrBlock, inner: CidrBlock): boolean {
  if (outer.family !== inner.family) return false;
  if (outer.prefixLength > inner.prefixLength) return false;

  const width = BigInt(outer.family === 4 ? 32 : 128);
  const hostBits = width - BigInt(outer.prefixLength);
  return outer.address >> hostBits === inner.address >> hostBits;
}

/** Returns the first and last address of a block, for range lookups in an index. */
export function cidrRange(block: CidrBlock): { first: bigint; last: bigint } {
  const width = BigInt(block.family === 4 ? 32 : 128);
  const hostBits = width - BigInt(block.prefixLength);
  const first = (block.address >> hostBits) << hostBits;
  return { first, last: first + (1n << hostBits) - 1n };
}

function ipv4ToBigInt(text: string): bigint {
  let value = 0n;
  for (const octet of text.split('.')) value = (value << 8n) | BigInt(Number(octet));
  return value;
}

/** Converts an IPv6 address already checked by isIPv6, including `::` and a dotted IPv4 tail. */
function ipv6ToBigInt(text: string): bigint {
  let groups: string[];
  const doubleColon = text.indexOf('::');
  if (doubleColon < 0) {
    groups = text.split(':');
  } else {
    const head = text.slice(0, doubleColon).split(':').filter(Boolean);
    const tail = text
      .slice(doubleColon + 2)
      .split(':')
      .filter(Boolean);
    const tailWidth = tail.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
    groups = [...head, ...Array<string>(8 - head.length - tailWidth).fill('0'), ...tail];
  }

  let value = 0n;
  for (const group of groups) {
    if (group.includes('.')) {
      value = (value << 32n) | ipv4ToBigInt(group);
    } else {
      value = (value << 16n) | BigInt(parseInt(group, 16));
    }
  }
  return value;
}
