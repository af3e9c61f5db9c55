/**
 * Common properties (STIX 2.1 section 3.2), the categories of objects that use them, data
 * markings (section 7.2) and the `extensions` dictionary (sections 3.2, 3.10, 7.3, 11.3).
 */

import { isTypeName, parseIdentifier } from './ids.ts';
import { type ProblemList, show } from './problems.ts';
import {
  type Constraint,
  type JsonObject,
  type PropertySpec,
  type ValueCheck,
  boolean,
  checkCustomProperty,
  child,
  enumOf,
  externalReference,
  integer,
  isJsonObject,
  languageTag,
  listOf,
  objectOf,
  ref,
  refTo,
  required,
  string,
  timestamp,
} from './properties.ts';
import { compareTimestamps, fractionDigits, isStixTimestamp, timestampKey } from './timestamp.ts';

/** Object categories, which decide the common properties an object uses (section 3.2). */
export type Category =
  | 'sdo'
  | 'sro'
  | 'sco'
  | 'language-content'
  | 'marking-definition'
  | 'extension-definition'
  | 'custom';

/** The table of one object type STIX 2.1 defines. */
export interface ObjectSpec {
  readonly type: string;
  readonly category: Exclude<Category, 'custom'>;
  /** The section of STIX 2.1 that defines the type. */
  readonly section: string;
  /** Type-specific properties; common ones come from the category. */
  readonly properties: Readonly<Record<string, ValueCheck | PropertySpec>>;
  readonly constraints?: readonly Constraint[];
  /** Predefined extensions of an SCO type, by extension name (section 3.10). */
  readonly extensions?: Readonly<Record<string, ValueCheck>>;
}

/** Extension types of `extension-type-enum` (section 10.5). */
export const EXTENSION_TYPES = [
  'new-sdo',
  'new-sco',
  'new-sro',
  'property-extension',
  'toplevel-property-extension',
] as const;

/**
 * `created` and `modified` of versioned objects: timestamps with at least millisecond
 * precision (section 3.2). Timestamps that timestampKey cannot key (more than nine
 * significant fractional digits, or year 0000) are rejected as well, because the store
 * orders versions by that key.
 */
export const versionTimestamp: ValueCheck = (value, path, problems) => {
  // timestampKey parses once and answers both questions on the common path.
  if (typeof value === 'string' && timestampKey(value) !== undefined) {
    if (fractionDigits(value) < 3) {
      problems.add(
        path,
        'timestamp-precision',
        `must have at least millisecond precision (three fractional digits), got ${show(value)}`,
      );
    }
    return;
  }
  timestamp(value, path, problems);
  if (typeof value === 'string' && isStixTimestamp(value)) unkeyable(value, path, problems);
};

/** Reports a valid timestamp that the store cannot order as a version. */
function unkeyable(value: string, path: string, problems: ProblemList): void {
  const detail = value.startsWith('0000-')
    ? 'must not be in year 0000'
    : 'must not be more precise than nanoseconds';
  problems.add(path, 'timestamp-precision', `${detail}, got ${show(value)}`);
}

/**
 * `created` of a marking definition: any precision up to nanoseconds.
 * NOTE: the millisecond minimum of section 3.2 is not enforced here, because the OASIS
 * JSON schema does not require it for marking definitions and published ones (such as
 * the MITRE ATT&CK copyright statement) use whole seconds.
 */
const markingCreated: ValueCheck = (value, path, problems) => {
  if (typeof value === 'string' && timestampKey(value) !== undefined) return;
  timestamp(value, path, problems);
  if (typeof value === 'string' && isStixTimestamp(value)) unkeyable(value, path, problems);
};

/** The granular-marking type (section 7.2.3); selectors are resolved by checkSelectors. */
const granularMarking = objectOf({
  name: 'granular-marking',
  properties: {
    selectors: required(listOf(string)),
    lang: languageTag,
    marking_ref: ref(refTo('marking-definition')),
  },
  constraints: [
    (marking, path, problems) => {
      const hasLang = Object.hasOwn(marking, 'lang');
      const hasRef = Object.hasOwn(marking, 'marking_ref');
      if (hasLang === hasRef) {
        problems.add(
          path,
          hasLang ? 'exclusive' : 'at-least-one',
          'a granular marking must have exactly one of lang and marking_ref',
        );
      }
    },
  ],
});

/** Checks of the common properties, by name. `type`, `id` and `spec_version` are handled first. */
const COMMON_CHECKS: ReadonlyMap<string, ValueCheck> = new Map<string, ValueCheck>([
  ['created_by_ref', ref(refTo('identity'))],
  ['created', versionTimestamp],
  ['modified', versionTimestamp],
  ['revoked', boolean],
  ['labels', listOf(string)],
  ['confidence', integer(0, 100)],
  ['lang', languageTag],
  ['external_references', listOf(externalReference)],
  ['object_marking_refs', listOf(ref(refTo('marking-definition')))],
  ['granular_markings', listOf(granularMarking)],
  ['defanged', boolean],
]);

/** Names of all common properties that COMMON_CHECKS or the validator core handle. */
export const COMMON_PROPERTY_NAMES: ReadonlySet<string> = new Set([
  'type',
  'spec_version',
  'id',
  'extensions',
  ...COMMON_CHECKS.keys(),
]);

type Use = 'required' | 'optional';

/** Use of each common property by category. A name left out is not applicable. */
const COMMON_USE: Readonly<Record<Category, Readonly<Record<string, Use>>>> = {
  // Sections 4 and 5: every SDO and SRO table lists the same common properties.
  sdo: sdoUse(),
  sro: sdoUse(),
  // Section 6. Section 3.6 lets a producer version an SCO, so the four versioning
  // properties are accepted and checked when present.
  sco: {
    spec_version: 'optional',
    object_marking_refs: 'optional',
    granular_markings: 'optional',
    defanged: 'optional',
    extensions: 'optional',
    created_by_ref: 'optional',
    created: 'optional',
    modified: 'optional',
    revoked: 'optional',
  },
  // Section 7.1.1.
  'language-content': {
    spec_version: 'required',
    created: 'required',
    modified: 'required',
    created_by_ref: 'optional',
    revoked: 'optional',
    labels: 'optional',
    confidence: 'optional',
    external_references: 'optional',
    object_marking_refs: 'optional',
    granular_markings: 'optional',
    extensions: 'optional',
  },
  // Section 7.2.1: marking definitions are never versioned, so they have no modified.
  'marking-definition': {
    spec_version: 'required',
    created: 'required',
    created_by_ref: 'optional',
    external_references: 'optional',
    object_marking_refs: 'optional',
    granular_markings: 'optional',
    extensions: 'optional',
  },
  // Section 7.3.1.
  'extension-definition': {
    spec_version: 'required',
    created: 'required',
    modified: 'required',
    created_by_ref: 'required',
    revoked: 'optional',
    labels: 'optional',
    external_references: 'optional',
    object_marking_refs: 'optional',
    granular_markings: 'optional',
  },
  // Custom objects (section 11.2) may be SDO-like or SCO-like, so every common property
  // is accepted and checked when present.
  custom: {
    spec_version: 'optional',
    created_by_ref: 'optional',
    created: 'optional',
    modified: 'optional',
    revoked: 'optional',
    labels: 'optional',
    confidence: 'optional',
    lang: 'optional',
    external_references: 'optional',
    object_marking_refs: 'optional',
    granular_markings: 'optional',
    defanged: 'optional',
    extensions: 'optional',
  },
};

function sdoUse(): Record<string, Use> {
  return {
    spec_version: 'required',
    created: 'required',
    modified: 'required',
    created_by_ref: 'optional',
    revoked: 'optional',
    labels: 'optional',
    confidence: 'optional',
    lang: 'optional',
    external_references: 'optional',
    object_marking_refs: 'optional',
    granular_markings: 'optional',
    extensions: 'optional',
  };
}

/**
 * Builds the common properties of a category as PropertySpecs, `extensions` excluded.
 * A common property the category does not use gets a check that rejects it, because
 * section 11.2.1 forbids reusing common property names for anything else.
 */
export function commonProperties(category: Category): Map<string, PropertySpec> {
  const use = COMMON_USE[category];
  const properties = new Map<string, PropertySpec>();
  for (const [name, check] of COMMON_CHECKS) {
    const how = use[name];
    if (how === undefined) {
      properties.set(name, { check: notApplicable(category), required: false });
    } else if (name === 'created' && category === 'marking-definition') {
      properties.set(name, { check: markingCreated, required: true });
    } else {
      properties.set(name, { check, required: how === 'required' });
    }
  }
  return properties;
}

/** Checks whether a category requires `spec_version`. */
export function requiresSpecVersion(category: Category): boolean {
  return COMMON_USE[category].spec_version === 'required';
}

/** Checks whether a category may have `extensions`. */
export function allowsExtensions(category: Category): boolean {
  return COMMON_USE[category].extensions !== undefined;
}

function notApplicable(category: Category): ValueCheck {
  const what = CATEGORY_NAMES[category];
  return (_value, path, problems) => {
    problems.add(path, 'not-applicable', `is not a property of ${what} (STIX 2.1 section 3.2)`);
  };
}

const CATEGORY_NAMES: Readonly<Record<Category, string>> = {
  sdo: 'STIX Domain Objects',
  sro: 'STIX Relationship Objects',
  sco: 'STIX Cyber-observable Objects',
  'language-content': 'language-content objects',
  'marking-definition': 'marking-definition objects',
  'extension-definition': 'extension-definition objects',
  custom: 'custom objects',
};

/** `modified` must not be earlier than `created` (sections 3.2 and 3.6.1). */
export function checkModifiedAfterCreated(object: JsonObject, problems: ProblemList): void {
  const created = object.created;
  const modified = object.modified;
  if (typeof created !== 'string' || typeof modified !== 'string' || created === modified) return;
  const order = compareTimestamps(modified, created);
  if (order !== undefined && order < 0) {
    problems.add(
      'modified',
      'modified-before-created',
      `must be later than or equal to created (${created})`,
    );
  }
}

/**
 * Checks that granular marking selectors select content that is present (section 7.2.3).
 * Each `.`-separated component is a property name, a dictionary key, or `[n]` for a list
 * index.
 */
export function checkSelectors(object: JsonObject, problems: ProblemList): void {
  const markings = object.granular_markings;
  if (!Array.isArray(markings)) return;
  markings.forEach((marking, m) => {
    if (!isJsonObject(marking) || !Array.isArray(marking.selectors)) return;
    marking.selectors.forEach((selector, s) => {
      if (typeof selector !== 'string') return;
      const problem = resolveSelector(object, selector);
      if (problem !== undefined) {
        problems.add(
          `granular_markings[${m}].selectors[${s}]`,
          'selector',
          `selector ${show(selector)} ${problem}`,
        );
      }
    });
  });
}

const LIST_INDEX = /^\[(0|[1-9][0-9]{0,9})\]$/;

function resolveSelector(object: JsonObject, selector: string): string | undefined {
  if (selector === '') return 'is empty';
  let current: unknown = object;
  for (const component of selector.split('.')) {
    const index = LIST_INDEX.exec(component);
    if (index) {
      if (!Array.isArray(current)) return `uses ${component} on a value that is not a list`;
      const position = Number(index[1]);
      if (position >= current.length) return `selects ${component} past the end of a list`;
      current = current[position];
    } else {
      if (!isJsonObject(current)) return `uses ${show(component)} on a value that is not an object`;
      if (!Object.hasOwn(current, component))
        return `selects ${show(component)}, which is not present`;
      current = current[component];
    }
  }
  return undefined;
}

/**
 * A marking definition must not mark itself (section 3.2, object_marking_refs and
 * granular_markings).
 */
export function checkNoSelfMarking(object: JsonObject, problems: ProblemList): void {
  const id = object.id;
  const refs = object.object_marking_refs;
  if (Array.isArray(refs) && refs.includes(id)) {
    problems.add(
      'object_marking_refs',
      'circular-marking',
      'must not contain the marking definition itself',
    );
  }
  const granular = object.granular_markings;
  if (!Array.isArray(granular)) return;
  granular.forEach((marking, i) => {
    if (isJsonObject(marking) && marking.marking_ref === id) {
      problems.add(
        `granular_markings[${i}].marking_ref`,
        'circular-marking',
        'must not refer to the marking definition itself',
      );
    }
  });
}

const extensionType = enumOf('extension-type-enum', EXTENSION_TYPES);

/**
 * Checks an extension that uses an extension definition (section 7.3): `extension_type`
 * is required, and the other properties follow the extension property name rules (7.3.2).
 */
function checkDefinedExtension(value: unknown, path: string, problems: ProblemList): void {
  if (!isJsonObject(value)) {
    problems.add(path, 'extension', 'an extension must be an object');
    return;
  }
  if (!Object.hasOwn(value, 'extension_type')) {
    problems.add(
      child(path, 'extension_type'),
      'required',
      'is required in an extension that uses an extension definition',
    );
  }
  for (const key of Object.keys(value)) {
    const at = child(path, key);
    if (key === 'extension_type') extensionType(value[key], at, problems);
    else checkCustomProperty(key, value[key], at, problems);
  }
}

/** Checks a custom SCO extension (section 11.3, deprecated): content and property names. */
function checkCustomExtension(value: unknown, path: string, problems: ProblemList): void {
  if (!isJsonObject(value) || Object.keys(value).length === 0) {
    problems.add(
      path,
      'extension',
      'a custom extension must be an object with at least one property',
    );
    return;
  }
  for (const key of Object.keys(value))
    checkCustomProperty(key, value[key], child(path, key), problems);
}

/** Names of all predefined extensions with the SCO type each belongs to (section 6). */
export const PREDEFINED_EXTENSION_OWNERS: ReadonlyMap<string, string> = new Map([
  ['archive-ext', 'file'],
  ['ntfs-ext', 'file'],
  ['pdf-ext', 'file'],
  ['raster-image-ext', 'file'],
  ['windows-pebinary-ext', 'file'],
  ['http-request-ext', 'network-traffic'],
  ['icmp-ext', 'network-traffic'],
  ['socket-ext', 'network-traffic'],
  ['tcp-ext', 'network-traffic'],
  ['windows-process-ext', 'process'],
  ['windows-service-ext', 'process'],
  ['unix-account-ext', 'user-account'],
]);

/**
 * Builds the check of an `extensions` dictionary. Keys are the id of an extension
 * definition (section 7.3), a predefined extension of the object's own type (section
 * 3.10), or, where `allowCustom` is set (SCOs and custom objects), a deprecated custom
 * extension name ending in `-ext` (section 11.3).
 */
export function extensionsCheck(
  type: string,
  predefined: ReadonlyMap<string, ValueCheck>,
  allowCustom: boolean,
): ValueCheck {
  return (value, path, problems) => {
    if (!isJsonObject(value)) {
      problems.add(path, 'type', 'must be a dictionary (object) of extensions');
      return;
    }
    const keys = Object.keys(value);
    if (keys.length === 0) {
      problems.add(path, 'empty', 'must not be an empty dictionary');
      return;
    }
    for (const key of keys) {
      const at = child(path, key);
      const content = value[key];
      const definitionId = parseIdentifier(key);
      if (definitionId !== undefined) {
        if (definitionId.type === 'extension-definition')
          checkDefinedExtension(content, at, problems);
        else
          problems.add(
            at,
            'extension',
            `extension keys that are ids must be extension-definition ids`,
          );
        continue;
      }
      const check = predefined.get(key);
      if (check !== undefined) {
        check(content, at, problems);
        continue;
      }
      const owner = PREDEFINED_EXTENSION_OWNERS.get(key);
      if (owner !== undefined) {
        problems.add(
          at,
          'extension',
          `the predefined extension ${key} belongs to ${owner}, not ${type}`,
        );
      } else if (allowCustom && key.endsWith('-ext') && isTypeName(key)) {
        checkCustomExtension(content, at, problems);
      } else {
        problems.add(
          at,
          'extension',
          allowCustom
            ? 'extension keys must be an extension-definition id, a predefined extension name or a custom name ending in -ext'
            : 'extension keys must be an extension-definition id',
        );
      }
    }
  };
}

/** Collects the extension types an object declares through extension definitions. */
export function declaredExtensionTypes(object: JsonObject): Set<string> {
  const types = new Set<string>();
  const extensions = object.extensions;
  if (!isJsonObject(extensions)) return types;
  for (const key of Object.keys(extensions)) {
    const content = extensions[key];
    if (isJsonObject(content) && typeof content.extension_type === 'string') {
      types.add(content.extension_type);
    }
  }
  return types;
}
