import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  TLP_1_AMBER,
  TLP_1_WHITE,
  TLP_2_AMBER_STRICT,
  TLP_2_CLEAR,
  TLP_2_EXTENSION_DEFINITION_ID,
  TLP_MARKINGS,
  checkTlpMarking,
  tlpLevel,
  tlpMarking,
  validateObject,
} from './index.ts';
import { assertRejected } from './testing/cases.ts';
import { readSharedJson, stixObjectsIn } from './testing/fixtures.ts';

const clone = (value: unknown): Record<string, unknown> =>
  structuredClone(value) as Record<string, unknown>;

describe('TLP constants', () => {
  test('nine markings', () => assert.equal(TLP_MARKINGS.length, 9));
  test('ids unique', () => assert.equal(new Set(TLP_MARKINGS.map((m) => m.id)).size, 9));
  test('every marking valid', () => {
    for (const marking of TLP_MARKINGS) {
      const result = validateObject(clone(marking.object));
      assert.ok(result.ok, `${marking.id}: ${JSON.stringify(result.ok ? '' : result.problems)}`);
    }
  });
  test('frozen', () => {
    assert.throws(() => {
      (TLP_2_CLEAR.object as Record<string, unknown>).name = 'TLP:RED';
    }, TypeError);
  });
  test('TLP 1.0 ids from STIX 2.1', () => {
    assert.equal(TLP_1_WHITE.id, 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9');
    assert.equal(TLP_1_AMBER.object.created, '2017-01-20T00:00:00.000Z');
  });
  test('TLP 2.0 amber+strict', () => {
    assert.equal(TLP_2_AMBER_STRICT.id, 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003');
    assert.equal(TLP_2_AMBER_STRICT.object.name, 'TLP:AMBER+STRICT');
  });
});

describe('TLP lookup', () => {
  const expected: [string, string | undefined][] = [
    ['marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9', 'white'],
    ['marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da', 'green'],
    ['marking-definition--f88d31f6-486f-44da-b317-01333bde0b82', 'amber'],
    ['marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed', 'red'],
    ['marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487', 'clear'],
    ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb', 'green'],
    ['marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421', 'amber'],
    ['marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003', 'amber+strict'],
    ['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1', 'red'],
    ['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c2', undefined],
    ['MARKING-DEFINITION--94868c89-83c2-464b-929b-a1a8aa3c8487', undefined],
    ['', undefined],
  ];
  for (const [id, level] of expected) {
    test(`${id || 'empty'} is ${level ?? 'not TLP'}`, () => assert.equal(tlpLevel(id), level));
  }
  test('marking by id', () => assert.equal(tlpMarking(TLP_2_CLEAR.id), TLP_2_CLEAR));
  test('prototype names not found', () => {
    assert.equal(tlpLevel('constructor'), undefined);
    assert.equal(tlpLevel('__proto__'), undefined);
  });
});

describe('TLP exact content', () => {
  test('key order free', () => {
    const reordered = Object.fromEntries(Object.entries(clone(TLP_1_AMBER.object)).reverse());
    assert.equal(checkTlpMarking(reordered), undefined);
  });
  const changes: [string, (object: Record<string, unknown>) => void][] = [
    ['renamed', (o) => (o.name = 'TLP:AMBER (ours)')],
    ['other level', (o) => (o.definition = { tlp: 'red' })],
    ['created rewritten', (o) => (o.created = '2017-01-20T00:00:00Z')],
    [
      'extra property',
      (o) => (o.created_by_ref = 'identity--f431f809-377b-45e0-aa1c-6a4751cae5ff'),
    ],
    ['missing name', (o) => delete o.name],
  ];
  for (const [name, change] of changes) {
    test(`TLP 1.0 ${name} rejected`, () => {
      const object = clone(TLP_1_AMBER.object);
      change(object);
      assert.notEqual(checkTlpMarking(object), undefined);
    });
  }
  test('TLP 2.0 level swapped rejected', () => {
    const object = clone(TLP_2_CLEAR.object);
    (object.extensions as Record<string, Record<string, unknown>>)[
      TLP_2_EXTENSION_DEFINITION_ID
    ]!.tlp_2_0 = 'red';
    assertRejected(object, 'tlp');
  });
  test('TLP 2.0 name lower case rejected', () => {
    assertRejected({ ...clone(TLP_2_CLEAR.object), name: 'tlp:clear' }, 'tlp');
  });
  test('message names the published object', () => {
    const result = validateObject({ ...clone(TLP_2_CLEAR.object), name: 'TLP:WHITE' });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(
      result.problems[0]?.message ?? '',
      /TLP 2\.0 clear marking definition must be exactly the published object/,
    );
  });
});

describe('OASIS TLP material', () => {
  const base = 'oasis-test-data/cti-stix-validator/stix2validator/test/v21';
  test('TLP 2.0 objects satisfy the OASIS extension schema', () => {
    const path = `${base}/test_schemas/${TLP_2_EXTENSION_DEFINITION_ID}.json`;
    const schema = readSharedJson(path) as Record<string, unknown>;
    const ajv = new Ajv2020({ strict: false, strictTypes: false, unicodeRegExp: false });

    // The schema points at OASIS common schemas by URL; only the TLP branches matter here,
    // so those references are stubbed with their bare JSON types.
    const common =
      'http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/common';
    for (const [name, type] of [
      ['identifier', 'string'],
      ['timestamp', 'string'],
      ['external-reference', 'object'],
      ['granular-marking', 'object'],
    ]) {
      ajv.addSchema({ $id: `${common}/${name}.json`, type });
    }
    const validate = ajv.compile(schema);

    const tlp2 = TLP_MARKINGS.filter((m) => m.tlpVersion === '2.0');
    assert.equal(tlp2.length, 5);
    for (const marking of tlp2) {
      assert.ok(
        validate(clone(marking.object)),
        `${marking.id}: ${JSON.stringify(validate.errors)}`,
      );
    }
    assert.equal(validate(clone(TLP_1_AMBER.object)), false);
  });
  test('OASIS validator TLP amber example equals TLP_2_AMBER', () => {
    const [object] = stixObjectsIn(readSharedJson(`${base}/test_examples/tlp-amber.json`));
    assert.ok(object);
    assert.equal(tlpLevel(object.id as string), 'amber');
    assert.equal(checkTlpMarking(object), undefined);
  });
  test('STIX 2.1 documentation TLP amber accepted', () => {
    const objects = stixObjectsIn(
      readSharedJson(
        'oasis-test-data/cti-documentation/examples/example_json/using-marking-definitions.json',
      ),
    );
    const amber = objects.find((o) => o.id === TLP_1_AMBER.id);
    assert.ok(amber);
    assert.equal(checkTlpMarking(amber), undefined);
  });
});
