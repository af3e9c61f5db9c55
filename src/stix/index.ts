/**
 * The STIX 2.1 model: validation of STIX objects against the specification, the
 * published TLP marking definitions, and deterministic SCO identifiers.
 *
 * This folder owns what a STIX object is and whether one is valid. Of our own code it
 * imports only the pattern parser (../pattern) and the store's PreparedObject type
 * (../store/store.ts). The store, TAXII and ingest layers call into it.
 *
 * Validation is table-driven: common.ts defines the common properties (STIX 2.1 section
 * 3.2), sdo.ts, sco.ts and meta.ts one table per object type (sections 4 to 7), and
 * validate.ts walks an object against them.
 */

export { type StixProblem, type StixRule, STIX_RULES, MAX_PROBLEMS } from './problems.ts';
export { type ValidationResult, MAX_DEPTH, validateObject, versionOf } from './validate.ts';
export {
  type ParsedIdentifier,
  ID_CONTRIBUTING_PROPERTIES,
  SCO_ID_NAMESPACE,
  deterministicScoId,
  identifierType,
  isTypeName,
  isUuid,
  parseIdentifier,
} from './ids.ts';
export {
  type TlpLevel,
  type TlpMarking,
  TLP_1_AMBER,
  TLP_1_GREEN,
  TLP_1_RED,
  TLP_1_WHITE,
  TLP_2_AMBER,
  TLP_2_AMBER_STRICT,
  TLP_2_CLEAR,
  TLP_2_EXTENSION_DEFINITION_ID,
  TLP_2_GREEN,
  TLP_2_RED,
  TLP_MARKINGS,
  checkTlpMarking,
  tlpLevel,
  tlpMarking,
} from './tlp.ts';
export { DEFINED_TYPES, META_TYPES, SCO_TYPES, SDO_TYPES, SRO_TYPES } from './types.ts';
