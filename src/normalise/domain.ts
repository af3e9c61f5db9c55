/**
 * Domain names in the one form Cairn stores: lower case, A-labels (punycode) for
 * internationalised names, no trailing dot, checked against the LDH rule of RFC 1123 that
 * the STIX validator applies to `domain-name` values.
 */
import { domainToASCII } from 'node:url';
import { normaliseIp } from './ip.ts';
import { refang } from './refang.ts';
import { type Normalised, accept, quote, reject, tooLong } from './result.ts';

/** Lower-case ASCII letters, digits, hyphens and dots: no IDNA mapping needed. */
const PLAIN_ASCII = /^[a-z0-9.-]+$/;

/** One LDH label: letters, digits and inner hyphens, 1 to 63 characters. */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Characters that IDNA would silently drop or decode, but that never belong in a name. */
const FORBIDDEN = /[\s%/\\@:?#[\]]/;

const ALL_DIGITS = /^[0-9]+$/;

/** A name already in canonical form: LDH labels, at least two, the last starting with a letter. */
const CANONICAL_DOMAIN =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Normalises a domain name: refangs it, lowercases it, drops one trailing dot, converts
 * U-labels to A-labels with the WHATWG domain-to-ASCII algorithm (`url.domainToASCII`),
 * and checks each label. Rejects single-label names, names whose last label is numeric
 * (those are malformed IPv4 addresses), underscores, and names longer than 253 octets.
 */
export function normaliseDomain(input: string): Normalised<string> {
  // Names from patterns and feeds are mostly canonical already, and one regular expression
  // checks that several times faster than the steps below. A-labels still need IDNA checks.
  if (input.length <= 253 && CANONICAL_DOMAIN.test(input) && !input.includes('xn--')) {
    return accept(input);
  }
  const long = tooLong(input, 'domain name');
  if (long) return long;
  let name = refang(input.trim()).toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) return reject('the domain name is empty');

  if (!PLAIN_ASCII.test(name) || name.includes('xn--')) {
    if (FORBIDDEN.test(name)) {
      return reject(`${quote(input)} is not a domain name: it contains spaces or URL characters`);
    }
    const ascii = domainToASCII(name);
    if (ascii === '') {
      return reject(`${quote(input)} is not a valid internationalised domain name (IDNA)`);
    }
    name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  }
  return checkLabels(input, name);
}

function checkLabels(input: string, name: string): Normalised<string> {
  if (name.length > 253) {
    return reject(`${quote(input)} is ${name.length} octets long; a domain name has at most 253`);
  }
  const labels = name.split('.');
  if (labels.length < 2) {
    return reject(`${quote(input)} has a single label; expected a name such as example.com`);
  }
  for (const label of labels) {
    if (label.length === 0) return reject(`${quote(input)} has an empty label (two dots in a row)`);
    if (LDH_LABEL.test(label)) continue;
    if (label.length > 63) {
      return reject(
        `${quote(input)} has a label of ${label.length} characters; at most 63 are allowed`,
      );
    }
    return reject(
      `${quote(input)} has the label ${quote(label)}: labels hold letters, digits and hyphens, and do not start or end with a hyphen`,
    );
  }
  if (ALL_DIGITS.test(labels[labels.length - 1]!)) {
    // Lists and feeds put addresses in domain fields, so name an address as one.
    if (normaliseIp(name).ok)
      return reject(`${quote(input)} is an IPv4 address, not a domain name`);
    return reject(
      `${quote(input)} ends in a numeric label: it is neither a domain name nor an IPv4 address`,
    );
  }
  return accept(name);
}
