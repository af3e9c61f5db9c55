/**
 * The problems the validator reports, with a closed catalog of rule codes.
 */

/** Each rule code the validator uses, with what it means. Codes are stable; never reuse one. */
export const STIX_RULES = {
  'not-object': 'the value is not a JSON object',
  'prototype-key': 'a key is __proto__, constructor or prototype',
  depth: 'the object nests deeper than the validator follows',
  required: 'a required property is missing',
  'not-applicable': 'a common property that this object type does not use is present',
  type: 'a value has the wrong JSON type',
  'type-name': 'a type name breaks the naming rules',
  'property-name': 'a property or extension property name breaks the naming rules',
  'reserved-property': 'a property name is reserved by the specification',
  'dictionary-key': 'a dictionary key breaks the key rules',
  'spec-version': 'spec_version is missing, not 2.1, or the object is STIX 2.0',
  identifier: 'a value is not a valid type--UUID identifier',
  'id-type': 'the type part of the id differs from the type property',
  'ref-type': 'a reference points at an object type it may not point at',
  timestamp: 'a value is not an RFC 3339 UTC timestamp',
  'timestamp-precision': 'a timestamp has too few or too many fractional digits',
  'modified-before-created': 'modified is earlier than created',
  'time-order': 'two timestamps of the object are in the wrong order',
  range: 'a number is outside its allowed range',
  'inexact-number': 'a number is not finite or is an integer too large to store exactly',
  enum: 'a value is not one of the values of an enumeration',
  format: 'a string does not follow the format its property requires',
  empty: 'a list or dictionary is empty',
  exclusive: 'properties that exclude each other are both present',
  dependency: 'a property is present without the property it depends on',
  'at-least-one': 'none of a set of properties of which one is required is present',
  hashes: 'a hash algorithm name or digest is invalid',
  extension: 'an extension key or extension content is invalid',
  selector: 'a granular marking selector does not select present content',
  'circular-marking': 'a marking definition marks itself',
  tlp: 'a TLP marking definition differs from the published one',
  'pattern-syntax': 'the STIX pattern does not follow the pattern grammar',
} as const;

export type StixRule = keyof typeof STIX_RULES;

/** One problem found in an object. `message` names the object id, the property and the rule. */
export interface StixProblem {
  id?: string;
  property?: string;
  rule: string;
  message: string;
}

/**
 * Maximum number of problems reported for one object. Hostile input can break a rule once
 * per list item, so later problems are dropped: the first ones already reject the object.
 */
export const MAX_PROBLEMS = 50;

/** Collects the problems of one object. */
export class ProblemList {
  readonly items: StixProblem[] = [];

  constructor(readonly id: string | undefined) {}

  add(property: string | undefined, rule: StixRule, detail: string): void {
    if (this.items.length >= MAX_PROBLEMS) return;
    const subject = this.id ?? 'object';
    const message =
      property === undefined
        ? `${subject}: ${detail}`
        : `${subject} property "${property}": ${detail}`;
    // Built in this key order so that serialised problems read id, property, rule, message.
    const problem = {} as StixProblem;
    if (this.id !== undefined) problem.id = this.id;
    if (property !== undefined) problem.property = property;
    problem.rule = rule;
    problem.message = message;
    this.items.push(problem);
  }

  get empty(): boolean {
    return this.items.length === 0;
  }
}

/**
 * Formats a value for a message. A string is quoted as JSON and cut to about 80
 * characters, so that hostile input stays readable and cheap. An object or array is shown
 * only by its JSON type.
 */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 80 ? `${JSON.stringify(value.slice(0, 77))}...` : JSON.stringify(value);
  }
  if (value !== null && typeof value === 'object') return `(${jsonType(value)})`;
  return String(value);
}

/** Names the JSON type of a value for messages. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
