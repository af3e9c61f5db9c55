import { describe } from 'node:test';
import { acceptCases, rejectCases } from './testing/cases.ts';
import { idOf, withProperties } from './testing/fixtures.ts';

const EXTENSION = 'extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e';

describe('created and modified', () => {
  rejectCases([
    {
      name: 'February 30',
      object: withProperties('tool', { created: '2020-02-30T00:00:00.000Z' }),
      rule: 'timestamp',
      property: 'created',
    },
    {
      name: 'hour 24',
      object: withProperties('tool', { modified: '2020-01-01T24:00:00.000Z' }),
      rule: 'timestamp',
      property: 'modified',
    },
    {
      name: 'offset +01:00',
      object: withProperties('tool', { created: '2020-01-01T00:00:00.000+01:00' }),
      rule: 'timestamp',
    },
    {
      name: 'offset +00:00',
      object: withProperties('tool', { created: '2020-01-01T00:00:00.000+00:00' }),
      rule: 'timestamp',
    },
    {
      name: 'lowercase z',
      object: withProperties('tool', { created: '2020-01-01T00:00:00.000z' }),
      rule: 'timestamp',
    },
    {
      name: 'space separator',
      object: withProperties('tool', { created: '2020-01-01 00:00:00.000Z' }),
      rule: 'timestamp',
    },
    {
      name: 'no seconds',
      object: withProperties('tool', { created: '2020-01-01T00:00Z' }),
      rule: 'timestamp',
    },
    {
      name: 'empty fraction',
      object: withProperties('tool', { created: '2020-01-01T00:00:00.Z' }),
      rule: 'timestamp',
    },
    {
      name: 'epoch number',
      object: withProperties('tool', { created: 1577836800 }),
      rule: 'type',
      property: 'created',
    },
    {
      name: 'whole seconds',
      object: withProperties('tool', {
        created: '2020-01-01T00:00:00Z',
        modified: '2020-01-01T00:00:00Z',
      }),
      rule: 'timestamp-precision',
      property: 'created',
    },
    {
      name: 'centiseconds',
      object: withProperties('tool', { modified: '2025-01-01T00:00:00.12Z' }),
      rule: 'timestamp-precision',
      property: 'modified',
    },
    {
      name: 'ten fractional digits',
      object: withProperties('tool', { modified: '2025-01-01T00:00:00.1234567891Z' }),
      rule: 'timestamp-precision',
    },
    {
      name: 'year 0000',
      object: withProperties('tool', {
        created: '0000-01-01T00:00:00.000Z',
        modified: '0000-01-01T00:00:00.000Z',
      }),
      rule: 'timestamp-precision',
    },
    {
      name: 'modified before created',
      object: withProperties('tool', {
        created: '2024-01-02T00:00:00.000Z',
        modified: '2024-01-01T23:59:59.999Z',
      }),
      rule: 'modified-before-created',
      property: 'modified',
    },
    {
      name: 'modified a nanosecond early',
      object: withProperties('tool', {
        created: '2024-01-02T00:00:00.000000001Z',
        modified: '2024-01-02T00:00:00.000Z',
      }),
      rule: 'modified-before-created',
    },
  ]);
  acceptCases([
    {
      name: 'leap second',
      object: withProperties('tool', {
        created: '2016-12-31T23:59:60.000Z',
        modified: '2016-12-31T23:59:60.000Z',
      }),
    },
    {
      name: 'February 29 of leap year',
      object: withProperties('tool', {
        created: '2024-02-29T00:00:00.000Z',
        modified: '2024-02-29T00:00:00.000Z',
      }),
    },
    {
      name: 'nanoseconds',
      object: withProperties('tool', { modified: '2025-01-01T00:00:00.123456789Z' }),
    },
    {
      name: 'same instant other precision',
      object: withProperties('tool', {
        created: '2024-01-02T00:00:00.000Z',
        modified: '2024-01-02T00:00:00.000000Z',
      }),
    },
  ]);
});

describe('created_by_ref, revoked, labels, confidence, lang', () => {
  rejectCases([
    {
      name: 'created_by_ref to malware',
      object: withProperties('tool', { created_by_ref: idOf('malware') }),
      rule: 'ref-type',
      property: 'created_by_ref',
    },
    {
      name: 'created_by_ref not an id',
      object: withProperties('tool', { created_by_ref: 'ACME' }),
      rule: 'identifier',
    },
    {
      name: 'revoked string',
      object: withProperties('tool', { revoked: 'true' }),
      rule: 'type',
      property: 'revoked',
    },
    {
      name: 'labels empty',
      object: withProperties('tool', { labels: [] }),
      rule: 'empty',
      property: 'labels',
    },
    {
      name: 'labels string',
      object: withProperties('tool', { labels: 'a' }),
      rule: 'type',
      property: 'labels',
    },
    {
      name: 'labels number item',
      object: withProperties('tool', { labels: ['a', 2] }),
      rule: 'type',
      property: 'labels[1]',
    },
    {
      name: 'confidence 101',
      object: withProperties('tool', { confidence: 101 }),
      rule: 'range',
      property: 'confidence',
    },
    { name: 'confidence -1', object: withProperties('tool', { confidence: -1 }), rule: 'range' },
    {
      name: 'confidence fraction',
      object: withProperties('tool', { confidence: 50.5 }),
      rule: 'type',
    },
    {
      name: 'confidence string',
      object: withProperties('tool', { confidence: '50' }),
      rule: 'type',
    },
    {
      name: 'lang punctuation',
      object: withProperties('tool', { lang: 'english!' }),
      rule: 'format',
      property: 'lang',
    },
    { name: 'lang empty', object: withProperties('tool', { lang: '' }), rule: 'format' },
    { name: 'lang single letter', object: withProperties('tool', { lang: 'e' }), rule: 'format' },
    {
      name: 'lang duplicate variant',
      object: withProperties('tool', { lang: 'de-1996-1996' }),
      rule: 'format',
    },
    {
      name: 'defanged on SDO',
      object: withProperties('tool', { defanged: true }),
      rule: 'not-applicable',
      property: 'defanged',
    },
    {
      name: 'labels on SCO',
      object: withProperties('url', { labels: ['a'] }),
      rule: 'not-applicable',
      property: 'labels',
    },
    { name: 'lang on SCO', object: withProperties('url', { lang: 'en' }), rule: 'not-applicable' },
    {
      name: 'external_references on SCO',
      object: withProperties('url', {
        external_references: [{ source_name: 'a', external_id: 'b' }],
      }),
      rule: 'not-applicable',
    },
  ]);
  acceptCases([
    { name: 'confidence 0', object: withProperties('tool', { confidence: 0 }) },
    { name: 'confidence 100', object: withProperties('tool', { confidence: 100 }) },
    { name: 'lang region', object: withProperties('tool', { lang: 'en-US' }) },
    { name: 'lang script and region', object: withProperties('tool', { lang: 'zh-Hant-TW' }) },
    { name: 'lang private use', object: withProperties('tool', { lang: 'x-klingon' }) },
    { name: 'lang grandfathered', object: withProperties('tool', { lang: 'i-klingon' }) },
    { name: 'defanged on SCO', object: withProperties('url', { defanged: true }) },
  ]);
});

describe('external_references', () => {
  const ref = (reference: Record<string, unknown>): Record<string, unknown> =>
    withProperties('attack-pattern', { external_references: [reference] });
  rejectCases([
    {
      name: 'empty list',
      object: withProperties('tool', { external_references: [] }),
      rule: 'empty',
    },
    {
      name: 'without source_name',
      object: ref({ url: 'https://example.com' }),
      rule: 'required',
      property: 'external_references[0].source_name',
    },
    {
      name: 'only source_name',
      object: ref({ source_name: 'acme' }),
      rule: 'at-least-one',
      property: 'external_references[0]',
    },
    {
      name: 'url without scheme',
      object: ref({ source_name: 'acme', url: 'example.com/report' }),
      rule: 'format',
      property: 'external_references[0].url',
    },
    {
      name: 'url with space',
      object: ref({ source_name: 'acme', url: 'https://example.com/a report' }),
      rule: 'format',
    },
    {
      name: 'lower-case hash name',
      object: ref({ source_name: 'acme', url: 'https://a.example', hashes: { sha256: 'aa' } }),
      rule: 'hashes',
      property: 'external_references[0].hashes.sha256',
    },
    {
      name: 'custom hash name',
      object: ref({ source_name: 'acme', url: 'https://a.example', hashes: { x_foo: 'aa' } }),
      rule: 'hashes',
    },
    {
      name: 'short SHA-256',
      object: ref({ source_name: 'acme', url: 'https://a.example', hashes: { 'SHA-256': 'abc' } }),
      rule: 'hashes',
    },
    {
      name: 'CAPEC id form',
      object: ref({ source_name: 'capec', external_id: 'CAPEC-X1' }),
      rule: 'format',
      property: 'external_references[0].external_id',
    },
    {
      name: 'CAPEC without id',
      object: ref({ source_name: 'capec', url: 'https://capec.mitre.org/' }),
      rule: 'required',
    },
    {
      name: 'CVE lower case',
      object: ref({ source_name: 'cve', external_id: 'cve-2014-0160' }),
      rule: 'format',
    },
    {
      name: 'item not object',
      object: withProperties('tool', { external_references: ['https://a.example'] }),
      rule: 'type',
    },
  ]);
  acceptCases([
    { name: 'CAPEC', object: ref({ source_name: 'capec', external_id: 'CAPEC-550' }) },
    { name: 'CVE', object: ref({ source_name: 'cve', external_id: 'CVE-2014-0160' }) },
    {
      name: 'description only',
      object: ref({ source_name: 'ACME Threat Intel', description: 'Threat report' }),
    },
    {
      name: 'url with query and fragment',
      object: ref({ source_name: 'a', url: 'https://a.example:8443/p/a%20b?q=1&r=2#frag' }),
    },
    {
      name: 'url with IPv6 host',
      object: ref({ source_name: 'a', url: 'http://[2001:db8::1]/x' }),
    },
    {
      name: 'hash of url',
      object: ref({
        source_name: 'veris',
        url: 'https://a.example',
        hashes: { 'SHA-256': '6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b' },
      }),
    },
  ]);
});

describe('object markings', () => {
  rejectCases([
    {
      name: 'ref to identity',
      object: withProperties('tool', { object_marking_refs: [idOf('identity')] }),
      rule: 'ref-type',
      property: 'object_marking_refs[0]',
    },
    {
      name: 'empty list',
      object: withProperties('tool', { object_marking_refs: [] }),
      rule: 'empty',
    },
    {
      name: 'string not list',
      object: withProperties('tool', { object_marking_refs: idOf('marking-definition') }),
      rule: 'type',
    },
  ]);
});

describe('granular markings', () => {
  const marking = idOf('marking-definition');
  const marked = (
    markings: unknown[],
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> =>
    withProperties('vulnerability', {
      description: 'The (1) TLS...',
      labels: ['heartbleed', 'has-logo'],
      external_references: [{ source_name: 'cve', external_id: 'CVE-2014-0160' }],
      granular_markings: markings,
      ...extra,
    });
  rejectCases([
    {
      name: 'absent property',
      object: marked([{ marking_ref: marking, selectors: ['pattern'] }]),
      rule: 'selector',
      property: 'granular_markings[0].selectors[0]',
    },
    {
      name: 'index past end',
      object: marked([{ marking_ref: marking, selectors: ['external_references.[3]'] }]),
      rule: 'selector',
    },
    {
      name: 'index into string',
      object: marked([{ marking_ref: marking, selectors: ['description.[0]'] }]),
      rule: 'selector',
    },
    {
      name: 'key into list',
      object: marked([{ marking_ref: marking, selectors: ['labels.name'] }]),
      rule: 'selector',
    },
    {
      name: 'empty selector',
      object: marked([{ marking_ref: marking, selectors: [''] }]),
      rule: 'selector',
    },
    {
      name: 'both lang and marking_ref',
      object: marked([{ marking_ref: marking, lang: 'en', selectors: ['description'] }]),
      rule: 'exclusive',
      property: 'granular_markings[0]',
    },
    {
      name: 'neither lang nor marking_ref',
      object: marked([{ selectors: ['description'] }]),
      rule: 'at-least-one',
    },
    {
      name: 'no selectors',
      object: marked([{ marking_ref: marking }]),
      rule: 'required',
      property: 'granular_markings[0].selectors',
    },
    {
      name: 'empty selectors',
      object: marked([{ marking_ref: marking, selectors: [] }]),
      rule: 'empty',
    },
    {
      name: 'marking_ref to identity',
      object: marked([{ marking_ref: idOf('identity'), selectors: ['description'] }]),
      rule: 'ref-type',
    },
    {
      name: 'bad lang',
      object: marked([{ lang: 'not a tag', selectors: ['description'] }]),
      rule: 'format',
    },
  ]);
  acceptCases([
    { name: 'description', object: marked([{ marking_ref: marking, selectors: ['description'] }]) },
    {
      name: 'nested source_name',
      object: marked([
        { marking_ref: marking, selectors: ['external_references.[0].source_name'] },
      ]),
    },
    { name: 'list item', object: marked([{ marking_ref: marking, selectors: ['labels.[1]'] }]) },
    {
      name: 'whole list',
      object: marked([{ marking_ref: marking, selectors: ['labels', 'external_references'] }]),
    },
    { name: 'language marking', object: marked([{ lang: 'de', selectors: ['description'] }]) },
    { name: 'id selector', object: marked([{ marking_ref: marking, selectors: ['id'] }]) },
  ]);
});

describe('extensions', () => {
  rejectCases([
    {
      name: 'empty dictionary',
      object: withProperties('tool', { extensions: {} }),
      rule: 'empty',
      property: 'extensions',
    },
    { name: 'list', object: withProperties('tool', { extensions: [] }), rule: 'type' },
    {
      name: 'plain name on SDO',
      object: withProperties('tool', { extensions: { 'x-acme-ext': { a_b: 1 } } }),
      rule: 'extension',
      property: 'extensions.x-acme-ext',
    },
    {
      name: 'definition without extension_type',
      object: withProperties('tool', { extensions: { [EXTENSION]: { rank: 5 } } }),
      rule: 'required',
      property: `extensions.${EXTENSION}.extension_type`,
    },
    {
      name: 'unknown extension_type',
      object: withProperties('tool', {
        extensions: { [EXTENSION]: { extension_type: 'new-thing' } },
      }),
      rule: 'enum',
    },
    {
      name: 'bad property name',
      object: withProperties('tool', {
        extensions: { [EXTENSION]: { extension_type: 'property-extension', Rank: 5 } },
      }),
      rule: 'property-name',
    },
    {
      name: 'id of other type',
      object: withProperties('tool', {
        extensions: { [idOf('identity')]: { extension_type: 'property-extension' } },
      }),
      rule: 'extension',
    },
    {
      name: 'extension not object',
      object: withProperties('tool', { extensions: { [EXTENSION]: 'property-extension' } }),
      rule: 'extension',
    },
    {
      name: 'predefined of other type',
      object: withProperties('ipv4-addr', { extensions: { 'ntfs-ext': { sid: '1' } } }),
      rule: 'extension',
      property: 'extensions.ntfs-ext',
    },
    {
      name: 'custom name without -ext',
      object: withProperties('file', { extensions: { 'x-acme-foo': { foo_val: 'a' } } }),
      rule: 'extension',
    },
    {
      name: 'empty custom extension',
      object: withProperties('file', { extensions: { 'x-acme-ext': {} } }),
      rule: 'extension',
    },
    {
      name: 'on extension-definition',
      object: withProperties('extension-definition', {
        extensions: { [EXTENSION]: { extension_type: 'property-extension' } },
      }),
      rule: 'not-applicable',
      property: 'extensions',
    },
  ]);
  acceptCases([
    {
      name: 'property extension',
      object: withProperties('tool', {
        extensions: {
          [EXTENSION]: { extension_type: 'property-extension', rank: 5, x_notes: ['a'] },
        },
      }),
    },
    {
      name: 'top-level property extension',
      object: withProperties('tool', {
        extensions: { [EXTENSION]: { extension_type: 'toplevel-property-extension' } },
        toplevel_rank: 3,
      }),
    },
    {
      name: 'custom SCO extension',
      object: withProperties('file', { extensions: { 'x-acme-ext': { foo_val: 'a' } } }),
    },
    {
      name: 'property extension on SCO',
      object: withProperties('url', {
        extensions: { [EXTENSION]: { extension_type: 'property-extension', score: 1 } },
      }),
    },
  ]);
});

describe('custom properties', () => {
  rejectCases([
    {
      name: 'upper case',
      object: withProperties('tool', { X_ACME: 1 }),
      rule: 'property-name',
      property: 'X_ACME',
    },
    { name: 'hyphen', object: withProperties('tool', { 'x-acme': 1 }), rule: 'property-name' },
    { name: 'two characters', object: withProperties('tool', { xa: 1 }), rule: 'property-name' },
    { name: 'leading digit', object: withProperties('tool', { '1abc': 1 }), rule: 'property-name' },
    {
      name: 'leading underscore',
      object: withProperties('tool', { _abc: 1 }),
      rule: 'property-name',
    },
    { name: 'non-ASCII', object: withProperties('tool', { x_acmé: 1 }), rule: 'property-name' },
    {
      name: '251 characters',
      object: withProperties('tool', { [`x${'a'.repeat(250)}`]: 1 }),
      rule: 'property-name',
    },
    {
      name: 'null value',
      object: withProperties('tool', { x_acme: null }),
      rule: 'type',
      property: 'x_acme',
    },
    { name: 'empty list', object: withProperties('tool', { x_acme: [] }), rule: 'empty' },
    {
      name: '_hex not hex',
      object: withProperties('tool', { x_acme_hex: 'zz' }),
      rule: 'format',
      property: 'x_acme_hex',
    },
    {
      name: '_hex odd length',
      object: withProperties('tool', { x_acme_hex: 'abc' }),
      rule: 'format',
    },
    {
      name: '_bin not base64',
      object: withProperties('tool', { x_acme_bin: 'not base64' }),
      rule: 'format',
    },
    {
      name: 'reserved severity',
      object: withProperties('tool', { severity: 'high' }),
      rule: 'reserved-property',
      property: 'severity',
    },
    {
      name: 'reserved action',
      object: withProperties('course-of-action', { action: 'block' }),
      rule: 'reserved-property',
    },
    {
      name: 'reserved username',
      object: withProperties('url', { username: 'root' }),
      rule: 'reserved-property',
    },
    {
      name: 'reserved phone_number',
      object: withProperties('identity', { phone_number: '555' }),
      rule: 'reserved-property',
    },
    {
      name: 'nested bad name',
      object: withProperties('tool', {
        kill_chain_phases: [{ kill_chain_name: 'a', phase_name: 'b', 'Bad-Key': 1 }],
      }),
      rule: 'property-name',
    },
  ]);
  acceptCases([
    { name: 'x_ prefix', object: withProperties('tool', { x_acme_org_risk_score: 10 }) },
    { name: 'no prefix', object: withProperties('tool', { foo_value: 'bizz' }) },
    {
      name: 'nested object',
      object: withProperties('tool', { x_acme_scoring: { impact: 'high', probability: 'low' } }),
    },
    { name: '250 characters', object: withProperties('tool', { [`x${'a'.repeat(249)}`]: 1 }) },
    { name: '_hex value', object: withProperties('tool', { x_acme_hex: '00ff' }) },
    { name: '_bin value', object: withProperties('tool', { x_acme_bin: 'aGVsbG8=' }) },
    {
      name: 'unicode value',
      object: withProperties('identity', { name: 'Heizölrückstoßabdämpfung', x_note: '日本語' }),
    },
  ]);
});
