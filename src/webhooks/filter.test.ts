import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CairnError } from '../errors.ts';
import { filterFromQuery } from '../events/filter.ts';
import { checkFilter } from './filter.ts';

function rejectsWith(run: () => unknown, message: RegExp, label: string): void {
  assert.throws(
    run,
    (error: unknown) =>
      error instanceof CairnError &&
      error.code === 'invalid-parameter' &&
      message.test(error.message),
    label,
  );
}

test('JSON and query filters agree', () => {
  const cases: Array<[unknown, string]> = [
    [{}, ''],
    [{ collections: ['a', 'b', 'a'] }, 'collections=a,b,a'],
    [{ communityId: 'm1' }, 'community=m1'],
    [{ types: ['indicator', 'x509-certificate'] }, 'types=indicator,x509-certificate'],
    [{ labels: ['ransomware', 'ransomware'] }, 'labels=ransomware&labels=ransomware'],
    [{ tlp: ['TLP:Amber', 'green', 'GREEN'] }, 'tlp=TLP:Amber,green,GREEN'],
    [{ minConfidence: 0 }, 'min_confidence=0'],
    [{ minConfidence: 100 }, 'min_confidence=100'],
    [
      { types: ['malware'], labels: ['x'], tlp: ['red'], minConfidence: 70 },
      'types=malware&labels=x&tlp=red&min_confidence=70',
    ],
  ];
  for (const [json, query] of cases) {
    const label = JSON.stringify(json);
    assert.deepEqual(checkFilter(json), filterFromQuery(new URLSearchParams(query)), label);
  }
  assert.deepEqual(checkFilter({ tlp: ['TLP:Amber', 'green', 'GREEN'] }), {
    tlp: ['amber', 'green'],
  });
  assert.deepEqual(checkFilter(undefined), {});
});

test('bad JSON filters name the field', () => {
  const many = Array.from({ length: 101 }, (_, index) => `t${index}x`);
  const cases: Array<[unknown, RegExp]> = [
    [[], /filter must be a JSON object/],
    [null, /filter must be a JSON object/],
    ['types=indicator', /filter must be a JSON object/],
    [{ type: ['indicator'] }, /unknown filter field "type": use collections, communityId/],
    [{ types: 'indicator' }, /filter\.types "indicator" is not valid: send a list/],
    [{ types: [] }, /filter\.types is empty/],
    [{ types: [''] }, /filter\.types \[""\] is not valid/],
    [{ types: [7] }, /filter\.types \[7\] is not valid/],
    [{ types: ['Indicator'] }, /filter\.types value "Indicator" is not a STIX type/],
    [{ types: many }, /filter\.types has 101 values: send at most 100/],
    [{ labels: ['x'.repeat(251)] }, /filter\.labels value "x{40}…" is longer than 250/],
    [{ tlp: ['white-ish'] }, /filter\.tlp value "white-ish" is not one of clear, green/],
    [{ communityId: '' }, /filter\.communityId must be a community id/],
    [{ communityId: 7 }, /filter\.communityId must be a community id/],
    [{ minConfidence: 101 }, /filter\.minConfidence 101 is not valid/],
    [{ minConfidence: -1 }, /filter\.minConfidence -1 is not valid/],
    [{ minConfidence: 7.5 }, /filter\.minConfidence 7.5 is not valid/],
    [{ minConfidence: '70' }, /filter\.minConfidence "70" is not valid/],
    [{ minConfidence: null }, /filter\.minConfidence null is not valid/],
  ];
  for (const [input, message] of cases) {
    rejectsWith(() => checkFilter(input), message, JSON.stringify(input).slice(0, 60));
  }
});

test('bad query filters name the parameter', () => {
  const cases: Array<[string, RegExp]> = [
    ['types=Indicator', /^types value "Indicator" is not a STIX type/],
    ['tlp=amber,purple', /^tlp value "purple" is not one of/],
    ['min_confidence=101', /^min_confidence 101 is not valid/],
    ['min_confidence=0x10', /^min_confidence "0x10" is not valid/],
    ['labels=,', /^labels is empty/],
  ];
  for (const [query, message] of cases) {
    rejectsWith(() => filterFromQuery(new URLSearchParams(query)), message, query);
  }
});
