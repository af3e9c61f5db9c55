import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MAX_NESTING_DEPTH, parsePattern, PatternSyntaxError } from './index.ts';
import { readVectors } from './vectors.test-helper.ts';

interface ValidatorRecord {
  id: string;
  pattern: string;
  stix_version: string;
  valid: boolean;
}

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

/** Returns the error parsePattern throws for a pattern that must be rejected. */
function syntaxError(pattern: string): PatternSyntaxError {
  try {
    parsePattern(pattern);
  } catch (error) {
    if (error instanceof PatternSyntaxError) return error;
    throw error;
  }
  assert.fail(`accepted invalid pattern ${pattern}`);
}

describe('parser hostile input', () => {
  test('deep parentheses rejected', () => {
    const error = syntaxError('('.repeat(100_000) + '[a:b = 1]' + ')'.repeat(100_000));
    assert.match(error.message, /nesting deeper than/);
    assert.equal(error.position, MAX_NESTING_DEPTH);
  });

  test('deep comparison parentheses rejected', () => {
    const error = syntaxError('[' + '('.repeat(100_000) + 'a:b = 1' + ')'.repeat(100_000) + ']');
    assert.match(error.message, /nesting deeper than/);
  });

  test('nesting at the limit accepted', () => {
    const depth = MAX_NESTING_DEPTH - 1;
    assert.doesNotThrow(() => parsePattern('('.repeat(depth) + '[a:b = 1]' + ')'.repeat(depth)));
  });
});
