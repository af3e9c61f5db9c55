import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_DEPTH, MAX_PROBLEMS, validateObject, versionOf } from './index.ts';
import { timestampKey } from './timestamp.ts';
import { assertAccepted, assertRejected, rejectCases } from './testing/cases.ts';
import { FIXTURE_TYPES, idOf, minimal, withProperties } from './testing/fixtures.ts';

/** Required properties of each type, beyond type and id, with the rule their absence breaks. */
const REQUIRED: Readonly<Record<string, readonly (string | [string, string])[]>> = {
  'attack-pattern': ['name', 'created', 'modified'],
  campaign: ['name'],
  'course-of-action': ['name'],
  grouping: ['context', 'object_refs', 'spec_version'],
  identity: ['name'],
  incident: ['name', 'spec_version'],
  indicator: ['pattern', 'pattern_type', 'valid_from', 'created', 'modified'],
  infrastructure: ['name'],
  'intrusion-set': ['name'],
  location: [['country', 'at-least-one']],
  malware: ['is_family'],
  'malware-analysis': [['result', 'at-least-one'], 'product'],
  note: ['content', 'object_refs'],
  'observed-data': [
    'first_observed',
    'last_observed',
    'number_observed',
    ['object_refs', 'at-least-one'],
  ],
  opinion: ['opinion', 'object_refs'],
  report: ['name', 'published', 'object_refs'],
  'threat-actor': ['name'],
  tool: ['name'],
  vulnerability: ['name'],
  relationship: ['relationship_type', 'source_ref', 'target_ref'],
  sighting: ['sighting_of_ref'],
  artifact: [['payload_bin', 'at-least-one']],
  'autonomous-system': ['number'],
  directory: ['path'],
  'domain-name': ['value'],
  'email-addr': ['value'],
  'email-message': ['is_multipart'],
  file: [['name', 'at-least-one']],
  'ipv4-addr': ['value'],
  'ipv6-addr': ['value'],
  'mac-addr': ['value'],
  mutex: ['name'],
  'network-traffic': ['protocols', ['dst_ref', 'at-least-one']],
  process: [['pid', 'at-least-one']],
  software: ['name'],
  url: ['value'],
  'user-account': [['user_id', 'at-least-one']],
  'windows-registry-key': [['key', 'at-least-one']],
  'x509-certificate': [['serial_number', 'at-least-one']],
  'language-content': ['object_ref', 'contents', 'created', 'modified', 'spec_version'],
  'marking-definition': ['created', ['definition', 'required']],
  'extension-definition': ['created_by_ref', 'name', 'schema', 'version', 'extension_types'],
};

describe('minimal objects', () => {
  for (const type of FIXTURE_TYPES) {
    test(`${type} accepted`, () => assertAccepted(minimal(type)));
  }
});

describe('required properties', () => {
  for (const [type, names] of Object.entries(REQUIRED)) {
    for (const entry of names) {
      const [name, rule] = typeof entry === 'string' ? [entry, 'required'] : entry;
      const property = rule === 'required' ? name : undefined;
      test(`${type} without ${name}`, () =>
        assertRejected(withProperties(type, { [name]: undefined }), rule, property));
    }
  }
  for (const type of FIXTURE_TYPES) {
    test(`${type} without id`, () =>
      assertRejected(withProperties(type, { id: undefined }), 'required', 'id'));
    test(`${type} without type`, () =>
      assertRejected(withProperties(type, { type: undefined }), 'required', 'type'));
  }
});

describe('type names', () => {
  rejectCases([
    {
      name: 'type number',
      object: withProperties('tool', { type: 7 }),
      rule: 'type',
      property: 'type',
    },
    {
      name: 'upper case',
      object: withProperties('tool', { type: 'Tool' }),
      rule: 'type-name',
      property: 'type',
    },
    {
      name: 'two characters',
      object: withProperties('tool', { type: 'to' }),
      rule: 'type-name',
      property: 'type',
    },
    {
      name: 'double hyphen',
      object: withProperties('tool', { type: 'x--tool' }),
      rule: 'type-name',
    },
    { name: 'leading digit', object: withProperties('tool', { type: '1tool' }), rule: 'type-name' },
    { name: 'underscore', object: withProperties('tool', { type: 'x_tool' }), rule: 'type-name' },
    {
      name: '251 characters',
      object: withProperties('tool', { type: `x${'a'.repeat(250)}` }),
      rule: 'type-name',
    },
    {
      name: 'path traversal',
      object: withProperties('tool', { type: '../tool' }),
      rule: 'type-name',
    },
  ]);
  test('250 characters accepted', () => {
    const type = `x-${'a'.repeat(248)}`;
    assertAccepted({ type, spec_version: '2.1', id: idOf(type), name: 'long type' });
  });
});

describe('identifiers', () => {
  const uuid = '6ba7b810-9dad-41d1-80b4-00c04fd430c8';
  rejectCases([
    { name: 'id number', object: withProperties('tool', { id: 12 }), rule: 'type', property: 'id' },
    {
      name: 'path traversal',
      object: withProperties('tool', { id: 'tool--../../etc/passwd' }),
      rule: 'identifier',
    },
    { name: 'no separator', object: withProperties('tool', { id: uuid }), rule: 'identifier' },
    {
      name: 'nil UUID',
      object: withProperties('tool', { id: 'tool--00000000-0000-0000-0000-000000000000' }),
      rule: 'identifier',
    },
    {
      name: 'UUID version 7',
      object: withProperties('tool', { id: 'tool--0190b6a0-4a1c-7d2e-8f00-000000000001' }),
      rule: 'identifier',
    },
    {
      name: 'UUID variant c',
      object: withProperties('tool', { id: 'tool--6ba7b810-9dad-41d1-c0b4-00c04fd430c8' }),
      rule: 'identifier',
    },
    {
      name: 'UUID without hyphens',
      object: withProperties('tool', { id: 'tool--6ba7b8109dad41d180b400c04fd430c8' }),
      rule: 'identifier',
    },
    {
      name: 'trailing newline',
      object: withProperties('tool', { id: `tool--${uuid}\n` }),
      rule: 'identifier',
    },
    {
      name: 'type mismatch',
      object: withProperties('tool', { id: `malware--${uuid}` }),
      rule: 'id-type',
      property: 'id',
    },
    {
      name: 'huge id',
      object: withProperties('tool', { id: `tool--${'a'.repeat(1_000_000)}` }),
      rule: 'identifier',
    },
  ]);
  test('upper-case UUID accepted', () =>
    assertAccepted(withProperties('tool', { id: `tool--${uuid.toUpperCase()}` })));
  test('invalid id not echoed', () => {
    const result = validateObject(withProperties('tool', { id: 'tool--../../etc/passwd' }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.id, undefined);
    assert.ok(result.problems.every((p) => p.message.startsWith('object')));
  });
});

describe('not objects', () => {
  for (const [name, value] of [
    ['null', null],
    ['array', [minimal('tool')]],
    ['string', 'tool'],
    ['number', 42],
    ['boolean', true],
    ['undefined', undefined],
  ] as const) {
    test(`${name} rejected`, () => assertRejected(value, 'not-object'));
  }
  test('null-prototype object accepted', () => {
    const object = Object.assign(Object.create(null) as Record<string, unknown>, minimal('tool'));
    assertAccepted(object);
  });
});

describe('prototype keys', () => {
  const uuid = '6ba7b810-9dad-41d1-80b4-00c04fd430c8';
  const tool = `"type":"tool","spec_version":"2.1","id":"tool--${uuid}","created":"2024-01-02T03:04:05.678Z","modified":"2024-01-02T03:04:05.678Z","name":"VNC"`;
  const cases: [string, string, string][] = [
    ['__proto__ top level', `{${tool},"__proto__":{"polluted":true}}`, '__proto__'],
    ['__proto__ nested', `{${tool},"x_acme":{"a":[{"__proto__":1}]}}`, 'x_acme.a[0].__proto__'],
    [
      '__proto__ in hashes',
      `{"type":"file","id":"file--${uuid}","hashes":{"__proto__":"x"}}`,
      'hashes.__proto__',
    ],
    ['constructor top level', `{${tool},"constructor":"x"}`, 'constructor'],
    [
      'constructor in extension',
      `{${tool},"extensions":{"extension-definition--${uuid}":{"extension_type":"property-extension","constructor":1}}}`,
      `extensions.extension-definition--${uuid}.constructor`,
    ],
    [
      'prototype in external reference',
      `{${tool},"external_references":[{"source_name":"a","url":"https://a.example","prototype":{}}]}`,
      'external_references[0].prototype',
    ],
  ];
  for (const [name, json, property] of cases) {
    test(`${name} rejected`, () => {
      const parsed: unknown = JSON.parse(json);
      assertRejected(parsed, 'prototype-key', property);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }
  test('prototype key stops validation', () => {
    const result = validateObject(JSON.parse(`{"type":"Bad Type","__proto__":1}`));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(
      result.problems.map((p) => p.rule),
      ['prototype-key'],
    );
  });
});

describe('hostile input', () => {
  test('deep nesting rejected', () => {
    let nested: unknown = 'bottom';
    for (let i = 0; i < 10_000; i++) nested = { x_deeper: nested };
    assertRejected(withProperties('tool', { x_acme_nested: nested }), 'depth');
  });
  test('nesting at the limit accepted', () => {
    let nested: unknown = 'bottom';
    for (let i = 0; i < MAX_DEPTH - 1; i++) nested = { x_deeper: nested };
    assertAccepted(withProperties('tool', { x_acme_nested: nested }));
  });
  test('deep lists rejected', () => {
    let nested: unknown = [];
    for (let i = 0; i < 10_000; i++) nested = [nested];
    assertRejected(withProperties('tool', { x_acme_nested: nested }), 'depth');
  });
  test('huge string accepted', () => {
    assertAccepted(withProperties('tool', { description: 'A'.repeat(5_000_000) }));
  });
  test('huge invalid base64 rejected', () => {
    assertRejected(
      withProperties('artifact', { payload_bin: `${'A'.repeat(4_000_000)}!` }),
      'format',
      'payload_bin',
    );
  });
  test('problems capped', () => {
    const refs = Array.from({ length: 10_000 }, (_, i) => `not-an-id-${i}`);
    const result = validateObject(withProperties('report', { object_refs: refs }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.problems.length, MAX_PROBLEMS);
  });
  test('long value cut in messages', () => {
    const result = validateObject(
      withProperties('ipv4-addr', { value: `1.2.3.${'4'.repeat(10_000)}` }),
    );
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok((result.problems[0]?.message.length ?? 0) < 300);
  });
  test('control characters escaped in messages', () => {
    const result = validateObject(withProperties('domain-name', { value: 'evil\n.example.com' }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(result.problems[0]?.message.includes('\\n'));
  });

  const wrongTypes: [string, unknown][] = [
    ['null', null],
    ['number', 3],
    ['boolean', false],
    ['object', { a: 1 }],
    ['array', ['a']],
  ];
  const indicatorProperties: [string, string][] = [
    ['name', 'string'],
    ['description', 'string'],
    ['pattern', 'string'],
    ['pattern_type', 'string'],
    ['pattern_version', 'string'],
    ['indicator_types', 'array'],
    ['labels', 'array'],
    ['created', 'string'],
    ['modified', 'string'],
    ['valid_from', 'string'],
    ['valid_until', 'string'],
    ['created_by_ref', 'string'],
    ['revoked', 'boolean'],
    ['confidence', 'number'],
    ['lang', 'string'],
    ['kill_chain_phases', 'array'],
    ['external_references', 'array'],
    ['object_marking_refs', 'array'],
    ['granular_markings', 'array'],
    ['extensions', 'object'],
  ];
  for (const [property, jsonType] of indicatorProperties) {
    for (const [wrongName, wrong] of wrongTypes) {
      if (wrongName === jsonType) continue;
      test(`indicator ${property} as ${wrongName} rejected`, () => {
        const result = validateObject(withProperties('indicator', { [property]: wrong }));
        assert.equal(result.ok, false);
        if (result.ok) return;
        assert.ok(
          result.problems.some(
            (p) => p.property === property || p.property?.startsWith(`${property}`),
          ),
          JSON.stringify(result.problems),
        );
      });
    }
  }
});

describe('spec_version', () => {
  rejectCases([
    {
      name: '2.2',
      object: withProperties('tool', { spec_version: '2.2' }),
      rule: 'spec-version',
      property: 'spec_version',
    },
    {
      name: 'number 2.1',
      object: withProperties('tool', { spec_version: 2.1 }),
      rule: 'spec-version',
    },
    {
      name: 'SCO 2.0',
      object: withProperties('ipv4-addr', { spec_version: '2.0' }),
      rule: 'spec-version',
    },
    {
      name: 'missing on grouping',
      object: withProperties('grouping', { spec_version: undefined }),
      rule: 'required',
      property: 'spec_version',
    },
  ]);
  test('SCO without spec_version accepted', () => {
    const result = validateObject(withProperties('ipv4-addr', { spec_version: undefined }));
    assert.ok(result.ok);
    if (result.ok) assert.equal(result.prepared.specVersion, '2.1');
  });
});

describe('custom objects', () => {
  const uuid = '0c2b5dd0-3c8e-4b91-9e4b-2d3c1e5f6a7b';
  test('x- type with SDO properties accepted', () =>
    assertAccepted({
      type: 'x-mitre-tactic',
      spec_version: '2.1',
      id: `x-mitre-tactic--${uuid}`,
      created: '2018-10-17T00:14:20.652Z',
      modified: '2022-04-25T14:00:00.188Z',
      name: 'Collection',
      x_mitre_shortname: 'collection',
      external_references: [{ source_name: 'mitre-attack', external_id: 'TA0009' }],
    }));
  test('unknown type without x- accepted', () =>
    assertAccepted({ type: 'my-thing', spec_version: '2.1', id: `my-thing--${uuid}`, value: 1 }));
  test('SCO-like without spec_version accepted', () =>
    assertAccepted({ type: 'x-sensor-event', id: `x-sensor-event--${uuid}`, reading: 3 }));
  rejectCases([
    {
      name: 'created without spec_version',
      object: {
        type: 'x-thing',
        id: `x-thing--${uuid}`,
        created: '2020-01-01T00:00:00.000Z',
        modified: '2020-01-01T00:00:00.000Z',
      },
      rule: 'spec-version',
      property: 'spec_version',
    },
    {
      name: 'new-sdo without modified',
      object: {
        type: 'x-thing',
        spec_version: '2.1',
        id: `x-thing--${uuid}`,
        created: '2020-01-01T00:00:00.000Z',
        extensions: { [`extension-definition--${uuid}`]: { extension_type: 'new-sdo' } },
      },
      rule: 'required',
      property: 'modified',
    },
    {
      name: 'bad custom property name',
      object: { type: 'x-thing', spec_version: '2.1', id: `x-thing--${uuid}`, 'Bad Name': 1 },
      rule: 'property-name',
      property: 'Bad Name',
    },
  ]);
});

describe('prepared object', () => {
  test('SDO version is modified', () => {
    const object = withProperties('tool', { modified: '2025-06-07T08:09:10.123456Z' });
    const result = validateObject(object);
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.deepEqual(result.prepared, {
      id: object.id,
      type: 'tool',
      specVersion: '2.1',
      version: '2025-06-07T08:09:10.123456Z',
      versionKey: timestampKey('2025-06-07T08:09:10.123456Z'),
      json: JSON.stringify(object),
    });
  });
  test('marking version is created', () => {
    const result = validateObject(minimal('marking-definition'));
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.equal(result.prepared.version, '2024-01-02T03:04:05.678Z');
    assert.equal(result.prepared.versionKey, timestampKey('2024-01-02T03:04:05.678Z'));
  });
  test('SCO version is empty with key 0', () => {
    const result = validateObject(minimal('url'));
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.equal(result.prepared.version, '');
    assert.equal(result.prepared.versionKey, '0');
  });
  test('versioned SCO uses modified', () => {
    const result = validateObject(
      withProperties('url', {
        created: '2024-01-01T00:00:00.000Z',
        modified: '2024-02-01T00:00:00.000Z',
      }),
    );
    assert.ok(result.ok);
    if (result.ok) assert.equal(result.prepared.version, '2024-02-01T00:00:00.000Z');
  });
  test('key orders versions', () => {
    const keys = [
      '2024-01-01T00:00:00.999Z',
      '2024-01-01T00:00:01.000Z',
      '2024-01-01T00:00:01.0000001Z',
    ].map((modified) => {
      const result = validateObject(
        withProperties('tool', { created: '2024-01-01T00:00:00.000Z', modified }),
      );
      assert.ok(result.ok);
      return result.ok ? result.prepared.versionKey : '';
    });
    assert.deepEqual([...keys].sort(), keys);
    assert.equal(new Set(keys).size, 3);
  });
  test('failure carries id and version', () => {
    const object = withProperties('tool', { name: undefined });
    const result = validateObject(object);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.id, object.id);
    assert.equal(result.version, object.modified);
  });
});

describe('versionOf', () => {
  test('modified first', () =>
    assert.equal(
      versionOf({ created: '2020-01-01T00:00:00Z', modified: '2021-01-01T00:00:00Z' }),
      '2021-01-01T00:00:00Z',
    ));
  test('created without modified', () =>
    assert.equal(versionOf({ created: '2020-01-01T00:00:00Z' }), '2020-01-01T00:00:00Z'));
  test('neither', () => assert.equal(versionOf({ type: 'url' }), undefined));
  test('non-string modified skipped', () =>
    assert.equal(versionOf({ modified: 5, created: 'c' }), 'c'));
});

describe('messages', () => {
  test('name id, property and rule', () => {
    const object = withProperties('indicator', {
      valid_from: '2020-01-01T00:00:00Z',
      valid_until: '2019-01-01T00:00:00Z',
    });
    const result = validateObject(object);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.problems, [
      {
        id: object.id,
        property: 'valid_until',
        rule: 'time-order',
        message: `${object.id as string} property "valid_until": must be later than valid_from (2020-01-01T00:00:00Z)`,
      },
    ]);
  });
  test('object-level problem has no property', () => {
    const result = validateObject(withProperties('file', { name: undefined }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.problems[0]?.property, undefined);
    assert.match(
      result.problems[0]?.message ?? '',
      /^file--[0-9a-f-]+: at least one of hashes, name/,
    );
  });
});

describe('values built in code', () => {
  rejectCases([
    {
      name: 'NaN latitude',
      object: withProperties('location', { latitude: Number.NaN, longitude: 0 }),
      rule: 'type',
      property: 'latitude',
    },
    {
      name: 'infinite entropy',
      object: withProperties('file', {
        extensions: {
          'windows-pebinary-ext': {
            pe_type: 'exe',
            sections: [{ name: '.text', entropy: Infinity }],
          },
        },
      }),
      rule: 'type',
    },
    {
      name: 'undefined custom value',
      object: { ...minimal('tool'), x_placeholder: undefined },
      rule: 'type',
      property: 'x_placeholder',
    },
    {
      name: 'undefined name',
      object: { ...minimal('tool'), name: undefined },
      rule: 'type',
      property: 'name',
    },
  ]);
});

describe('robustness', () => {
  const hostile: unknown[] = [
    null,
    undefined,
    true,
    0,
    -1,
    1e308,
    Number.NaN,
    '',
    '\u0000',
    '\ud800',
    'x'.repeat(10_000),
    [],
    [null],
    [[[]]],
    {},
    { type: 'x' },
    JSON.parse('{"__proto__": {"polluted": 1}}') as unknown,
  ];
  test('never throws on hostile values', () => {
    let runs = 0;
    for (const type of FIXTURE_TYPES) {
      const base = minimal(type);
      const names = [...Object.keys(base), 'extensions', 'granular_markings', 'x_custom', 'hashes'];
      for (const name of names) {
        for (const value of hostile) {
          const object = { ...base, [name]: value };
          const result = validateObject(object);
          assert.equal(typeof result.ok, 'boolean');
          if (!result.ok) assert.ok(result.problems.length > 0, `${type}.${name}`);
          runs++;
        }
      }
    }
    assert.ok(runs > 3000);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  test('never throws on nested hostile values', () => {
    for (const value of hostile) {
      for (const object of [
        withProperties('file', {
          extensions: { 'windows-pebinary-ext': { pe_type: 'exe', optional_header: value } },
        }),
        withProperties('network-traffic', {
          extensions: {
            'http-request-ext': {
              request_method: 'get',
              request_value: '/',
              request_header: value,
            },
          },
        }),
        withProperties('tool', { external_references: [{ source_name: 'a', url: value }] }),
        withProperties('tool', {
          granular_markings: [{ marking_ref: idOf('marking-definition'), selectors: [value] }],
        }),
        withProperties('email-message', { is_multipart: true, body_multipart: [value] }),
        withProperties('language-content', { contents: { de: value } }),
        withProperties('marking-definition', { definition: value }),
        withProperties('observed-data', { object_refs: undefined, objects: { '0': value } }),
      ]) {
        assert.doesNotThrow(() => validateObject(object));
      }
    }
  });
});

describe('numbers stored exactly', () => {
  const cases: Array<[string, string]> = [
    ['overflowing float', '1e400'],
    ['negative overflow', '-1e400'],
    ['huge integer', '123456789012345678901234567890'],
    ['integer past 2^53', '9007199254740993'],
  ];
  for (const [name, literal] of cases) {
    test(`rejects ${name}`, () => {
      const text = JSON.stringify(minimal('malware')).replace(/}$/, `,"x_n":${literal}}`);
      const result = validateObject(JSON.parse(text));
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.problems[0]?.rule, 'inexact-number');
      assert.equal(result.problems[0]?.property, 'x_n');
    });
  }

  test('rejects them inside lists', () => {
    const text = JSON.stringify(minimal('malware')).replace(/}$/, ',"x_list":[1,[2,1e999]]}');
    const result = validateObject(JSON.parse(text));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.problems[0]?.property, 'x_list[1][1]');
  });

  test('accepts safe numbers', () => {
    const object = {
      ...minimal('malware'),
      x_values: [9007199254740991, -9007199254740991, 1.5e-300, 0.1, 12345.678],
    };
    assert.equal(validateObject(object).ok, true);
  });
});
