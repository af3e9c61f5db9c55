import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { validateObject } from './index.ts';
import { assertRejected } from './testing/cases.ts';
import { sharedData, stixObjectsIn } from './testing/fixtures.ts';

/** Example files of the OASIS STIX validator's STIX 2.1 tests. */
const EXAMPLES = 'oasis-test-data/cti-stix-validator/stix2validator/test/v21/test_examples';

function objectsOf(name: string): Record<string, unknown>[] {
  return stixObjectsIn(JSON.parse(readFileSync(sharedData(`${EXAMPLES}/${name}`), 'utf8')));
}

describe('OASIS validator examples', () => {
  for (const name of [
    'identity.json',
    'identity_custom.json',
    'identity_unicode.json',
    'identity_warning.json',
    'tool.json',
    'tlp-amber.json',
  ]) {
    test(`${name} accepted`, () => {
      const objects = objectsOf(name);
      assert.equal(objects.length, 1);
      const result = validateObject(objects[0]);
      assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.problems));
    });
  }
  test('invalid_identity.json rejected', () => {
    const [object] = objectsOf('invalid_identity.json');
    assertRejected(object, 'required', 'modified');
  });
  test('invalid_timestamp.json rejected', () => {
    const [object] = objectsOf('invalid_timestamp.json');
    assertRejected(object, 'modified-before-created', 'modified');
  });
  // These two are not JSON, so they never reach the validator: parsing fails first.
  for (const name of ['invalid_braces.json', 'invalid_comma.json']) {
    test(`${name} not JSON`, () => {
      assert.throws(
        () => JSON.parse(readFileSync(sharedData(`${EXAMPLES}/${name}`), 'utf8')),
        SyntaxError,
      );
    });
  }
});
