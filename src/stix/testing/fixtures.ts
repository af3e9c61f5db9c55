/**
 * Test fixtures for the STIX model: a minimal valid object of every STIX 2.1 type, and
 * access to the public reference data kept beside the repository.
 */

import { readFileSync } from 'node:fs';
import { dataPath } from '../../testing/data.ts';

/** Resolves the absolute path of a file in the reference data folder (see testing/data.ts). */
export function sharedData(relative: string): string {
  return dataPath(relative);
}

export function readSharedJson(relative: string): unknown {
  return JSON.parse(readFileSync(sharedData(relative), 'utf8'));
}

export type StixObject = Record<string, unknown>;

/**
 * Collects the STIX objects of a parsed file: the objects of bundles, the items of plain
 * lists, and objects nested in envelopes such as TAXII collections. An object is anything
 * with string `type` and `id` other than a bundle.
 */
export function stixObjectsIn(value: unknown): StixObject[] {
  const found: StixObject[] = [];
  const walk = (item: unknown): void => {
    if (Array.isArray(item)) {
      item.forEach(walk);
    } else if (item !== null && typeof item === 'object') {
      const record = item as StixObject;
      if (
        typeof record.type === 'string' &&
        typeof record.id === 'string' &&
        record.type !== 'bundle'
      ) {
        found.push(record);
        return;
      }
      Object.values(record).forEach(walk);
    }
  };
  walk(value);
  return found;
}

const CREATED = '2024-01-02T03:04:05.678Z';
const UUID = '6ba7b810-9dad-41d1-80b4-00c04fd430c8';

/** Builds an identifier of a type, with a fixed valid UUIDv4 by default. */
export function idOf(type: string, uuid = UUID): string {
  return `${type}--${uuid}`;
}

function sdo(type: string, properties: StixObject): StixObject {
  return {
    type,
    spec_version: '2.1',
    id: idOf(type),
    created: CREATED,
    modified: CREATED,
    ...properties,
  };
}

function sco(type: string, properties: StixObject): StixObject {
  return { type, spec_version: '2.1', id: idOf(type), ...properties };
}

/** The smallest valid object of each STIX 2.1 type, as a factory so tests may mutate it. */
const MINIMAL: Readonly<Record<string, () => StixObject>> = {
  'attack-pattern': () => sdo('attack-pattern', { name: 'Spear phishing' }),
  campaign: () => sdo('campaign', { name: 'Operation Bran Flakes' }),
  'course-of-action': () => sdo('course-of-action', { name: 'Block outbound SMB' }),
  grouping: () =>
    sdo('grouping', { context: 'suspicious-activity', object_refs: [idOf('indicator')] }),
  identity: () => sdo('identity', { name: 'ACME Widget, Inc.' }),
  incident: () => sdo('incident', { name: 'Ransomware at the front desk' }),
  indicator: () =>
    sdo('indicator', {
      pattern: "[ipv4-addr:value = '198.51.100.1']",
      pattern_type: 'stix',
      valid_from: '2024-01-01T00:00:00Z',
    }),
  infrastructure: () => sdo('infrastructure', { name: 'Poison Ivy C2' }),
  'intrusion-set': () => sdo('intrusion-set', { name: 'Bobcat Breakin' }),
  location: () => sdo('location', { country: 'ca' }),
  malware: () => sdo('malware', { name: 'Cryptolocker', is_family: true }),
  'malware-analysis': () => sdo('malware-analysis', { product: 'microsoft', result: 'malicious' }),
  note: () => sdo('note', { content: 'This is a note.', object_refs: [idOf('campaign')] }),
  'observed-data': () =>
    sdo('observed-data', {
      first_observed: '2024-01-01T00:00:00Z',
      last_observed: '2024-01-01T00:00:00Z',
      number_observed: 1,
      object_refs: [idOf('ipv4-addr')],
    }),
  opinion: () => sdo('opinion', { opinion: 'agree', object_refs: [idOf('report')] }),
  report: () =>
    sdo('report', {
      name: 'The Black Vine Cyberespionage Group',
      published: '2024-01-01T00:00:00Z',
      object_refs: [idOf('indicator')],
    }),
  'threat-actor': () => sdo('threat-actor', { name: 'Evil Org' }),
  tool: () => sdo('tool', { name: 'VNC' }),
  vulnerability: () => sdo('vulnerability', { name: 'CVE-2016-1234' }),
  relationship: () =>
    sdo('relationship', {
      relationship_type: 'indicates',
      source_ref: idOf('indicator'),
      target_ref: idOf('malware'),
    }),
  sighting: () => sdo('sighting', { sighting_of_ref: idOf('indicator') }),
  artifact: () => sco('artifact', { payload_bin: 'aGVsbG8=' }),
  'autonomous-system': () => sco('autonomous-system', { number: 15139 }),
  directory: () => sco('directory', { path: 'C:\\Windows\\System32' }),
  'domain-name': () => sco('domain-name', { value: 'example.com' }),
  'email-addr': () => sco('email-addr', { value: 'john@example.com' }),
  'email-message': () => sco('email-message', { is_multipart: false }),
  file: () => sco('file', { name: 'foo.exe' }),
  'ipv4-addr': () => sco('ipv4-addr', { value: '198.51.100.3' }),
  'ipv6-addr': () => sco('ipv6-addr', { value: '2001:db8::1' }),
  'mac-addr': () => sco('mac-addr', { value: 'd2:fb:49:24:37:18' }),
  mutex: () => sco('mutex', { name: '__CLEANSWEEP__' }),
  'network-traffic': () =>
    sco('network-traffic', { dst_ref: idOf('ipv4-addr'), protocols: ['tcp'] }),
  process: () => sco('process', { pid: 1221 }),
  software: () => sco('software', { name: 'Word' }),
  url: () => sco('url', { value: 'https://example.com/research/index.html' }),
  'user-account': () => sco('user-account', { user_id: '1001' }),
  'windows-registry-key': () =>
    sco('windows-registry-key', { key: 'HKEY_LOCAL_MACHINE\\System\\Foo' }),
  'x509-certificate': () => sco('x509-certificate', { serial_number: '36:f7:d4:32' }),
  'language-content': () =>
    sdo('language-content', {
      object_ref: idOf('campaign'),
      contents: { de: { name: 'Bank Angriff 1' } },
    }),
  'marking-definition': () => ({
    type: 'marking-definition',
    spec_version: '2.1',
    id: idOf('marking-definition'),
    created: CREATED,
    definition_type: 'statement',
    definition: { statement: 'Copyright 2024, Example Corp' },
  }),
  'extension-definition': () =>
    sdo('extension-definition', {
      created_by_ref: idOf('identity'),
      name: 'Extension Foo',
      schema: 'https://www.example.com/schema-foo/v1/',
      version: '1.2.1',
      extension_types: ['property-extension'],
    }),
};

/** Every STIX 2.1 object type that has a minimal fixture. */
export const FIXTURE_TYPES: readonly string[] = Object.keys(MINIMAL);

/** Builds a fresh minimal valid object of a STIX 2.1 type. */
export function minimal(type: string): StixObject {
  const make = MINIMAL[type];
  if (make === undefined) throw new Error(`no fixture for type ${type}`);
  return make();
}

/** Builds a minimal object with some properties replaced; `undefined` removes one. */
export function withProperties(type: string, changes: StixObject): StixObject {
  const object = minimal(type);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete object[key];
    else object[key] = value;
  }
  return object;
}
