/**
 * Comparison of observed values with pattern literals (STIX 2.1 section 9, comparison
 * operators). The type rules follow the OASIS reference matcher (cti-pattern-matcher 3.0.0).
 * Numbers compare with numbers and strings with strings. Binary values compare with binary
 * values or with a string whose code points are all below 256. Timestamps compare with
 * timestamps or with strings that parse as one, and booleans only by equality. Any other
 * pairing is unequal and unordered. Strings compare by code point without Unicode
 * normalization, which only LIKE and MATCHES apply.
 */

import type { Instant, Literal } from './ast.ts';
import { PatternEvaluationError } from './errors.ts';
import { compareInstants, parseObservedTimestamp } from './timestamps.ts';

/** A literal's value as the evaluator uses it. */
export type LiteralValue = string | number | boolean | Uint8Array | Instant;

/** The result of an order comparison: the sign of value minus literal, or why there is none. */
export type OrderResult = number | 'unordered' | 'not-latin1';

export function isInstant(value: unknown): value is Instant {
  return typeof value === 'object' && value !== null && 'nanos' in value && 'seconds' in value;
}

/** Compares two strings by Unicode code point, as Python does, rather than by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const left = a.codePointAt(i)!;
    const right = b.codePointAt(i)!;
    if (left !== right) return left < right ? -1 : 1;
    if (left > 0xffff) i++;
  }
  return Math.sign(a.length - b.length);
}

/** Converts a string to bytes, one byte per code point, when every code point is below 256. */
export function latin1Bytes(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 255) return undefined;
    bytes[i] = code;
  }
  return bytes;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}

/** Returns the timestamp the value stands for when the literal is a timestamp, else the value. */
function coerceForTimestamp(value: unknown, literal: LiteralValue): unknown {
  if (isInstant(literal) && typeof value === 'string') return parseObservedTimestamp(value);
  return value;
}

/** Equality of an observed value with a literal value (the `=` operator before NOT or `!=`). */
export function valuesEqual(observed: unknown, literal: LiteralValue): boolean {
  const value = coerceForTimestamp(observed, literal);

  if (typeof literal === 'number') return typeof value === 'number' && value === literal;
  if (typeof literal === 'boolean') return value === literal;
  if (isInstant(literal)) return isInstant(value) && compareInstants(value, literal) === 0;
  if (typeof literal === 'string') {
    if (typeof value === 'string') return value === literal;
    if (value instanceof Uint8Array) return bytesEqualString(value, literal);
    return false;
  }
  if (value instanceof Uint8Array) return compareBytes(value, literal) === 0;
  if (typeof value === 'string') return bytesEqualString(literal, value);
  return false;
}

export function bytesEqualString(bytes: Uint8Array, text: string): boolean {
  const textBytes = latin1Bytes(text);
  return textBytes !== undefined && compareBytes(bytes, textBytes) === 0;
}

/**
 * Orders an observed value against a literal value. `unordered` means the types cannot be
 * ordered, and the reference matcher then returns false even under NOT. `not-latin1` means a
 * binary value met a string with a code point above 255, which is false but can be negated.
 */
export function compareValues(observed: unknown, literal: LiteralValue): OrderResult {
  const value = coerceForTimestamp(observed, literal);

  if (typeof literal === 'number') {
    return typeof value === 'number' ? Math.sign(value - literal) : 'unordered';
  }
  if (typeof literal === 'boolean') return 'unordered';
  if (isInstant(literal)) return isInstant(value) ? compareInstants(value, literal) : 'unordered';
  if (typeof literal === 'string') {
    if (typeof value === 'string') return compareCodePoints(value, literal);
    if (value instanceof Uint8Array) {
      const literalBytes = latin1Bytes(literal);
      return literalBytes ? compareBytes(value, literalBytes) : 'not-latin1';
    }
    return 'unordered';
  }
  if (value instanceof Uint8Array) return compareBytes(value, literal);
  if (typeof value === 'string') {
    const valueBytes = latin1Bytes(value);
    return valueBytes ? compareBytes(valueBytes, literal) : 'not-latin1';
  }
  return 'unordered';
}

/** Returns the kind a literal counts as when an IN list is checked for mixed types. */
function setMemberKind(literal: Literal): string {
  switch (literal.type) {
    case 'integer':
    case 'float':
      return 'number';
    case 'hex':
    case 'binary':
      return 'binary';
    default:
      return literal.type;
  }
}

/**
 * Checks that an IN list holds one kind of literal: the reference matcher rejects a mix such
 * as `(1, true)` but accepts integers with floats and hex with binary.
 */
export function checkSetLiterals(values: readonly Literal[], position: number): void {
  const first = values[0];
  if (!first) return;

  const kind = setMemberKind(first);
  const other = values.find((value) => setMemberKind(value) !== kind);
  if (other) {
    throw new PatternEvaluationError(
      `IN list at ${position} mixes ${first.type} and ${other.type} literals; use one type`,
      position,
    );
  }
}
