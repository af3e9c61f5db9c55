import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MAX_NESTING_DEPTH, parsePattern, PatternSyntaxError } from './index.ts';

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
