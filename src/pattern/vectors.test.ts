import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  INDEX_STAR,
  inspectPattern,
  matchPattern,
  parsePattern,
  PatternEvaluationError,
  PatternSyntaxError,
} from './index.ts';
import { readVectors } from './vectors.test-helper.ts';

interface MatcherRecord {
  id: string;
  pattern: string;
  observations: unknown[];
  expected: boolean | 'error';
  error_kind?: 'parse' | 'matcher';
  expected_first_binding_observed_data_ids?: string[];
  expected_first_binding_count?: number;
}

interface ValidatorRecord {
  id: string;
  pattern: string;
  valid: boolean;
}

interface InspectorRecord {
  id: string;
  pattern: string;
  aspect: 'qualifiers' | 'observation_ops' | 'comparisons';
  expected: string[] | Record<string, [(string | number)[], string, string][]>;
}

describe('matcher vectors', () => {
  for (const record of readVectors<MatcherRecord>('pattern-matcher-v21.jsonl')) {
    test(`${record.id} ${record.pattern}`, () => {
      if (record.expected === 'error') {
        const errorType =
          record.error_kind === 'parse' ? PatternSyntaxError : PatternEvaluationError;
        assert.throws(() => matchPattern(record.pattern, record.observations), errorType);
        return;
      }

      const result = matchPattern(record.pattern, record.observations);
      assert.equal(result.matched, record.expected);
      if (record.expected_first_binding_observed_data_ids) {
        const ids = result.observations.map((item) => item.id).sort();
        assert.deepEqual(ids, [...record.expected_first_binding_observed_data_ids].sort());
      }
      if (record.expected_first_binding_count !== undefined) {
        assert.equal(result.observations.length, record.expected_first_binding_count);
      }
    });
  }
});

describe('validator vectors', () => {
  for (const record of readVectors<ValidatorRecord>('pattern-validator-v21.jsonl')) {
    test(`${record.id} ${record.valid ? 'valid' : 'invalid'}`, () => {
      if (record.valid) {
        assert.doesNotThrow(() => parsePattern(record.pattern), record.pattern);
      } else {
        assert.throws(() => parsePattern(record.pattern), PatternSyntaxError, record.pattern);
      }
    });
  }
});

describe('inspector vectors', () => {
  for (const record of readVectors<InspectorRecord>('pattern-inspector-v21.jsonl')) {
    test(`${record.id} ${record.aspect}`, () => {
      const inspection = inspectPattern(record.pattern);
      if (record.aspect === 'qualifiers') {
        assert.deepEqual(
          [...inspection.qualifiers].sort(),
          [...(record.expected as string[])].sort(),
        );
      } else if (record.aspect === 'observation_ops') {
        const operators = [...inspection.observationOperators].sort();
        assert.deepEqual(operators, [...(record.expected as string[])].sort());
      } else {
        const expected = new Map(
          Object.entries(record.expected).map(([type, list]) => [
            type,
            (list as [(string | number)[], string, string][]).map(([path, operator, value]) => ({
              path: path.map((step) => (step === '__INDEX_STAR__' ? INDEX_STAR : step)),
              operator,
              value,
            })),
          ]),
        );
        assert.deepEqual(inspection.comparisons, expected);
      }
    });
  }
});
