/**
 * Observables: one indicator value of a known kind in its normalised form, and the guess of
 * the kind of a bare string (`classify`).
 */
import { normaliseAsn } from './asn.ts';
import { normaliseDomain } from './domain.ts';
import { normaliseEmail } from './email.ts';
import { type HashAlgorithm, normaliseHash } from './hash.ts';
import { normaliseIp } from './ip.ts';
import { refang } from './refang.ts';
import { type Normalised, accept, quote, reject, tooLong } from './result.ts';
import { normaliseUrl } from './url.ts';

export const OBSERVABLE_KINDS = ['ip', 'cidr', 'domain', 'url', 'email', 'hash', 'asn'] as const;

export type ObservableKind = (typeof OBSERVABLE_KINDS)[number];

/** A normalised indicator value. `value` is the canonical text for every kind. */
export type Observable =
  | {
      kind: 'ip';
      version: 4 | 6;
      value: string;
      /** Destination port, from `ip:port`. */ port?: number;
    }
  | { kind: 'cidr'; version: 4 | 6; value: string }
  | { kind: 'domain'; value: string }
  | { kind: 'url'; value: string }
  | { kind: 'email'; value: string }
  | { kind: 'hash'; algorithm: HashAlgorithm; value: string }
  | { kind: 'asn'; /** `AS` and the number. */ value: string; number: number };

export function isObservableKind(kind: string): kind is ObservableKind {
  return (OBSERVABLE_KINDS as readonly string[]).includes(kind);
}

/**
 * Normalises `input` as an observable of `kind`. `ip` and `cidr` both accept an address or
 * a block and return whichever it is. `hashAlgorithm` names the algorithm of a hash when the
 * source states it; otherwise the digest length decides.
 */
export function normalise(
  kind: ObservableKind,
  input: string,
  hashAlgorithm?: string,
): Normalised<Observable> {
  switch (kind) {
    case 'ip':
    case 'cidr':
      return ipObservable(input);
    case 'domain':
      return wrap(normaliseDomain(input), (value) => ({ kind, value }));
    case 'url':
      return wrap(normaliseUrl(input), (value) => ({ kind, value }));
    case 'email':
      return wrap(normaliseEmail(input), (value) => ({ kind, value }));
    case 'hash':
      return wrap(normaliseHash(input, hashAlgorithm), (hash) => ({ kind, ...hash }));
    case 'asn':
      return wrap(normaliseAsn(input), (number) => ({ kind, value: `AS${number}`, number }));
  }
}

function wrap<T>(result: Normalised<T>, build: (value: T) => Observable): Normalised<Observable> {
  return result.ok ? accept(build(result.value)) : result;
}

function ipObservable(input: string): Normalised<Observable> {
  const ip = normaliseIp(input);
  if (!ip.ok) return ip;
  const { version, value, prefixLength } = ip.value;
  return accept(
    prefixLength === undefined ? { kind: 'ip', version, value } : { kind: 'cidr', version, value },
  );
}

const HEX = /^[0-9a-fA-F]+$/;
const HASH_LENGTHS = new Set([32, 40, 64, 128]);
const ASN = /^asn?\s*[0-9]/i;
const IPV4_PORT = /^([0-9.]+):([0-9]{1,5})$/;
const IPV6_PORT = /^\[([0-9a-fA-F:.]+)\]:([0-9]{1,5})$/;
/** An IPv6 address (with a colon, maybe a zone id) or four dotted numbers, maybe with a prefix. */
const IP_LIKE =
  /^(?:[0-9a-fA-F:.[\]]*:[0-9a-fA-F:.[\]]*(?:%[^/\s]*)?|[0-9]+(?:\.[0-9]+){3})(?:\/[0-9]*)?$/;
const LEADING_HOST = /^([^/?#]+)[/?#]/;

/**
 * Guesses what kind of indicator a bare string is, after refanging it, and normalises it:
 * a URL (`scheme://…`, or `host/path` read as http), a hash (32, 40, 64 or 128 hex
 * digits), an AS number (`AS64500`), an e-mail address, an IP address, `ip:port`, a CIDR
 * block, or a domain name. A string that looks like one kind but is malformed is rejected
 * with that kind's reason, for example `010.1.1.1` with the leading-zero reason.
 */
export function classify(input: string): Normalised<Observable> {
  const long = tooLong(input, 'indicator');
  if (long) return long;
  const text = refang(input.trim());
  if (text.length === 0) return reject('the value is empty');

  if (text.includes('://')) return normalise('url', text);
  if (HASH_LENGTHS.has(text.length) && HEX.test(text)) return normalise('hash', text);
  if (ASN.test(text)) return normalise('asn', text);
  if (text.includes('@') && !text.includes('/')) return normalise('email', text);

  const withPort = IPV4_PORT.exec(text) ?? IPV6_PORT.exec(text);
  if (withPort) return ipWithPort(input, withPort[1]!, withPort[2]!);
  if (IP_LIKE.test(text)) return ipObservable(text);

  const host = LEADING_HOST.exec(text)?.[1];
  if (host !== undefined && isHost(host)) return normalise('url', text);

  const domain = normaliseDomain(text);
  if (domain.ok) return accept({ kind: 'domain', value: domain.value });
  if (text.includes('.')) return domain;
  return reject(
    `${quote(input)} is not a recognised indicator (IP, CIDR, domain, URL, e-mail, hash or AS number)`,
  );
}

function ipWithPort(input: string, address: string, portText: string): Normalised<Observable> {
  const ip = normaliseIp(address);
  if (!ip.ok) return ip;
  const port = Number(portText);
  if (port < 1 || port > 65535)
    return reject(`${quote(input)} has the port ${port}; expected 1 to 65535`);
  return accept({ kind: 'ip', version: ip.value.version, value: ip.value.value, port });
}

/** Checks for `domain`, `ip`, `[ipv6]`, with an optional `:port`, as the host of a URL. */
function isHost(host: string): boolean {
  const bare = host.replace(/:[0-9]{1,5}$/, '');
  if (bare.startsWith('[')) return normaliseIp(bare).ok;
  return normaliseIp(bare).ok || normaliseDomain(bare).ok;
}
