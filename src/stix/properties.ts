/**
 * The building blocks of the property tables: one check per STIX 2.1 data type
 * (section 2), and nested object types built from a table of their properties.
 *
 * A check receives a value and the property path it sits at, and reports problems into a
 * ProblemList. Tables in sdo.ts, sco.ts and meta.ts combine these checks per object type.
 */

import {
  DICTIONARY_KEY,
  HASH_FORMATS,
  HASH_KEY,
  isBase64,
  isHex,
  isLanguageTag,
  isUri,
} from './formats.ts';
import { parseIdentifier } from './ids.ts';
import { type ProblemList, jsonType, show } from './problems.ts';
import { compareTimestamps, isStixTimestamp } from './timestamp.ts';

export type JsonObject = Record<string, unknown>;

/** Checks one value found at `path` and reports what is wrong with it. */
export type ValueCheck = (value: unknown, path: string, problems: ProblemList) => void;

/** A property of an object type: its check and whether it must be present. */
export interface PropertySpec {
  readonly check: ValueCheck;
  readonly required: boolean;
}

/** A rule over several properties of one object; `path` is the object's own path. */
export type Constraint = (object: JsonObject, path: string, problems: ProblemList) => void;

/** Marks a property as required in a table. */
export function required(check: ValueCheck): PropertySpec {
  return { check, required: true };
}

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Joins a property name onto a path: `a` then `a.b`. */
export function child(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function expected(problems: ProblemList, path: string, type: string, value: unknown): void {
  problems.add(path, 'type', `must be ${type}, got ${jsonType(value)}`);
}

export const string: ValueCheck = (value, path, problems) => {
  if (typeof value !== 'string') expected(problems, path, 'a string', value);
};

/** An open vocabulary (section 2.14): any string; suggested values are not enforced. */
export const openVocab: ValueCheck = string;

export const boolean: ValueCheck = (value, path, problems) => {
  if (typeof value !== 'boolean') expected(problems, path, 'a boolean', value);
};

/** The integer range of section 2.10: what a double represents exactly. */
const MAX_INTEGER = Number.MAX_SAFE_INTEGER;

/** Builds the check of an integer (section 2.10), optionally within `[min, max]`. */
export function integer(min = -MAX_INTEGER, max = MAX_INTEGER): ValueCheck {
  return (value, path, problems) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      expected(problems, path, 'an integer', value);
      return;
    }
    if (value < min || value > max) {
      problems.add(path, 'range', `must be between ${min} and ${max}, got ${value}`);
    }
  };
}

/** A non-negative integer. */
export const count: ValueCheck = integer(0);

/** Builds the check of a float (section 2.6), optionally within `[min, max]`. */
export function float(min = -Infinity, max = Infinity): ValueCheck {
  return (value, path, problems) => {
    // JSON.parse returns Infinity for literals such as 1e400, and code may build NaN.
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      expected(problems, path, 'a finite number', value);
      return;
    }
    if (value < min || value > max) {
      problems.add(path, 'range', `must be between ${min} and ${max}, got ${value}`);
    }
  };
}

/** Checks a timestamp (section 2.16): RFC 3339 in UTC with a `Z`. */
export const timestamp: ValueCheck = (value, path, problems) => {
  if (typeof value !== 'string') {
    expected(problems, path, 'a timestamp string', value);
    return;
  }
  if (!isStixTimestamp(value)) {
    problems.add(
      path,
      'timestamp',
      `must be an RFC 3339 UTC timestamp such as 2016-01-20T12:31:12.123Z, got ${show(value)}`,
    );
  }
};

/** Builds the check of an enumeration (section 2.4): exactly one of `values`. */
export function enumOf(name: string, values: readonly string[]): ValueCheck {
  const allowed = new Set(values);
  return (value, path, problems) => {
    if (typeof value !== 'string') {
      expected(problems, path, 'a string', value);
      return;
    }
    if (!allowed.has(value)) {
      problems.add(
        path,
        'enum',
        `must be one of ${name} (${values.join(', ')}), got ${show(value)}`,
      );
    }
  };
}

/** Builds the check of a non-empty list (section 2.12) whose items all pass `item`. */
export function listOf(item: ValueCheck): ValueCheck {
  return (value, path, problems) => {
    if (!Array.isArray(value)) {
      expected(problems, path, 'a list', value);
      return;
    }
    if (value.length === 0) {
      problems.add(path, 'empty', 'must not be an empty list');
      return;
    }
    for (let i = 0; i < value.length; i++) item(value[i], `${path}[${i}]`, problems);
  };
}

/** Builds the check of a string format; `description` completes "must be …". */
export function formatted(test: (s: string) => boolean, description: string): ValueCheck {
  return (value, path, problems) => {
    if (typeof value !== 'string') {
      expected(problems, path, 'a string', value);
      return;
    }
    if (!test(value)) problems.add(path, 'format', `must be ${description}, got ${show(value)}`);
  };
}

/** The `binary` type (section 2.1): base64. */
export const binary = formatted(isBase64, 'base64 (RFC 4648) with padding');

/** The `hex` type (section 2.8): an even number of hex digits. */
export const hex = formatted(isHex, 'an even number of hex digits');

/** A URL (RFC 3986). */
export const url = formatted(isUri, 'a URL following RFC 3986');

/** A language tag (RFC 5646), as `lang` requires (section 3.2). */
export const languageTag = formatted(isLanguageTag, 'an RFC 5646 language tag such as en or fr-CA');

/** The types an identifier may point at, and how to name them in messages. */
export interface RefTarget {
  readonly accepts: (type: string) => boolean;
  readonly description: string;
}

/** Builds a reference target of fixed types. */
export function refTo(...types: string[]): RefTarget {
  const allowed = new Set(types);
  return { accepts: (type) => allowed.has(type), description: types.join(' or ') };
}

/** Any object type at all. */
export const ANY_OBJECT: RefTarget = { accepts: () => true, description: 'any object' };

/** Builds the check of an identifier (section 2.9) that refers to one of the target's types. */
export function ref(target: RefTarget): ValueCheck {
  return (value, path, problems) => {
    if (typeof value !== 'string') {
      expected(problems, path, 'an identifier string', value);
      return;
    }
    const parsed = parseIdentifier(value);
    if (parsed === undefined) {
      problems.add(
        path,
        'identifier',
        `must be an identifier of the form type--UUID (RFC 4122), got ${show(value)}`,
      );
      return;
    }
    if (!target.accepts(parsed.type)) {
      problems.add(
        path,
        'ref-type',
        `must refer to ${target.description}, got a reference to ${parsed.type}`,
      );
    }
  };
}

/** Builds the check of a list of references. */
export function refs(target: RefTarget): ValueCheck {
  return listOf(ref(target));
}

const PROPERTY_NAME = /^[a-z][a-z0-9_]{2,249}$/;

/**
 * Checks a custom or extension property name: ASCII a–z, 0–9 and `_`, 3 to 250 long
 * (sections 7.3.2 and 11.1.1), starting with a letter (section 3.1).
 */
export function isPropertyName(name: string): boolean {
  return PROPERTY_NAME.test(name);
}

/**
 * Checks the value of a custom property. STIX forbids empty lists (section 2.12) and has no
 * null or undefined. Names ending in `_hex` or `_bin` must contain hex or base64 (section
 * 11.1.1).
 */
export function checkCustomValue(
  name: string,
  value: unknown,
  path: string,
  problems: ProblemList,
): void {
  if (value === null || value === undefined) {
    problems.add(path, 'type', `must not be ${jsonType(value)}`);
  } else if (Array.isArray(value) && value.length === 0) {
    problems.add(path, 'empty', 'must not be an empty list');
  } else if (name.endsWith('_hex')) {
    hex(value, path, problems);
  } else if (name.endsWith('_bin')) {
    binary(value, path, problems);
  }
}

/** Checks a property that no table defines: its name, then its value. */
export function checkCustomProperty(
  name: string,
  value: unknown,
  path: string,
  problems: ProblemList,
): void {
  if (!isPropertyName(name)) {
    problems.add(
      path,
      'property-name',
      'custom property names must be 3 to 250 characters of a-z, 0-9 and _, starting with a letter',
    );
    return;
  }
  checkCustomValue(name, value, path, problems);
}

/** Table of a nested object type such as external-reference or kill-chain-phase. */
export interface NestedSpec {
  /** The type name used in messages, as the specification spells it. */
  readonly name: string;
  readonly properties: Readonly<Record<string, ValueCheck | PropertySpec>>;
  readonly constraints?: readonly Constraint[];
  /** Whether properties outside the table are custom properties (true) or errors. */
  readonly allowCustom?: boolean;
}

/** Compiles a table of checks and PropertySpecs into a lookup map. */
export function compileProperties(
  properties: Readonly<Record<string, ValueCheck | PropertySpec>>,
): Map<string, PropertySpec> {
  const compiled = new Map<string, PropertySpec>();
  for (const [name, entry] of Object.entries(properties)) {
    compiled.set(name, typeof entry === 'function' ? { check: entry, required: false } : entry);
  }
  return compiled;
}

/** Builds the check of an object of a nested type against its table. */
export function objectOf(spec: NestedSpec): ValueCheck {
  const properties = compileProperties(spec.properties);
  const requiredNames = [...properties].filter(([, p]) => p.required).map(([name]) => name);
  const allowCustom = spec.allowCustom ?? true;

  return (value, path, problems) => {
    if (!isJsonObject(value)) {
      expected(problems, path, `an object (${spec.name})`, value);
      return;
    }
    for (const key of Object.keys(value)) {
      const property = properties.get(key);
      const at = child(path, key);
      if (property !== undefined) property.check(value[key], at, problems);
      else if (allowCustom) checkCustomProperty(key, value[key], at, problems);
      else problems.add(at, 'property-name', `is not a property of ${spec.name}`);
    }
    for (const name of requiredNames) {
      if (!Object.hasOwn(value, name)) {
        problems.add(child(path, name), 'required', `is required in ${spec.name}`);
      }
    }
    if (spec.constraints)
      for (const constraint of spec.constraints) constraint(value, path, problems);
  };
}

/**
 * Builds the check of a dictionary (section 2.3): a non-empty object whose keys are at
 * most 250 ASCII letters, digits, `-` and `_`. Its values must pass `valueCheck`, or by
 * default be anything but null.
 */
export function dictionary(valueCheck?: ValueCheck, keyRule = DICTIONARY_KEY): ValueCheck {
  return (value, path, problems) => {
    if (!isJsonObject(value)) {
      expected(problems, path, 'a dictionary (object)', value);
      return;
    }
    const keys = Object.keys(value);
    if (keys.length === 0) {
      problems.add(path, 'empty', 'must not be an empty dictionary');
      return;
    }
    for (const key of keys) {
      const at = child(path, key);
      if (!keyRule.test(key)) {
        problems.add(
          at,
          'dictionary-key',
          'dictionary keys must be at most 250 ASCII letters, digits, - and _',
        );
        continue;
      }
      const entry = value[key];
      if (valueCheck) valueCheck(entry, at, problems);
      else if (entry === null) problems.add(at, 'type', 'must not be null');
    }
  };
}

/** Either of two checks: the first one whose JSON type fits decides. */
export function stringOr(other: ValueCheck, otherType: string): ValueCheck {
  return (value, path, problems) => {
    if (typeof value === 'string') return;
    if (typeof value === otherType || (otherType === 'array' && Array.isArray(value))) {
      other(value, path, problems);
      return;
    }
    expected(problems, path, `a string or ${otherType}`, value);
  };
}

/**
 * Builds the check of the `hashes` type (section 2.7), a non-empty dictionary from
 * algorithm name to digest. Names are 3–250 ASCII letters, digits, `-` and `_`, and the
 * digests of `hash-algorithm-ov` algorithms (section 10.7) must have their format. With
 * `closed`, only those algorithms are allowed, as for external references (section 2.5.1).
 */
export function hashes(closed = false): ValueCheck {
  return (value, path, problems) => {
    if (!isJsonObject(value)) {
      expected(problems, path, 'a hashes dictionary (object)', value);
      return;
    }
    const keys = Object.keys(value);
    if (keys.length === 0) {
      problems.add(path, 'empty', 'must not be an empty dictionary');
      return;
    }
    for (const key of keys) {
      const at = child(path, key);
      const digest = value[key];
      const format = HASH_FORMATS.get(key);
      if (format === undefined) {
        if (closed) {
          problems.add(
            at,
            'hashes',
            `hash algorithm must be one of ${[...HASH_FORMATS.keys()].join(', ')}`,
          );
        } else if (!HASH_KEY.test(key)) {
          problems.add(
            at,
            'hashes',
            'hash algorithm names must be 3 to 250 ASCII letters, digits, - and _',
          );
        } else if (typeof digest !== 'string') {
          expected(problems, at, 'a string', digest);
        }
        continue;
      }
      if (typeof digest !== 'string') {
        expected(problems, at, 'a string', digest);
      } else if (!format.pattern.test(digest)) {
        problems.add(
          at,
          'hashes',
          `${key} digest must be ${format.description}, got ${show(digest)}`,
        );
      }
    }
  };
}

/** Reports `path` when neither of `names` is present on the object. */
export function atLeastOneOf(...names: string[]): Constraint {
  return (object, path, problems) => {
    if (names.some((name) => Object.hasOwn(object, name))) return;
    problems.add(
      path === '' ? undefined : path,
      'at-least-one',
      `at least one of ${names.join(', ')} must be present`,
    );
  };
}

/** Reports when both of two properties are present. */
export function mutuallyExclusive(a: string, b: string): Constraint {
  return (object, path, problems) => {
    if (Object.hasOwn(object, a) && Object.hasOwn(object, b)) {
      problems.add(child(path, b), 'exclusive', `must not be present together with ${a}`);
    }
  };
}

/** Reports when `name` is present but `dependsOn` is not. */
export function requires(name: string, dependsOn: string): Constraint {
  return (object, path, problems) => {
    if (Object.hasOwn(object, name) && !Object.hasOwn(object, dependsOn)) {
      problems.add(child(path, name), 'dependency', `requires ${dependsOn} to be present`);
    }
  };
}

/**
 * Reports `path` when the object has no property besides `ignored`. Several SCOs and
 * extensions require at least one of their own properties.
 */
export function notEmptyBeyond(description: string, ignored: readonly string[] = []): Constraint {
  const skip = new Set(ignored);
  return (object, path, problems) => {
    for (const key of Object.keys(object)) if (!skip.has(key)) return;
    problems.add(
      path === '' ? undefined : path,
      'at-least-one',
      `${description} must contain at least one of its properties`,
    );
  };
}

/**
 * Reports when timestamp `later` is earlier than timestamp `earlier`, or equal to it when
 * `strict` is set. Values that are not timestamps are left to their own checks.
 */
export function timeOrder(later: string, earlier: string, strict = false): Constraint {
  return (object, path, problems) => {
    const end = object[later];
    const start = object[earlier];
    if (typeof end !== 'string' || typeof start !== 'string') return;
    const order = compareTimestamps(end, start);
    if (order === undefined || order > 0 || (order === 0 && !strict)) return;
    const relation = strict ? 'later than' : 'later than or equal to';
    problems.add(child(path, later), 'time-order', `must be ${relation} ${earlier} (${start})`);
  };
}

/**
 * The `_enc` companion rule of section 3.1: an encoding property must not be present
 * without the property whose encoding it gives.
 */
export function encodingOf(name: string): Constraint {
  return requires(`${name}_enc`, name);
}

/** The external-reference type (section 2.5). */
export const externalReference = objectOf({
  name: 'external-reference',
  properties: {
    source_name: required(string),
    description: string,
    url,
    hashes: hashes(true),
    external_id: string,
  },
  constraints: [atLeastOneOf('description', 'url', 'external_id'), checkKnownSources],
});

const CVE_ID = /^CVE-\d{4}-(?:0\d{3}|[1-9]\d{3,})$/;
const CAPEC_ID = /^CAPEC-\d+$/;

/**
 * Checks that references to CAPEC and CVE give the id in its standard form (sections
 * 4.1.1 and 4.19.1): `CAPEC-[id]`, and the exact CVE identifier.
 */
function checkKnownSources(object: JsonObject, path: string, problems: ProblemList): void {
  const source = object.source_name;
  const externalId = object.external_id;
  if (source !== 'capec' && source !== 'cve') return;
  const pattern = source === 'capec' ? CAPEC_ID : CVE_ID;
  const form = source === 'capec' ? 'CAPEC-[id]' : 'CVE-YYYY-NNNN';
  if (typeof externalId !== 'string') {
    problems.add(
      child(path, 'external_id'),
      'required',
      `is required when source_name is ${source}`,
    );
  } else if (!pattern.test(externalId)) {
    problems.add(
      child(path, 'external_id'),
      'format',
      `must have the form ${form} when source_name is ${source}, got ${show(externalId)}`,
    );
  }
}

/** The kill-chain-phase type (section 2.11). */
export const killChainPhase = objectOf({
  name: 'kill-chain-phase',
  properties: { kill_chain_name: required(string), phase_name: required(string) },
});
