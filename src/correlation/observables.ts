/**
 * Observable values named by STIX objects, in the types correlation, scoring and exports
 * work with: IPv4 and IPv6 addresses or blocks, domains, URLs, e-mail addresses, file hashes
 * and AS numbers. Values are found and normalised by src/watch/observables.ts (which uses
 * src/normalise), so one value from two sources compares equal everywhere.
 */
import type {
  HashAlgorithm,
  Observable as Normalised,
  ObservableKind,
} from '../normalise/index.ts';
import {
  parsePattern,
  type Comparison,
  type ComparisonExpression,
  type Literal,
} from '../pattern/index.ts';
import type { ObservationExpression } from '../pattern/index.ts';
import { classify, hashAlgorithm, normalise } from '../normalise/index.ts';
import { OBSERVABLE_SCO_TYPES, scoObservables } from '../watch/observables.ts';
import { walkPattern } from '../pattern/walk.ts';

export const OBSERVABLE_TYPES = [
  'ipv4',
  'ipv6',
  'domain',
  'url',
  'email',
  'md5',
  'sha1',
  'sha256',
  'sha512',
  'asn',
] as const;

export type ObservableType = (typeof OBSERVABLE_TYPES)[number];

export interface Observable {
  type: ObservableType;
  /** The normalised value: an address or `address/prefix`, a lower-case hex digest, `AS64500`. */
  value: string;
  /**
   * The destination port of an address that a pattern names as a network-traffic
   * destination with a port (see portPattern). Correlation keys leave it out.
   */
  port?: number;
}

export interface PatternObservables {
  observables: Observable[];
  /**
   * True when the pattern matches exactly when one of `observables` is seen: one
   * observation, or several joined by OR, without qualifiers, each comparing supported
   * values with `=`, IN or (for addresses) ISSUBSET, joined by OR. Only such indicators
   * become blocklist entries and rules; other patterns' values still count for correlation.
   */
  exact: boolean;
}

/** Observable types of hash algorithms. Correlation has none for SHA3, SSDEEP and TLSH. */
const HASH_TYPES: Partial<Record<HashAlgorithm, ObservableType>> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-512': 'sha512',
};

/** Maps a normalised value to Cairn's observable types; hashes of other algorithms give none. */
function fromNormalised(value: Normalised): Observable | undefined {
  switch (value.kind) {
    case 'ip':
    case 'cidr':
      return { type: value.version === 4 ? 'ipv4' : 'ipv6', value: value.value };
    case 'hash': {
      const type = HASH_TYPES[value.algorithm];
      return type === undefined ? undefined : { type, value: value.value };
    }
    default:
      return { type: value.kind, value: value.value };
  }
}

/** The key under which correlation stores a value: `type:value`. */
export function observableKey(observable: Observable): string {
  return `${observable.type}:${observable.value}`;
}

/** Splits a correlation key back into its type and value. */
export function parseObservableKey(key: string): Observable | undefined {
  const colon = key.indexOf(':');
  const type = key.slice(0, colon) as ObservableType;
  if (colon < 1 || !(OBSERVABLE_TYPES as readonly string[]).includes(type)) return undefined;
  return { type, value: key.slice(colon + 1) };
}

function collect(found: Iterable<{ observable: Normalised }>): Observable[] {
  const unique = new Map<string, Observable>();
  for (const { observable } of found) {
    const mapped = fromNormalised(observable);
    if (mapped) unique.set(observableKey(mapped), mapped);
  }
  return [...unique.values()];
}

/** Object paths whose values an exact pattern may compare, and the operators allowed on them. */
const EXACT_PATHS: Record<string, ReadonlySet<string>> = {
  'ipv4-addr:value': new Set(['=', 'IN', 'ISSUBSET']),
  'ipv6-addr:value': new Set(['=', 'IN', 'ISSUBSET']),
  'domain-name:value': new Set(['=', 'IN']),
  'url:value': new Set(['=', 'IN']),
  'email-addr:value': new Set(['=', 'IN']),
  'file:hashes': new Set(['=', 'IN']),
};

/** Whether the pattern's shape makes it match exactly its values; see PatternObservables. */
function isExactShape(expression: ObservationExpression): boolean {
  switch (expression.type) {
    case 'observation':
      return isExactComparison(expression.comparison);
    case 'observation-group':
      return expression.operator === 'OR' && expression.operands.every(isExactShape);
    case 'qualified':
      return false;
  }
}

function isExactComparison(expression: ComparisonExpression): boolean {
  if (expression.type === 'comparison-group') {
    return expression.operator === 'OR' && expression.operands.every(isExactComparison);
  }
  if (expression.negated) return false;
  const { objectType, steps } = expression.path;
  const first = steps[0];
  if (first?.kind !== 'key') return false;
  const hashed = objectType === 'file' && first.key === 'hashes';
  if (steps.length !== (hashed ? 2 : 1)) return false;
  // A hash of an algorithm without an observable type (SHA3-256 or a custom name) gives no
  // value, so a pattern that compares one matches more than its values.
  if (hashed && comparisonType(expression) === undefined) return false;
  return EXACT_PATHS[`${objectType}:${first.key}`]?.has(expression.operator) ?? false;
}

/** Observable type of a pattern comparison's path, for the paths values are read from. */
function comparisonType(comparison: Comparison): ObservableType | undefined {
  const { objectType, steps } = comparison.path;
  const first = steps[0];
  if (first?.kind !== 'key') return undefined;
  if (steps.length === 1 && first.key === 'value') return VALUE_PATHS[objectType];
  const second = steps[1];
  if (objectType === 'file' && first.key === 'hashes' && steps.length === 2) {
    if (second?.kind !== 'key') return undefined;
    const algorithm = hashAlgorithm(second.key);
    return algorithm === undefined ? undefined : HASH_TYPES[algorithm];
  }
  return undefined;
}

const VALUE_PATHS: Record<string, ObservableType | undefined> = {
  'ipv4-addr': 'ipv4',
  'ipv6-addr': 'ipv6',
  'domain-name': 'domain',
  url: 'url',
  'email-addr': 'email',
};

/**
 * Returns whether a comparison reads the value of the address or domain that a network-traffic
 * object references (`network-traffic:dst_ref.value`), the form that Cairn's converters
 * give `ip:port` entries. The path does not name the referenced type, so the literal's form
 * decides it.
 */
function isReferencedAddress(comparison: Comparison): boolean {
  const { objectType, steps } = comparison.path;
  if (objectType !== 'network-traffic' || steps.length !== 2) return false;
  const [reference, property] = steps;
  return (
    reference?.kind === 'key' &&
    (reference.key === 'dst_ref' || reference.key === 'src_ref') &&
    property?.kind === 'key' &&
    property.key === 'value'
  );
}

function referencedValue(literal: Literal): Observable | undefined {
  if (literal.type !== 'string') return undefined;
  const result = classify(literal.value);
  if (!result.ok) return undefined;
  const { kind } = result.value;
  return kind === 'ip' || kind === 'cidr' || kind === 'domain'
    ? fromNormalised(result.value)
    : undefined;
}

function literalValue(type: ObservableType, literal: Literal): Observable | undefined {
  if (literal.type !== 'string') return undefined;
  return normaliseObservable(type, literal.value);
}

/** Returns the path of a network-traffic `=` comparison, such as `dst_ref.value`, or undefined. */
function destinationKey(comparison: Comparison): string | undefined {
  const { objectType, steps } = comparison.path;
  if (objectType !== 'network-traffic' || comparison.negated || comparison.operator !== '=') {
    return undefined;
  }
  if (!steps.every((step) => step.kind === 'key')) return undefined;
  return steps.map((step) => (step.kind === 'key' ? step.key : '')).join('.');
}

/**
 * Returns the address and port of a pattern that names only a network-traffic destination
 * address and port, as Cairn's converters write `ip:port` entries:
 * `[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value =
 * '198.51.100.7' AND network-traffic:dst_port = 8080]`, the `type` comparison optional.
 * Any other pattern returns undefined.
 */
function portPattern(expression: ObservationExpression): Observable | undefined {
  if (expression.type !== 'observation') return undefined;
  const group = expression.comparison;
  if (group.type !== 'comparison-group' || group.operator !== 'AND') return undefined;
  const parts = new Map<string, Literal>();
  for (const operand of group.operands) {
    if (operand.type !== 'comparison') return undefined;
    const key = destinationKey(operand);
    if (key === undefined || parts.has(key) || !('value' in operand)) return undefined;
    parts.set(key, operand.value);
  }
  const address = parts.get('dst_ref.value');
  const port = parts.get('dst_port');
  const type = parts.get('dst_ref.type');
  const known = ['dst_ref.value', 'dst_port', 'dst_ref.type'];
  if ([...parts.keys()].some((key) => !known.includes(key))) return undefined;
  if (address?.type !== 'string' || port?.type !== 'integer') return undefined;
  if (port.value < 0 || port.value > 65535) return undefined;
  const observable = referencedValue(address);
  if (observable?.type !== 'ipv4' && observable?.type !== 'ipv6') return undefined;
  if (observable.value.includes('/')) return undefined;
  if (type !== undefined) {
    const expected = observable.type === 'ipv4' ? 'ipv4-addr' : 'ipv6-addr';
    if (type.type !== 'string' || type.value !== expected) return undefined;
  }
  return { ...observable, port: port.value };
}

/**
 * Returns the observable values an indicator pattern compares with `=`, IN or ISSUBSET
 * outside NOT, and whether it matches exactly those. A pattern that does not parse gives
 * none. Addresses and domains that network traffic references count too. They make a
 * pattern exact only in the address-and-port form of portPattern, where the observable
 * carries the port.
 */
export function patternObservables(pattern: string): PatternObservables {
  let ast;
  try {
    ast = parsePattern(pattern, { allowDuplicateQualifiers: true });
  } catch {
    return { observables: [], exact: false };
  }
  const withPort = portPattern(ast.expression);
  if (withPort !== undefined) return { observables: [withPort], exact: true };
  const found = new Map<string, Observable>();
  // Every literal of an exact pattern must give a value; one the normaliser rejects would
  // leave part of the pattern out of a blocklist.
  let complete = true;
  walkPattern(ast, {
    comparison(comparison) {
      if (comparison.negated) return;
      const literals =
        comparison.operator === '=' || comparison.operator === 'ISSUBSET'
          ? [comparison.value]
          : comparison.operator === 'IN'
            ? comparison.values
            : [];
      const type = comparisonType(comparison);
      if (type === undefined) {
        if (!isReferencedAddress(comparison)) return;
        for (const literal of literals) {
          const observable = referencedValue(literal);
          if (observable) found.set(observableKey(observable), observable);
        }
        return;
      }
      for (const literal of literals) {
        const observable = literalValue(type, literal);
        if (observable) found.set(observableKey(observable), observable);
        else complete = false;
      }
    },
  });
  const observables = [...found.values()];
  const exact = complete && observables.length > 0 && isExactShape(ast.expression);
  return { observables, exact };
}

/** Whether objectObservables may return values for objects of this type. */
export function mayHaveObservables(type: string): boolean {
  return type === 'indicator' || OBSERVABLE_SCO_TYPES.has(type);
}

/**
 * Returns the observable values of any STIX object: those of a STIX-pattern indicator, or of
 * an address, domain, URL, e-mail, file or AS SCO. Other objects give none.
 */
export function objectObservables(object: Readonly<Record<string, unknown>>): Observable[] {
  if (object.type === 'indicator') {
    if (object.pattern_type !== 'stix' || typeof object.pattern !== 'string') return [];
    return patternObservables(object.pattern).observables;
  }
  return collect(scoObservables(object));
}

/** The normaliser's kind of an observable, as warning lists and converters name it. */
export function warninglistKind(observable: Observable): ObservableKind {
  switch (observable.type) {
    case 'ipv4':
    case 'ipv6':
      return observable.value.includes('/') ? 'cidr' : 'ip';
    case 'md5':
    case 'sha1':
    case 'sha256':
    case 'sha512':
      return 'hash';
    default:
      return observable.type;
  }
}

const HASH_ALGORITHMS: Partial<Record<ObservableType, string>> = {
  md5: 'MD5',
  sha1: 'SHA-1',
  sha256: 'SHA-256',
  sha512: 'SHA-512',
};

/**
 * Types a look-up may give besides OBSERVABLE_TYPES, as the `type` of a blocklist export
 * does: `ip` for an IPv4 or IPv6 address or block, and `hash` for an MD5, SHA-1, SHA-256 or
 * SHA-512 digest, whose length gives the algorithm.
 */
export const LOOKUP_ALIASES = ['ip', 'hash'] as const;

/**
 * Normalises a look-up written `type:value`, with a type of OBSERVABLE_TYPES or
 * LOOKUP_ALIASES, into the observable the index stores. Returns undefined when the type is
 * unknown or the value is not of that type.
 */
export function normaliseLookup(key: string): Observable | undefined {
  const colon = key.indexOf(':');
  const type = key.slice(0, colon);
  if (colon >= 1 && (type === 'ip' || type === 'hash')) {
    const result = normalise(type, key.slice(colon + 1));
    return result.ok ? fromNormalised(result.value) : undefined;
  }
  const parsed = parseObservableKey(key);
  return parsed && normaliseObservable(parsed.type, parsed.value);
}

/** Normalises a value of a given type as the index stores it; undefined when it is invalid. */
export function normaliseObservable(type: ObservableType, value: string): Observable | undefined {
  let kind: string = type;
  if (type === 'ipv4' || type === 'ipv6') kind = 'ip';
  else if (HASH_ALGORITHMS[type]) kind = 'hash';
  const result = normalise(kind as ObservableKind, value, HASH_ALGORITHMS[type]);
  if (!result.ok) return undefined;
  const mapped = fromNormalised(result.value);
  return mapped?.type === type ? mapped : undefined;
}
