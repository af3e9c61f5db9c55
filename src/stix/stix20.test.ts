import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { validateObject } from './index.ts';
import { readSharedJson, sharedData, stixObjectsIn, withProperties } from './testing/fixtures.ts';

/** STIX 2.0 content: objects without spec_version, from several producers. */
function stix20Files(): string[] {
  const unit42 = 'unit42-stix20-reports/stix2-reports/report_json';
  const misp = 'misp-stix-mappings/tests';
  return [
    ...readdirSync(sharedData(unit42))
      .filter((name) => name.endsWith('.json'))
      .map((name) => `${unit42}/${name}`),
    ...readdirSync(sharedData(misp))
      .filter((name) => name.endsWith('_stix20.json'))
      .map((name) => `${misp}/${name}`),
  ];
}

function assertStix20Rejected(object: unknown): void {
  const result = validateObject(object);
  assert.equal(result.ok, false, 'a STIX 2.0 object was accepted');
  if (result.ok) return;
  assert.deepEqual(
    result.problems.map((p) => [p.property, p.rule]),
    [['spec_version', 'spec-version']],
  );
  const message = result.problems[0]?.message ?? '';
  assert.match(message, /STIX 2\.0 content is not accepted yet/);
  assert.match(message, /must be converted to STIX 2\.1/);
}

describe('STIX 2.0 bundles', () => {
  const files = stix20Files();
  test('files found', () => assert.ok(files.length >= 60));
  for (const file of files) {
    test(`${file.split('/').at(-1)} rejected`, () => {
      const objects = stixObjectsIn(readSharedJson(file));
      assert.ok(objects.length > 0);
      for (const object of objects) assertStix20Rejected(object);
    });
  }
});

describe('STIX 2.0 objects among 2.1 data', () => {
  test('TAXII server seed malware', () => {
    const objects = stixObjectsIn(
      readSharedJson('oasis-test-data/cti-taxii-server/medallion/test/data/default_data.json'),
    );
    const stix20 = objects.filter((o) => o.spec_version === undefined);
    assert.equal(stix20.length, 1);
    assertStix20Rejected(stix20[0]);
  });
  test('python-stix2 store malware', () => {
    const object = readSharedJson(
      'oasis-test-data/cti-python-stix2/stix2/test/v21/stix2_data/malware/malware--b42378e0-f147-496f-992a-26a49705395b/20170531213215263882.json',
    );
    assertStix20Rejected(object);
  });
});

describe('STIX 2.0 markers', () => {
  test('spec_version 2.0', () =>
    assertStix20Rejected(withProperties('indicator', { spec_version: '2.0' })));
  test('SDO without spec_version', () =>
    assertStix20Rejected(withProperties('campaign', { spec_version: undefined })));
  test('marking without spec_version', () =>
    assertStix20Rejected(withProperties('marking-definition', { spec_version: undefined })));
  test('custom object with created', () =>
    assertStix20Rejected({
      type: 'x-acme-widget',
      id: 'x-acme-widget--6ba7b810-9dad-41d1-80b4-00c04fd430c8',
      created: '2017-01-01T00:00:00.000Z',
      modified: '2017-01-01T00:00:00.000Z',
    }));
  test('2.0-style labels instead of types', () =>
    assertStix20Rejected({
      type: 'indicator',
      id: 'indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8',
      created: '2017-01-01T00:00:00.000Z',
      modified: '2017-01-01T00:00:00.000Z',
      labels: ['malicious-activity'],
      pattern: "[file:name = 'x.exe']",
      valid_from: '2017-01-01T00:00:00Z',
    }));
});
