/**
 * Checks for the string formats STIX 2.1 gives its property values: addresses, URLs,
 * domain names, e-mail addresses, base64, hex, language tags and hash digests.
 *
 * Every check runs in time linear in the input and backtracks nowhere, because the
 * strings come from untrusted producers and may be megabytes long.
 */

import { domainToASCII } from 'node:url';

/** Character classes of RFC 3986, indexed by ASCII code. */
const UNRESERVED = 1;
const SUB_DELIM = 2;
const ALPHA = 4;
const DIGIT = 8;
const HEX = 16;

const CHAR_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  let bits = 0;
  if (/[A-Za-z]/.test(ch)) bits |= ALPHA | UNRESERVED;
  if (/[0-9]/.test(ch)) bits |= DIGIT | UNRESERVED;
  if (/[0-9A-Fa-f]/.test(ch)) bits |= HEX;
  if ('-._~'.includes(ch)) bits |= UNRESERVED;
  if ("!$&'()*+,;=".includes(ch)) bits |= SUB_DELIM;
  CHAR_CLASS[c] = bits;
}

function charClass(code: number): number {
  return code < 128 ? (CHAR_CLASS[code] ?? 0) : 0;
}

/** Checks for a decimal octet 0–255 without leading zeros, as RFC 3986 `dec-octet`. */
function isDecOctet(s: string): boolean {
  if (s.length === 0 || s.length > 3) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  if (s.length > 1 && s.charCodeAt(0) === 48) return false;
  return Number(s) <= 255;
}

function isPrefixLength(s: string, max: number): boolean {
  if (s.length === 0 || s.length > 3) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  if (s.length > 1 && s.charCodeAt(0) === 48) return false;
  return Number(s) <= max;
}

/** Checks for a dotted-quad IPv4 address without a prefix. */
export function isIpv4Address(s: string): boolean {
  if (s.length > 15) return false;
  const parts = s.split('.');
  return parts.length === 4 && parts.every(isDecOctet);
}

/** Checks for an IPv4 address with an optional CIDR prefix length (STIX 2.1 section 6.8). */
export function isIpv4Value(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash === -1) return isIpv4Address(s);
  return isIpv4Address(s.slice(0, slash)) && isPrefixLength(s.slice(slash + 1), 32);
}

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/** Checks for an IPv6 address in any RFC 4291 section 2.2 text form, without zone or prefix. */
export function isIpv6Address(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (lastColon === -1) return false;
  if (s.indexOf('.', lastColon) !== -1) {
    // An embedded IPv4 address stands for the last two 16-bit groups.
    if (!isIpv4Address(s.slice(lastColon + 1))) return false;
    body = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const gap = body.indexOf('::');
  if (gap !== body.lastIndexOf('::')) return false;
  if (gap === -1) {
    const groups = body.split(':');
    return groups.length === 8 && groups.every((g) => HEX_GROUP.test(g));
  }
  const left = body.slice(0, gap);
  const right = body.slice(gap + 2);
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === '' ? [] : right.split(':');
  if (leftGroups.length + rightGroups.length > 7) return false;
  return leftGroups.every((g) => HEX_GROUP.test(g)) && rightGroups.every((g) => HEX_GROUP.test(g));
}

/** Checks for an IPv6 address with an optional CIDR prefix length (STIX 2.1 section 6.9). */
export function isIpv6Value(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash === -1) return isIpv6Address(s);
  return isIpv6Address(s.slice(0, slash)) && isPrefixLength(s.slice(slash + 1), 128);
}

const MAC_48 = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** Checks for a colon-delimited, lowercase MAC-48 address with leading zeros (section 6.10). */
export function isMacAddress(s: string): boolean {
  return MAC_48.test(s);
}

/** Checks that `s[from, to)` has only RFC 3986 unreserved and sub-delim characters, `allowed`, and `%XX` escapes. */
function scanUriChars(s: string, from: number, to: number, allowed: string): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      // pct-encoded = "%" HEXDIG HEXDIG
      if (i + 2 >= to) return false;
      if (!(charClass(s.charCodeAt(i + 1)) & HEX) || !(charClass(s.charCodeAt(i + 2)) & HEX)) {
        return false;
      }
      i += 2;
      continue;
    }
    const bits = charClass(c);
    if (bits & (UNRESERVED | SUB_DELIM)) continue;
    if (c < 128 && allowed.includes(s[i] as string)) continue;
    return false;
  }
  return true;
}

function isUriHost(s: string): boolean {
  if (s.startsWith('[')) {
    if (!s.endsWith(']')) return false;
    const literal = s.slice(1, -1);
    if (literal.startsWith('v') || literal.startsWith('V')) {
      // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
      const dot = literal.indexOf('.');
      if (dot < 2 || dot === literal.length - 1) return false;
      for (let i = 1; i < dot; i++) if (!(charClass(literal.charCodeAt(i)) & HEX)) return false;
      for (let i = dot + 1; i < literal.length; i++) {
        const c = literal.charCodeAt(i);
        if (!(charClass(c) & (UNRESERVED | SUB_DELIM)) && c !== 58) return false;
      }
      return true;
    }
    return isIpv6Address(literal);
  }
  return scanUriChars(s, 0, s.length, '');
}

/**
 * Checks for a URI in the RFC 3986 section 3 syntax: a scheme, then an optional authority,
 * a path, a query and a fragment, made only of the ASCII characters RFC 3986 permits in
 * each part. STIX 2.1 requires RFC 3986 for URL values (section 6.15) and for external
 * reference URLs (section 2.5).
 */
export function isUri(s: string): boolean {
  const colon = s.indexOf(':');
  if (colon < 1) return false;
  if (!(charClass(s.charCodeAt(0)) & ALPHA)) return false;
  for (let i = 1; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (!(charClass(c) & (ALPHA | DIGIT)) && c !== 43 && c !== 45 && c !== 46) return false;
  }

  const hash = s.indexOf('#', colon + 1);
  const end = hash === -1 ? s.length : hash;
  if (hash !== -1 && !scanUriChars(s, hash + 1, s.length, ':@/?')) return false;
  const question = s.indexOf('?', colon + 1);
  const pathEnd = question !== -1 && question < end ? question : end;
  if (pathEnd < end && !scanUriChars(s, pathEnd + 1, end, ':@/?')) return false;

  let pathStart = colon + 1;
  if (s.startsWith('//', colon + 1)) {
    const authorityStart = colon + 3;
    let authorityEnd = pathEnd;
    const slash = s.indexOf('/', authorityStart);
    if (slash !== -1 && slash < authorityEnd) authorityEnd = slash;
    if (!isUriAuthority(s.slice(authorityStart, authorityEnd))) return false;
    pathStart = authorityEnd;
  }
  return scanUriChars(s, pathStart, pathEnd, ':@/');
}

function isUriAuthority(authority: string): boolean {
  let hostPort = authority;
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    if (!scanUriChars(authority, 0, at, ':')) return false;
    hostPort = authority.slice(at + 1);
  }
  let host = hostPort;
  const bracket = hostPort.lastIndexOf(']');
  const portColon = hostPort.lastIndexOf(':');
  if (portColon !== -1 && portColon > bracket) {
    for (let i = portColon + 1; i < hostPort.length; i++) {
      if (!(charClass(hostPort.charCodeAt(i)) & DIGIT)) return false;
    }
    host = hostPort.slice(0, portColon);
  }
  return isUriHost(host);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Checks for a domain name of labels of letters, digits and hyphens (RFC 1034 section 3.5,
 * with the leading digit RFC 1123 allows). Labels have at most 63 octets and the name 253.
 * Internationalised labels (RFC 5890) are checked in their ASCII form, and one trailing
 * dot is allowed.
 */
export function isDomainName(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  let asciiLength = 0;
  for (const label of name.split('.')) {
    let ascii = label;
    if (!isAscii(label)) {
      // Non-ASCII labels are U-labels; their A-label form must be a valid LDH label.
      ascii = domainToASCII(label);
      if (ascii === '' || !ascii.startsWith('xn--')) return false;
    }
    if (!LDH_LABEL.test(ascii)) return false;
    asciiLength += ascii.length + 1;
  }
  return asciiLength - 1 <= 253;
}

const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;

/**
 * Checks for an RFC 5322 section 3.4.1 `addr-spec`: a dot-atom or quoted-string local
 * part, `@`, and a domain name or a bracketed domain literal. STIX 2.1 section 6.5 uses
 * this form.
 */
export function isEmailAddress(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at < 1 || at === s.length - 1) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (!isLocalPart(local)) return false;
  if (domain.startsWith('[')) {
    if (!domain.endsWith(']')) return false;
    const literal = domain.slice(1, -1);
    return literal.startsWith('IPv6:')
      ? isIpv6Address(literal.slice(5))
      : isIpv4Address(literal) || /^[\x21-\x5a\x5e-\x7e]*$/.test(literal);
  }
  return isDomainName(domain) && !domain.endsWith('.');
}

function isLocalPart(local: string): boolean {
  if (local.startsWith('"')) {
    if (local.length < 2 || !local.endsWith('"')) return false;
    for (let i = 1; i < local.length - 1; i++) {
      const c = local.charCodeAt(i);
      if (c === 92) {
        // quoted-pair = "\" (VCHAR / WSP)
        i++;
        if (i >= local.length - 1) return false;
        continue;
      }
      if (c === 34 || c < 32 || c > 126) return false;
    }
    return true;
  }
  return local.split('.').every((atom) => ATEXT.test(atom));
}

/** Checks for non-empty RFC 4648 section 4 base64 with padding (STIX 2.1 section 2.1). */
export function isBase64(s: string): boolean {
  const length = s.length;
  if (length === 0 || length % 4 !== 0) return false;
  let padding = 0;
  if (s.charCodeAt(length - 1) === 61) padding = s.charCodeAt(length - 2) === 61 ? 2 : 1;
  for (let i = 0; i < length - padding; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (!ok) return false;
  }
  return true;
}

const HEX_OCTETS = /^(?:[0-9a-fA-F]{2})+$/;

/**
 * Checks for an even number of hex digits, as the STIX 2.1 `hex` type (section 2.8).
 * NOTE: section 2.8 requires lowercase digits. Upper case is accepted all the same,
 * because the OASIS JSON schema and python-stix2 accept it and OASIS examples use it.
 */
export function isHex(s: string): boolean {
  return HEX_OCTETS.test(s);
}

/** Hash algorithms of `hash-algorithm-ov` (STIX 2.1 section 10.7) and their digest formats. */
export const HASH_FORMATS: ReadonlyMap<string, { pattern: RegExp; description: string }> = new Map([
  ['MD5', { pattern: /^[0-9a-fA-F]{32}$/, description: '32 hex digits' }],
  ['SHA-1', { pattern: /^[0-9a-fA-F]{40}$/, description: '40 hex digits' }],
  ['SHA-256', { pattern: /^[0-9a-fA-F]{64}$/, description: '64 hex digits' }],
  ['SHA-512', { pattern: /^[0-9a-fA-F]{128}$/, description: '128 hex digits' }],
  ['SHA3-256', { pattern: /^[0-9a-fA-F]{64}$/, description: '64 hex digits' }],
  ['SHA3-512', { pattern: /^[0-9a-fA-F]{128}$/, description: '128 hex digits' }],
  [
    'SSDEEP',
    {
      pattern: /^[0-9]{1,10}:[A-Za-z0-9/+]{1,64}:[A-Za-z0-9/+]{0,64}$/,
      description: 'an ssdeep piecewise hash (blocksize:hash:hash)',
    },
  ],
  [
    // 35 bytes is 70 hex digits. Current TLSH tools print a "T1" version prefix too.
    'TLSH',
    {
      pattern: /^(?:T1)?[0-9A-Fa-f]{70}$/,
      description: '70 hex digits, optionally after "T1"',
    },
  ],
]);

/** Hash dictionary keys: ASCII letters, digits, `-` and `_`, 3–250 long (section 2.7). */
export const HASH_KEY = /^[A-Za-z0-9_-]{3,250}$/;

/** Dictionary keys: ASCII letters, digits, `-` and `_`, at most 250 long (section 2.3). */
export const DICTIONARY_KEY = /^[A-Za-z0-9_-]{0,250}$/;

const ALPHA_ONLY = /^[A-Za-z]+$/;
const DIGITS_ONLY = /^[0-9]+$/;
const ALPHANUMERIC = /^[A-Za-z0-9]+$/;

/** Irregular and regular grandfathered tags of RFC 5646 section 2.2.8, lowercased. */
const GRANDFATHERED = new Set([
  'en-gb-oed',
  'i-ami',
  'i-bnn',
  'i-default',
  'i-enochian',
  'i-hak',
  'i-klingon',
  'i-lux',
  'i-mingo',
  'i-navajo',
  'i-pwn',
  'i-tao',
  'i-tay',
  'i-tsu',
  'sgn-be-fr',
  'sgn-be-nl',
  'sgn-ch-de',
  'art-lojban',
  'cel-gaulish',
  'no-bok',
  'no-nyn',
  'zh-guoyu',
  'zh-hakka',
  'zh-min',
  'zh-min-nan',
  'zh-xiang',
]);

function isPrivateUse(subtags: string[], from: number): boolean {
  if (from >= subtags.length) return false;
  for (let i = from; i < subtags.length; i++) {
    const s = subtags[i] as string;
    if (s.length < 1 || s.length > 8 || !ALPHANUMERIC.test(s)) return false;
  }
  return true;
}

/**
 * Checks for a language tag as RFC 5646 section 2.1 defines it: language, extlang,
 * script, region, variants, extensions and private use, subtag by subtag in order. It
 * does not check whether a subtag is registered with IANA.
 */
export function isLanguageTag(tag: string): boolean {
  if (tag.length === 0 || tag.length > 256) return false;
  if (GRANDFATHERED.has(tag.toLowerCase())) return true;

  const subtags = tag.split('-');
  const first = subtags[0] as string;
  if (first === 'x' || first === 'X') return isPrivateUse(subtags, 1);
  if (!ALPHA_ONLY.test(first) || first.length < 2 || first.length > 8 || first.length === 4) {
    // A 4-letter language subtag is reserved for future use, so it is rejected.
    return false;
  }

  let i = 1;
  if (first.length <= 3) {
    // Up to three extended language subtags of three letters.
    let extlangs = 0;
    while (i < subtags.length && extlangs < 3) {
      const s = subtags[i] as string;
      if (s.length !== 3 || !ALPHA_ONLY.test(s)) break;
      i++;
      extlangs++;
    }
  }

  if (i < subtags.length) {
    const s = subtags[i] as string;
    if (s.length === 4 && ALPHA_ONLY.test(s)) i++;
  }
  if (i < subtags.length) {
    const s = subtags[i] as string;
    if ((s.length === 2 && ALPHA_ONLY.test(s)) || (s.length === 3 && DIGITS_ONLY.test(s))) i++;
  }

  const variants = new Set<string>();
  while (i < subtags.length) {
    const s = subtags[i] as string;
    const isVariant =
      ALPHANUMERIC.test(s) &&
      ((s.length >= 5 && s.length <= 8) || (s.length === 4 && DIGITS_ONLY.test(s[0] as string)));
    if (!isVariant) break;
    if (variants.has(s.toLowerCase())) return false;
    variants.add(s.toLowerCase());
    i++;
  }

  const singletons = new Set<string>();
  while (i < subtags.length) {
    const singleton = (subtags[i] as string).toLowerCase();
    if (singleton === 'x') return isPrivateUse(subtags, i + 1);
    if (singleton.length !== 1 || !ALPHANUMERIC.test(singleton) || singletons.has(singleton)) {
      return false;
    }
    singletons.add(singleton);
    i++;
    let extensionSubtags = 0;
    while (i < subtags.length) {
      const s = subtags[i] as string;
      if (s.length < 2 || s.length > 8 || !ALPHANUMERIC.test(s)) break;
      i++;
      extensionSubtags++;
    }
    if (extensionSubtags === 0) return false;
  }

  return i === subtags.length;
}
