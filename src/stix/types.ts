/**
 * The object types STIX 2.1 defines, by category, and the reference targets built on them.
 */

import type { RefTarget } from './properties.ts';

/** STIX Domain Objects (section 4). */
export const SDO_TYPES: ReadonlySet<string> = new Set([
  'attack-pattern',
  'campaign',
  'course-of-action',
  'grouping',
  'identity',
  'incident',
  'indicator',
  'infrastructure',
  'intrusion-set',
  'location',
  'malware',
  'malware-analysis',
  'note',
  'observed-data',
  'opinion',
  'report',
  'threat-actor',
  'tool',
  'vulnerability',
]);

/** STIX Relationship Objects (section 5). */
export const SRO_TYPES: ReadonlySet<string> = new Set(['relationship', 'sighting']);

/** STIX Cyber-observable Objects (section 6). */
export const SCO_TYPES: ReadonlySet<string> = new Set([
  'artifact',
  'autonomous-system',
  'directory',
  'domain-name',
  'email-addr',
  'email-message',
  'file',
  'ipv4-addr',
  'ipv6-addr',
  'mac-addr',
  'mutex',
  'network-traffic',
  'process',
  'software',
  'url',
  'user-account',
  'windows-registry-key',
  'x509-certificate',
]);

/** STIX Meta Objects (section 7). */
export const META_TYPES: ReadonlySet<string> = new Set([
  'language-content',
  'marking-definition',
  'extension-definition',
]);

/** Every type STIX 2.1 defines, with `bundle` (section 8). */
export const DEFINED_TYPES: ReadonlySet<string> = new Set([
  ...SDO_TYPES,
  ...SRO_TYPES,
  ...SCO_TYPES,
  ...META_TYPES,
  'bundle',
]);

/**
 * Object types that STIX 2.0 already defined: twelve SDOs, the two SROs and the marking
 * definition. An object of one of these types without `spec_version` is STIX 2.0 content.
 */
export const STIX_2_0_TYPES: ReadonlySet<string> = new Set([
  'attack-pattern',
  'campaign',
  'course-of-action',
  'identity',
  'indicator',
  'intrusion-set',
  'malware',
  'observed-data',
  'report',
  'threat-actor',
  'tool',
  'vulnerability',
  'relationship',
  'sighting',
  'marking-definition',
]);

/** An SDO, or a custom type that may be one. */
export const SDO_OR_CUSTOM: RefTarget = {
  accepts: (type) => SDO_TYPES.has(type) || !DEFINED_TYPES.has(type),
  description: 'an SDO',
};

/** An SCO, or a custom type that may be one. */
export const SCO_OR_CUSTOM: RefTarget = {
  accepts: (type) => SCO_TYPES.has(type) || !DEFINED_TYPES.has(type),
  description: 'an SCO',
};

/** Any STIX object; a bundle is not one (section 8). */
export const STIX_OBJECT: RefTarget = {
  accepts: (type) => type !== 'bundle',
  description: 'a STIX object (not a bundle)',
};
