/**
 * The validator: checks one parsed JSON value against the STIX 2.1 tables and prepares it
 * for the store.
 */

import type { PreparedObject } from '../store/store.ts';
import {
  type Category,
  type ObjectSpec,
  allowsExtensions,
  checkModifiedAfterCreated,
  checkSelectors,
  commonProperties,
  declaredExtensionTypes,
  extensionsCheck,
  requiresSpecVersion,
} from './common.ts';
import { type ParsedIdentifier, isTypeName, parseIdentifier } from './ids.ts';
import { META_SPECS } from './meta.ts';
import { ProblemList, type StixProblem, jsonType, show } from './problems.ts';
import {
  type Constraint,
  type JsonObject,
  type PropertySpec,
  type ValueCheck,
  checkCustomProperty,
  compileProperties,
  isJsonObject,
} from './properties.ts';
import { SCO_SPECS } from './sco.ts';
import { SDO_SPECS, SRO_SPECS } from './sdo.ts';
import { isStixTimestamp, timestampKey } from './timestamp.ts';
import { STIX_2_0_TYPES } from './types.ts';

export type ValidationResult =
  | { ok: true; prepared: PreparedObject }
  | { ok: false; id?: string; version?: string; problems: StixProblem[] };

/**
 * Maximum nesting depth of objects and lists. STIX structures nest about five levels
 * (object, extensions, extension, optional header, hashes), and deeper input is rejected
 * so that hostile nesting cannot exhaust the stack.
 */
export const MAX_DEPTH = 64;

/** Keys that reach object prototypes in JavaScript and are rejected anywhere in an object. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Property names reserved for future use on every object (section 3.8). */
const RESERVED_PROPERTIES: ReadonlySet<string> = new Set([
  'severity',
  'username',
  'phone_number',
  'action',
]);

const STIX_2_0_MESSAGE =
  'STIX 2.0 content is not accepted yet; the object must be converted to STIX 2.1 ' +
  '(spec_version "2.1") before it is sent';

/** A table compiled for lookup: common and type-specific properties together. */
interface CompiledSpec {
  readonly type: string;
  readonly category: Category;
  readonly properties: ReadonlyMap<string, PropertySpec>;
  readonly requiredNames: readonly string[];
  readonly constraints: readonly Constraint[];
  /** The check of `extensions`, or undefined when the category does not use it. */
  readonly extensions: ValueCheck | undefined;
}

function compile(type: string, category: Category, spec?: ObjectSpec): CompiledSpec {
  const properties = commonProperties(category);
  for (const [name, property] of compileProperties(spec?.properties ?? {})) {
    properties.set(name, property);
  }
  const predefined = new Map(Object.entries(spec?.extensions ?? {}));
  const allowCustomExtensions = category === 'sco' || category === 'custom';
  return {
    type,
    category,
    properties,
    requiredNames: [...properties].filter(([, p]) => p.required).map(([name]) => name),
    constraints: spec?.constraints ?? [],
    extensions: allowsExtensions(category)
      ? extensionsCheck(type, predefined, allowCustomExtensions)
      : undefined,
  };
}

const COMPILED: ReadonlyMap<string, CompiledSpec> = new Map(
  [...SDO_SPECS, ...SRO_SPECS, ...SCO_SPECS, ...META_SPECS].map((spec) => [
    spec.type,
    compile(spec.type, spec.category, spec),
  ]),
);

const CUSTOM = compile('custom', 'custom');

/** The version of an object as it writes it: `modified`, else `created`. */
export function versionOf(object: Readonly<Record<string, unknown>>): string | undefined {
  if (typeof object.modified === 'string') return object.modified;
  if (typeof object.created === 'string') return object.created;
  return undefined;
}

function failure(
  object: JsonObject | undefined,
  problems: ProblemList | StixProblem[],
): ValidationResult {
  const items = Array.isArray(problems) ? problems : problems.items;
  const result: Extract<ValidationResult, { ok: false }> = { ok: false, problems: items };
  const id = Array.isArray(problems) ? undefined : problems.id;
  if (id !== undefined) result.id = id;
  const version = object === undefined ? undefined : versionOf(object);
  if (version !== undefined && isStixTimestamp(version)) result.version = version;
  return result;
}

/**
 * Walks every key at every depth and reports prototype keys and nesting deeper than
 * {@link MAX_DEPTH}. Returns false when it found either, so validation stops there.
 */
function checkKeys(value: unknown, path: string, depth: number, problems: ProblemList): boolean {
  if (depth > MAX_DEPTH) {
    problems.add(path, 'depth', `nests deeper than ${MAX_DEPTH} levels`);
    return false;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && typeof item === 'object') {
        if (!checkKeys(item, `${path}[${i}]`, depth + 1, problems)) return false;
      } else if (typeof item === 'number' && !isExactNumber(item)) {
        reportInexact(`${path}[${i}]`, item, problems);
      }
    }
    return true;
  }
  const object = value as JsonObject;
  for (const key of Object.keys(object)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (PROTOTYPE_KEYS.has(key)) {
      problems.add(at, 'prototype-key', `the key ${key} is not allowed anywhere in a STIX object`);
      return false;
    }
    const item = object[key];
    if (item !== null && typeof item === 'object') {
      if (!checkKeys(item, at, depth + 1, problems)) return false;
    } else if (typeof item === 'number' && !isExactNumber(item)) {
      reportInexact(at, item, problems);
    }
  }
  return true;
}

/**
 * Whether a number survives storage unchanged. JSON.parse turns 1e400 into Infinity, which
 * JSON.stringify writes as null, and integers beyond 2^53 lose digits (STIX 2.1 section
 * 2.10 limits integers to that range), so both would be stored as something else.
 */
function isExactNumber(value: number): boolean {
  if (!Number.isFinite(value)) return false;
  return !Number.isInteger(value) || Math.abs(value) <= Number.MAX_SAFE_INTEGER;
}

function reportInexact(path: string, value: number, problems: ProblemList): void {
  const reason = Number.isFinite(value)
    ? `is an integer beyond ±${Number.MAX_SAFE_INTEGER}, which cannot be stored exactly: send it as a string`
    : 'is not a finite number (JSON numbers such as 1e400 overflow)';
  problems.add(path, 'inexact-number', reason);
}

/**
 * Checks spec_version and returns false when the object is STIX 2.0, which ends validation.
 * SCOs may omit spec_version (section 3.2); so may a custom object without created or
 * modified, since STIX 2.0 custom objects always had both.
 */
function checkSpecVersion(
  object: JsonObject,
  compiled: CompiledSpec,
  problems: ProblemList,
): boolean {
  const specVersion = object.spec_version;
  if (specVersion === undefined) {
    const { category } = compiled;
    if (category === 'sco') return true;
    const versioned = Object.hasOwn(object, 'created') || Object.hasOwn(object, 'modified');
    if (category === 'custom' && !versioned) return true;
    if (category === 'custom' || STIX_2_0_TYPES.has(compiled.type)) {
      problems.add('spec_version', 'spec-version', `is missing: ${STIX_2_0_MESSAGE}`);
      return false;
    }
    if (requiresSpecVersion(category))
      problems.add('spec_version', 'required', 'is required and must be "2.1"');
    return true;
  }
  if (specVersion === '2.0') {
    problems.add('spec_version', 'spec-version', `is "2.0": ${STIX_2_0_MESSAGE}`);
    return false;
  }
  if (specVersion !== '2.1') {
    problems.add('spec_version', 'spec-version', `must be "2.1", got ${show(specVersion)}`);
  }
  return true;
}

function checkId(
  object: JsonObject,
  type: string,
  parsed: ParsedIdentifier | undefined,
  problems: ProblemList,
): void {
  const id = object.id;
  if (id === undefined) {
    problems.add('id', 'required', 'is required');
    return;
  }
  if (typeof id !== 'string') {
    problems.add('id', 'type', `must be a string, got ${jsonType(id)}`);
    return;
  }
  if (parsed === undefined) {
    problems.add('id', 'identifier', `must be ${type}--<RFC 4122 UUID>, got ${show(id)}`);
  } else if (parsed.type !== type) {
    problems.add(
      'id',
      'id-type',
      `must start with "${type}--" to match the type property, got ${show(id)}`,
    );
  }
}

/**
 * A custom object that declares itself a new SDO or SRO through an extension definition
 * must carry the common properties of that category (section 7.3).
 */
function checkDeclaredCategory(object: JsonObject, problems: ProblemList): void {
  const declared = declaredExtensionTypes(object);
  if (!declared.has('new-sdo') && !declared.has('new-sro')) return;
  for (const name of ['spec_version', 'created', 'modified']) {
    if (!Object.hasOwn(object, name)) {
      problems.add(name, 'required', 'is required for an object defined as a new SDO or SRO');
    }
  }
}

/**
 * Validates one parsed JSON value as a STIX 2.1 object. A valid object is returned
 * prepared for the store, with the JSON exactly as it will be served. Otherwise the result
 * lists the problems, each naming the object id, the property and the rule.
 */
export function validateObject(value: unknown): ValidationResult {
  if (!isJsonObject(value)) {
    return failure(undefined, [
      {
        rule: 'not-object',
        message: `a STIX object must be a JSON object, got ${jsonType(value)}`,
      },
    ]);
  }
  const object = value;
  const rawId = object.id;
  const parsedId = typeof rawId === 'string' ? parseIdentifier(rawId) : undefined;
  const problems = new ProblemList(parsedId === undefined ? undefined : (rawId as string));
  if (!checkKeys(object, '', 0, problems)) return failure(object, problems);

  const type = object.type;
  if (typeof type !== 'string') {
    if (type === undefined) problems.add('type', 'required', 'is required');
    else problems.add('type', 'type', `must be a string, got ${jsonType(type)}`);
    return failure(object, problems);
  }
  if (!isTypeName(type)) {
    problems.add(
      'type',
      'type-name',
      `must be 3 to 250 characters of a-z, 0-9 and single hyphens, starting with a letter, got ${show(type)}`,
    );
    return failure(object, problems);
  }

  const compiled = COMPILED.get(type) ?? CUSTOM;
  if (!checkSpecVersion(object, compiled, problems)) return failure(object, problems);
  checkId(object, type, parsedId, problems);
  checkProperties(object, compiled, problems);
  checkModifiedAfterCreated(object, problems);
  checkSelectors(object, problems);
  for (const constraint of compiled.constraints) constraint(object, '', problems);
  if (compiled.category === 'custom') checkDeclaredCategory(object, problems);

  if (!problems.empty) return failure(object, problems);
  return { ok: true, prepared: prepare(object, type) };
}

function checkProperties(object: JsonObject, compiled: CompiledSpec, problems: ProblemList): void {
  for (const key of Object.keys(object)) {
    if (key === 'type' || key === 'id' || key === 'spec_version') continue;
    const value = object[key];
    if (key === 'extensions') {
      if (compiled.extensions !== undefined) compiled.extensions(value, key, problems);
      else
        problems.add(
          key,
          'not-applicable',
          `is not a property of ${compiled.type} (STIX 2.1 section 3.2)`,
        );
      continue;
    }
    const property = compiled.properties.get(key);
    if (property !== undefined) property.check(value, key, problems);
    else if (RESERVED_PROPERTIES.has(key)) {
      problems.add(key, 'reserved-property', 'is reserved for future use by STIX 2.1 section 3.8');
    } else checkCustomProperty(key, value, key, problems);
  }
  for (const name of compiled.requiredNames) {
    if (!Object.hasOwn(object, name))
      problems.add(name, 'required', `is required for ${compiled.type}`);
  }
}

function prepare(object: JsonObject, type: string): PreparedObject {
  const version = versionOf(object) ?? '';
  // Objects without created or modified (SCOs) get the empty version and key '0', which
  // TAXII 2.1 section 3.4.1 allows: the server chooses a consistent version for them.
  const versionKey = version === '' ? '0' : (timestampKey(version) as string);
  return {
    id: object.id as string,
    type,
    specVersion: typeof object.spec_version === 'string' ? object.spec_version : '2.1',
    version,
    versionKey,
    json: JSON.stringify(object),
  };
}
