/**
 * Property tables of the STIX Meta Objects (STIX 2.1 section 7): language content,
 * marking definitions and extension definitions.
 */

import { EXTENSION_TYPES, type ObjectSpec, checkNoSelfMarking } from './common.ts';
import { isLanguageTag } from './formats.ts';
import { type ProblemList, show } from './problems.ts';
import {
  type JsonObject,
  type ValueCheck,
  child,
  enumOf,
  isJsonObject,
  listOf,
  objectOf,
  openVocab,
  ref,
  required,
  string,
  timestamp,
} from './properties.ts';
import { checkTlpMarking } from './tlp.ts';

/**
 * Checks the contents of a Language Content object (section 7.1.1). Keys are RFC 5646
 * language codes, and each value is a non-empty object that mirrors the translated
 * properties.
 */
const languageContents: ValueCheck = (value, path, problems) => {
  if (!isJsonObject(value)) {
    problems.add(path, 'type', 'must be a dictionary (object) keyed by language code');
    return;
  }
  const languages = Object.keys(value);
  if (languages.length === 0) {
    problems.add(path, 'empty', 'must not be an empty dictionary');
    return;
  }
  for (const language of languages) {
    const at = child(path, language);
    if (!isLanguageTag(language)) {
      problems.add(at, 'dictionary-key', 'keys must be RFC 5646 language codes');
      continue;
    }
    const translation = value[language];
    if (!isJsonObject(translation) || Object.keys(translation).length === 0) {
      problems.add(at, 'type', 'must be a non-empty object of translated properties');
    }
  }
};

/** The object a Language Content applies to: any STIX object, not a bundle or another translation. */
const TRANSLATED_OBJECT = {
  accepts: (type: string) => type !== 'bundle' && type !== 'language-content',
  description: 'a STIX object other than a bundle or language-content',
};

/** The Statement marking object (section 7.2.1.3). */
const statementMarking = objectOf({
  name: 'statement marking',
  properties: { statement: required(string) },
});

/** Checks the definition of a marking definition against its definition_type and the TLP rules. */
function markingDefinitionContent(object: JsonObject, _path: string, problems: ProblemList): void {
  if (!Object.hasOwn(object, 'extensions')) {
    // Section 7.2.1: without extensions, definition_type and definition are required.
    for (const name of ['definition_type', 'definition']) {
      if (!Object.hasOwn(object, name)) {
        problems.add(name, 'required', 'is required when extensions is not present');
      }
    }
  }
  const definition = object.definition;
  if (Object.hasOwn(object, 'definition') && !isJsonObject(definition)) {
    problems.add('definition', 'type', 'must be an object (the marking object)');
  } else if (object.definition_type === 'statement') {
    statementMarking(definition, 'definition', problems);
  }
  const tlpProblem = checkTlpMarking(object);
  if (tlpProblem !== undefined) problems.add(undefined, 'tlp', tlpProblem);
  checkNoSelfMarking(object, problems);
}

/** extension_properties belongs to top-level property extensions only (section 7.3.1). */
function extensionPropertiesUse(object: JsonObject, _path: string, problems: ProblemList): void {
  if (!Object.hasOwn(object, 'extension_properties')) return;
  const types = object.extension_types;
  if (Array.isArray(types) && !types.includes('toplevel-property-extension')) {
    problems.add(
      'extension_properties',
      'dependency',
      `may only be used when extension_types includes toplevel-property-extension, got ${show(types.join(', '))}`,
    );
  }
}

export const META_SPECS: readonly ObjectSpec[] = [
  {
    type: 'language-content',
    category: 'language-content',
    section: '7.1',
    properties: {
      object_ref: required(ref(TRANSLATED_OBJECT)),
      object_modified: timestamp,
      contents: required(languageContents),
    },
  },
  {
    type: 'marking-definition',
    category: 'marking-definition',
    section: '7.2.1',
    properties: { name: string, definition_type: openVocab, definition: () => {} },
    constraints: [markingDefinitionContent],
  },
  {
    type: 'extension-definition',
    category: 'extension-definition',
    section: '7.3',
    properties: {
      name: required(string),
      description: string,
      schema: required(string),
      version: required(string),
      extension_types: required(listOf(enumOf('extension-type-enum', EXTENSION_TYPES))),
      extension_properties: listOf(string),
    },
    constraints: [extensionPropertiesUse],
  },
];
