/**
 * IP addresses and CIDR blocks in the one form Cairn stores: IPv4 as four decimal parts
 * without leading zeros, IPv6 in the RFC 5952 text form (lower case, longest zero run
 * compressed), blocks as network address and prefix length with the host bits cleared.
 * Parsing uses ipaddr.js 2.5 (pinned).
 */
import ipaddr from 'ipaddr.js';
import { refang } from './refang.ts';
import { type Normalised, accept, quote, reject, tooLong } from './result.ts';

export interface IpValue {
  version: 4 | 6;
  /** The address, or `address/prefix` for a block. */
  value: string;
  /** The prefix length of a block; absent for a single address. */
  prefixLength?: number;
}

const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;

/** An IPv4 address already in canonical form: four parts from 0 to 255, no leading zeros. */
const CANONICAL_IPV4 =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;
const DOTTED_DIGITS = /^[0-9]+(?:\.[0-9]+){3}$/;

/**
 * Normalises an IPv4 or IPv6 address or CIDR block. Accepts `[v6]` in brackets; refangs
 * `1.2.3[.]4`. Rejects:
 * - IPv4 parts with leading zeros (`010.1.1.1`), because tools disagree on whether they are
 *   octal (inet_aton: 8.1.1.1) or decimal (10.1.1.1); and hex or short forms (`0x7f.1`);
 * - IPv6 zone ids (`fe80::1%eth0`), which name an interface of one host and mean nothing
 *   in shared intelligence.
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) becomes the IPv4 address, so the two
 * spellings of one address are one observable; so does a mapped block of prefix 96 or more.
 * A block of one address (`/32`, `/128`) is
 * that address, and host bits are cleared: `192.0.2.77/24` becomes `192.0.2.0/24`.
 */
export function normaliseIp(input: string): Normalised<IpValue> {
  // Most feed lines are plain IPv4 addresses, which need no parsing to be canonical.
  if (CANONICAL_IPV4.test(input)) return accept({ version: 4, value: input });
  const long = tooLong(input, 'IP address');
  if (long) return long;
  let text = refang(input.trim());
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);

  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const address = parseAddress(input, addressText);
  if (!address.ok) return address;
  if (slash === -1) return accept(single(address.value));

  const prefixText = text.slice(slash + 1);
  const max = address.value.kind() === 'ipv4' ? 32 : 128;
  if (!PREFIX.test(prefixText) || Number(prefixText) > max) {
    return reject(
      `${quote(input)} has the prefix length ${quote(prefixText)}; expected 0 to ${max}`,
    );
  }
  return accept(block(address.value, Number(prefixText)));
}

function parseAddress(input: string, text: string): Normalised<ipaddr.IPv4 | ipaddr.IPv6> {
  if (text.includes(':')) {
    if (text.includes('%')) {
      return reject(
        `${quote(input)} has a zone id, which is local to one host; remove the %... part`,
      );
    }
    const embedded = /[.:]([0-9.]+)$/.exec(text)?.[1];
    if (!ipaddr.IPv6.isValid(text) || (embedded?.includes('.') && !isStrictIpv4(embedded))) {
      return reject(`${quote(input)} is not a valid IPv6 address`);
    }
    return accept(ipaddr.IPv6.parse(text));
  }
  if (isStrictIpv4(text)) return accept(ipaddr.IPv4.parse(text));
  if (DOTTED_DIGITS.test(text) && text.split('.').every((part) => Number(part) <= 255)) {
    return reject(
      `${quote(input)} has a part with a leading zero, which some tools read as octal; write it without leading zeros`,
    );
  }
  return reject(`${quote(input)} is not an IPv4 address of four decimal parts from 0 to 255`);
}

/**
 * Checks for four decimal parts from 0 to 255 without leading zeros, the strings that
 * ipaddr.IPv4.isValidFourPartDecimal accepts. In ipaddr.js 2.5 that call throws and catches
 * an exception for every other string, and domain names are checked for addresses here.
 */
function isStrictIpv4(text: string): boolean {
  return CANONICAL_IPV4.test(text);
}

function single(address: ipaddr.IPv4 | ipaddr.IPv6): IpValue {
  if (address.kind() === 'ipv4') return { version: 4, value: address.toString() };
  const v6 = address as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return { version: 4, value: v6.toIPv4Address().toString() };
  return { version: 6, value: v6.toRFC5952String() };
}

function block(address: ipaddr.IPv4 | ipaddr.IPv6, prefixLength: number): IpValue {
  if (address.kind() === 'ipv4') {
    if (prefixLength === 32) return single(address);
    const network = ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefixLength}`);
    return { version: 4, value: `${network.toString()}/${prefixLength}`, prefixLength };
  }
  if (prefixLength === 128) return single(address);
  const v6 = address as ipaddr.IPv6;
  if (prefixLength >= 96 && v6.isIPv4MappedAddress())
    return block(v6.toIPv4Address(), prefixLength - 96);
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefixLength}`);
  return { version: 6, value: `${network.toRFC5952String()}/${prefixLength}`, prefixLength };
}
