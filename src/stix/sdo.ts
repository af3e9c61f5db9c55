/**
 * Property tables of the STIX Domain Objects (STIX 2.1 section 4) and the STIX
 * Relationship Objects (section 5). Vocabulary-typed properties (`open-vocab`) accept any
 * string, as open vocabularies allow; enumerations are enforced.
 */

import { PatternSyntaxError, parsePattern } from '../pattern/index.ts';
import type { ObjectSpec } from './common.ts';
import { isTypeName, parseIdentifier } from './ids.ts';
import { type ProblemList, show } from './problems.ts';
import {
  ANY_OBJECT,
  type JsonObject,
  type ValueCheck,
  atLeastOneOf,
  boolean,
  child,
  dictionary,
  enumOf,
  float,
  formatted,
  integer,
  isJsonObject,
  killChainPhase,
  listOf,
  openVocab,
  ref,
  refTo,
  refs,
  required,
  string,
  timeOrder,
  timestamp,
} from './properties.ts';
import { META_TYPES, SCO_OR_CUSTOM, SDO_OR_CUSTOM, SDO_TYPES, SRO_TYPES } from './types.ts';

const strings = listOf(string);
const openVocabs = listOf(openVocab);
const killChainPhases = listOf(killChainPhase);
const software = refTo('software');

/** Pattern languages whose syntax the validator checks. */
const STIX_PATTERN_TYPE = 'stix';

/**
 * A `stix` pattern must follow the STIX patterning grammar (section 9); the parser reports
 * where it failed.
 */
function checkPattern(object: JsonObject, _path: string, problems: ProblemList): void {
  if (object.pattern_type !== STIX_PATTERN_TYPE || typeof object.pattern !== 'string') return;
  try {
    parsePattern(object.pattern);
  } catch (error) {
    if (error instanceof PatternSyntaxError) {
      problems.add(
        'pattern',
        'pattern-syntax',
        `is not a valid STIX pattern (error at offset ${error.position}): ${error.message}`,
      );
    } else {
      // Hostile input may exhaust the parser (a stack overflow, say); it is rejected, not
      // allowed to take the request down.
      const reason = error instanceof Error ? error.message : String(error);
      problems.add('pattern', 'pattern-syntax', `could not be parsed as a STIX pattern: ${reason}`);
    }
  }
}

/** A malware family must have a name (section 4.11.1). */
function familyHasName(object: JsonObject, _path: string, problems: ProblemList): void {
  if (object.is_family === true && !Object.hasOwn(object, 'name')) {
    problems.add('name', 'required', 'is required when is_family is true');
  }
}

/**
 * Checks that a location gives a region, a country, or a latitude and longitude (section
 * 4.10). Latitude and longitude come together, and precision needs both.
 */
function locationIsGiven(object: JsonObject, _path: string, problems: ProblemList): void {
  const has = (name: string): boolean => Object.hasOwn(object, name);
  if (has('latitude') !== has('longitude')) {
    const missing = has('latitude') ? 'longitude' : 'latitude';
    const present = has('latitude') ? 'latitude' : 'longitude';
    problems.add(missing, 'dependency', `is required when ${present} is present`);
  }
  if (has('precision') && !(has('latitude') && has('longitude'))) {
    problems.add('precision', 'dependency', 'requires latitude and longitude to be present');
  }
  if (!has('region') && !has('country') && !(has('latitude') && has('longitude'))) {
    problems.add(
      undefined,
      'at-least-one',
      'a location must have region, country, or latitude and longitude',
    );
  }
}

/** Observed Data carries exactly one of objects and object_refs (section 4.14). */
function observedDataContent(object: JsonObject, _path: string, problems: ProblemList): void {
  const hasObjects = Object.hasOwn(object, 'objects');
  const hasRefs = Object.hasOwn(object, 'object_refs');
  if (hasObjects && hasRefs) {
    problems.add('objects', 'exclusive', 'must not be present together with object_refs');
  } else if (!hasObjects && !hasRefs) {
    problems.add(
      undefined,
      'at-least-one',
      'observed-data must have object_refs (or the deprecated objects)',
    );
  }
  const refList = object.object_refs;
  if (Array.isArray(refList) && refList.length > 0) {
    const hasSco = refList.some((id) => {
      if (typeof id !== 'string') return false;
      const type = parseIdentifier(id)?.type;
      return type !== undefined && !SRO_TYPES.has(type);
    });
    if (!hasSco)
      problems.add('object_refs', 'at-least-one', 'must contain at least one SCO reference');
  }
}

/** Observed Data refers to SCOs and SROs only (section 4.14.1). */
const OBSERVATION_REF = {
  accepts: (type: string) => !SDO_TYPES.has(type) && !META_TYPES.has(type) && type !== 'bundle',
  description: 'an SCO or SRO',
};

/**
 * Checks the deprecated observable container (section 2.13), a dictionary of objects
 * keyed by local reference. Each entry must be an object with a valid `type`.
 * NOTE: entries are not checked against the SCO tables, because they follow STIX 2.0
 * rules (no id, references to local keys) that those tables do not model.
 */
const observableContainer: ValueCheck = dictionary((entry, at, problems) => {
  if (!isJsonObject(entry)) {
    problems.add(at, 'type', 'must be an object (a Cyber-observable Object)');
  } else if (typeof entry.type !== 'string' || !isTypeName(entry.type)) {
    problems.add(
      child(at, 'type'),
      'type-name',
      `must be a valid object type, got ${show(entry.type)}`,
    );
  }
});

/** The source and target of a relationship are SDOs or SCOs (section 5.1.2). */
const RELATIONSHIP_END = {
  accepts: (type: string) => !SRO_TYPES.has(type) && !META_TYPES.has(type) && type !== 'bundle',
  description: 'an SDO or SCO',
};

const RELATIONSHIP_TYPE = /^[a-z0-9-]+$/;

const firstLastSeen = timeOrder('last_seen', 'first_seen');

export const SDO_SPECS: readonly ObjectSpec[] = [
  {
    type: 'attack-pattern',
    category: 'sdo',
    section: '4.1',
    properties: {
      name: required(string),
      description: string,
      aliases: strings,
      kill_chain_phases: killChainPhases,
    },
  },
  {
    type: 'campaign',
    category: 'sdo',
    section: '4.2',
    properties: {
      name: required(string),
      description: string,
      aliases: strings,
      first_seen: timestamp,
      last_seen: timestamp,
      objective: string,
    },
    constraints: [firstLastSeen],
  },
  {
    type: 'course-of-action',
    category: 'sdo',
    section: '4.3',
    properties: { name: required(string), description: string },
  },
  {
    type: 'grouping',
    category: 'sdo',
    section: '4.4',
    properties: {
      name: string,
      description: string,
      context: required(openVocab),
      object_refs: required(refs(ANY_OBJECT)),
    },
  },
  {
    type: 'identity',
    category: 'sdo',
    section: '4.5',
    properties: {
      name: required(string),
      description: string,
      roles: strings,
      identity_class: openVocab,
      sectors: openVocabs,
      contact_information: string,
    },
  },
  {
    type: 'incident',
    category: 'sdo',
    section: '4.6',
    properties: { name: required(string), description: string },
  },
  {
    type: 'indicator',
    category: 'sdo',
    section: '4.7',
    properties: {
      name: string,
      description: string,
      indicator_types: openVocabs,
      pattern: required(string),
      pattern_type: required(openVocab),
      pattern_version: string,
      valid_from: required(timestamp),
      valid_until: timestamp,
      kill_chain_phases: killChainPhases,
    },
    constraints: [timeOrder('valid_until', 'valid_from', true), checkPattern],
  },
  {
    type: 'infrastructure',
    category: 'sdo',
    section: '4.8',
    properties: {
      name: required(string),
      description: string,
      infrastructure_types: openVocabs,
      aliases: strings,
      kill_chain_phases: killChainPhases,
      first_seen: timestamp,
      last_seen: timestamp,
    },
    constraints: [firstLastSeen],
  },
  {
    type: 'intrusion-set',
    category: 'sdo',
    section: '4.9',
    properties: {
      name: required(string),
      description: string,
      aliases: strings,
      first_seen: timestamp,
      last_seen: timestamp,
      goals: strings,
      resource_level: openVocab,
      primary_motivation: openVocab,
      secondary_motivations: openVocabs,
    },
    constraints: [firstLastSeen],
  },
  {
    type: 'location',
    category: 'sdo',
    section: '4.10',
    properties: {
      name: string,
      description: string,
      latitude: float(-90, 90),
      longitude: float(-180, 180),
      precision: float(),
      region: openVocab,
      country: string,
      administrative_area: string,
      city: string,
      street_address: string,
      postal_code: string,
    },
    constraints: [locationIsGiven],
  },
  {
    // NOTE: the STIX 2.1 Errata 01 text lists is_family as optional. The OASIS JSON schema
    // and python-stix2 require it, and so does this table, to agree with both.
    type: 'malware',
    category: 'sdo',
    section: '4.11',
    properties: {
      name: string,
      description: string,
      malware_types: openVocabs,
      is_family: required(boolean),
      aliases: strings,
      kill_chain_phases: killChainPhases,
      first_seen: timestamp,
      last_seen: timestamp,
      operating_system_refs: refs(software),
      architecture_execution_envs: openVocabs,
      implementation_languages: openVocabs,
      capabilities: openVocabs,
      sample_refs: refs(refTo('file', 'artifact')),
    },
    constraints: [familyHasName, firstLastSeen],
  },
  {
    type: 'malware-analysis',
    category: 'sdo',
    section: '4.12',
    properties: {
      product: required(string),
      version: string,
      host_vm_ref: ref(software),
      operating_system_ref: ref(software),
      installed_software_refs: refs(software),
      configuration_version: string,
      modules: strings,
      analysis_engine_version: string,
      analysis_definition_version: string,
      submitted: timestamp,
      analysis_started: timestamp,
      analysis_ended: timestamp,
      result_name: string,
      result: openVocab,
      analysis_sco_refs: refs(SCO_OR_CUSTOM),
      sample_ref: ref(refTo('file', 'network-traffic', 'artifact')),
    },
    constraints: [atLeastOneOf('result', 'analysis_sco_refs')],
  },
  {
    type: 'note',
    category: 'sdo',
    section: '4.13',
    properties: {
      abstract: string,
      content: required(string),
      authors: strings,
      object_refs: required(refs(ANY_OBJECT)),
    },
  },
  {
    type: 'observed-data',
    category: 'sdo',
    section: '4.14',
    properties: {
      first_observed: required(timestamp),
      last_observed: required(timestamp),
      number_observed: required(integer(1, 999_999_999)),
      objects: observableContainer,
      object_refs: refs(OBSERVATION_REF),
    },
    constraints: [timeOrder('last_observed', 'first_observed'), observedDataContent],
  },
  {
    type: 'opinion',
    category: 'sdo',
    section: '4.15',
    properties: {
      explanation: string,
      authors: strings,
      opinion: required(
        enumOf('opinion-enum', [
          'strongly-disagree',
          'disagree',
          'neutral',
          'agree',
          'strongly-agree',
        ]),
      ),
      object_refs: required(refs(ANY_OBJECT)),
    },
  },
  {
    type: 'report',
    category: 'sdo',
    section: '4.16',
    properties: {
      name: required(string),
      description: string,
      report_types: openVocabs,
      published: required(timestamp),
      object_refs: required(refs(ANY_OBJECT)),
    },
  },
  {
    type: 'threat-actor',
    category: 'sdo',
    section: '4.17',
    properties: {
      name: required(string),
      description: string,
      threat_actor_types: openVocabs,
      aliases: strings,
      first_seen: timestamp,
      last_seen: timestamp,
      roles: openVocabs,
      goals: strings,
      sophistication: openVocab,
      resource_level: openVocab,
      primary_motivation: openVocab,
      secondary_motivations: openVocabs,
      personal_motivations: openVocabs,
    },
    constraints: [firstLastSeen],
  },
  {
    type: 'tool',
    category: 'sdo',
    section: '4.18',
    properties: {
      name: required(string),
      description: string,
      tool_types: openVocabs,
      aliases: strings,
      kill_chain_phases: killChainPhases,
      tool_version: string,
    },
  },
  {
    type: 'vulnerability',
    category: 'sdo',
    section: '4.19',
    properties: { name: required(string), description: string },
  },
];

export const SRO_SPECS: readonly ObjectSpec[] = [
  {
    type: 'relationship',
    category: 'sro',
    section: '5.1',
    properties: {
      relationship_type: required(
        formatted((s) => RELATIONSHIP_TYPE.test(s), 'ASCII a-z, 0-9 and hyphens'),
      ),
      description: string,
      source_ref: required(ref(RELATIONSHIP_END)),
      target_ref: required(ref(RELATIONSHIP_END)),
      start_time: timestamp,
      stop_time: timestamp,
    },
    constraints: [timeOrder('stop_time', 'start_time', true)],
  },
  {
    type: 'sighting',
    category: 'sro',
    section: '5.2',
    properties: {
      description: string,
      first_seen: timestamp,
      last_seen: timestamp,
      count: integer(0, 999_999_999),
      sighting_of_ref: required(ref(SDO_OR_CUSTOM)),
      observed_data_refs: refs(refTo('observed-data')),
      where_sighted_refs: refs(refTo('identity', 'location')),
      summary: boolean,
    },
    constraints: [firstLastSeen],
  },
];
