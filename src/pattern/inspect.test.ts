import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { INDEX_STAR, inspectPattern } from './index.ts';

describe('inspect pattern', () => {
  test('EXISTS listed with empty value', () => {
    const inspection = inspectPattern('[NOT EXISTS file:hashes.MD5]');
    assert.deepEqual(inspection.comparisons.get('file'), [
      { path: ['hashes', 'MD5'], operator: 'NOT EXISTS', value: '' },
    ]);
  });

  test('IN list written compactly', () => {
    const inspection = inspectPattern("[x:y IN ( 1 , 'a b' , h'ff' )]");
    assert.deepEqual(inspection.comparisons.get('x'), [
      { path: ['y'], operator: 'IN', value: "(1,'a b',h'ff')" },
    ]);
  });

  test('operators as written', () => {
    const inspection = inspectPattern('[x:a[*][0] == 1 OR x:b <> 2]');
    assert.deepEqual(inspection.comparisons.get('x'), [
      { path: ['a', INDEX_STAR, 0], operator: '==', value: '1' },
      { path: ['b'], operator: '<>', value: '2' },
    ]);
  });

  test('duplicate qualifiers counted once', () => {
    const inspection = inspectPattern('[x:a = 1] REPEATS 2 TIMES REPEATS 2 TIMES');
    assert.deepEqual([...inspection.qualifiers], ['REPEATS 2 TIMES']);
    assert.equal(inspection.observationOperators.size, 0);
  });
});
