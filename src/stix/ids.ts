/**
 * STIX identifiers and type names: syntax checks, and the deterministic UUIDv5 ids of
 * STIX Cyber-observable Objects (STIX 2.1 section 2.9).
 */

import canonicalize from 'canonicalize';
import { v5 as uuidv5 } from 'uuid';

/** The namespace of deterministic SCO ids, fixed by STIX 2.1 section 2.9. */
export const SCO_ID_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';

/**
 * An RFC 4122 UUID: versions 1 to 5 and the RFC 4122 variant (`10xx`). Hex digits may be
 * upper case, which RFC 4122 section 3 lets readers accept.
 */
const UUID =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/;

/** Checks for an RFC 4122 UUID of version 1 to 5. */
export function isUuid(value: string): boolean {
  return value.length === 36 && UUID.test(value);
}

const TYPE_NAME = /^[a-z][a-z0-9-]{2,249}$/;

/**
 * Checks for a valid STIX type name: 3 to 250 ASCII characters of a–z, 0–9 and hyphen,
 * starting with a letter (STIX 2.1 section 3.1), with no hyphen directly after another
 * (sections 7.3.2 and 11.2.1). The text does not forbid a trailing hyphen.
 */
export function isTypeName(value: string): boolean {
  return TYPE_NAME.test(value) && !value.includes('--');
}

/** The two parts of an identifier. */
export interface ParsedIdentifier {
  type: string;
  uuid: string;
}

/**
 * Splits an identifier `object-type--UUID` (STIX 2.1 section 2.9), or returns undefined
 * when it is not one. A valid type name contains no `--`, so the first `--` is the separator.
 */
export function parseIdentifier(value: string): ParsedIdentifier | undefined {
  if (value.length > 290) return undefined;
  const separator = value.indexOf('--');
  if (separator === -1) return undefined;
  const type = value.slice(0, separator);
  const uuid = value.slice(separator + 2);
  if (!isTypeName(type) || !isUuid(uuid)) return undefined;
  return { type, uuid };
}

/** Returns the type part of an identifier, or undefined when the string is not one. */
export function identifierType(value: string): string | undefined {
  return parseIdentifier(value)?.type;
}

/**
 * ID contributing properties of each SCO type, from the "ID Contributing Properties" row
 * of each object in STIX 2.1 section 6. Process lists none, so its ids are UUIDv4.
 */
export const ID_CONTRIBUTING_PROPERTIES: ReadonlyMap<string, readonly string[]> = new Map([
  ['artifact', ['hashes', 'payload_bin']],
  ['autonomous-system', ['number']],
  ['directory', ['path']],
  ['domain-name', ['value']],
  ['email-addr', ['value']],
  ['email-message', ['from_ref', 'subject', 'body']],
  ['file', ['hashes', 'name', 'extensions', 'parent_directory_ref']],
  ['ipv4-addr', ['value']],
  ['ipv6-addr', ['value']],
  ['mac-addr', ['value']],
  ['mutex', ['name']],
  [
    'network-traffic',
    ['start', 'end', 'src_ref', 'dst_ref', 'src_port', 'dst_port', 'protocols', 'extensions'],
  ],
  ['process', []],
  ['software', ['name', 'cpe', 'swid', 'vendor', 'version']],
  ['url', ['value']],
  ['user-account', ['account_type', 'user_id', 'account_login']],
  ['windows-registry-key', ['key', 'values']],
  ['x509-certificate', ['hashes', 'serial_number']],
]);

/** Hash algorithms in the order a deterministic id prefers them (STIX 2.1 section 6.7.1). */
const PREFERRED_HASHES = ['MD5', 'SHA-1', 'SHA-256', 'SHA-512'];

/**
 * Picks the one hash that contributes to an id: the first of MD5, SHA-1, SHA-256 and
 * SHA-512 present, else the first key in the object's own order.
 */
function pickHash(hashes: Record<string, unknown>): Record<string, unknown> | undefined {
  for (const algorithm of PREFERRED_HASHES) {
    if (Object.hasOwn(hashes, algorithm)) return { [algorithm]: hashes[algorithm] };
  }
  const first = Object.keys(hashes)[0];
  return first === undefined ? undefined : { [first]: hashes[first] };
}

/**
 * Computes the deterministic id of an SCO (STIX 2.1 section 2.9): a UUIDv5 under
 * {@link SCO_ID_NAMESPACE} of the RFC 8785 canonical JSON of its ID contributing
 * properties, with only one hash kept from `hashes`. Returns undefined for a type that is
 * not a predefined SCO, for process (which has no contributing properties) and when none
 * of the contributing properties is present, because the specification then requires a
 * UUIDv4.
 */
export function deterministicScoId(object: Readonly<Record<string, unknown>>): string | undefined {
  const type = object.type;
  if (typeof type !== 'string') return undefined;
  const names = ID_CONTRIBUTING_PROPERTIES.get(type);
  if (names === undefined) return undefined;

  const contributing: Record<string, unknown> = {};
  let present = 0;
  for (const name of names) {
    if (!Object.hasOwn(object, name)) continue;
    let value = object[name];
    if (name === 'hashes' && value !== null && typeof value === 'object') {
      value = pickHash(value as Record<string, unknown>);
      if (value === undefined) continue;
    }
    contributing[name] = value;
    present++;
  }
  if (present === 0) return undefined;

  let name: string | undefined;
  try {
    name = canonicalize(contributing);
  } catch {
    // RFC 8785 cannot serialise lone UTF-16 surrogates, so such a value has no id.
    return undefined;
  }
  if (name === undefined) return undefined;
  return `${type}--${uuidv5(name, SCO_ID_NAMESPACE)}`;
}
