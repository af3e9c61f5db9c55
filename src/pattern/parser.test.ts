import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Comparison, ComparisonExpression, Literal, ObservationExpression } from './ast.ts';
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

/** Writes an observation expression tree compactly, to compare grouping. */
function shape(expression: ObservationExpression): string {
  switch (expression.type) {
    case 'observation':
      return comparisonShape(expression.comparison);
    case 'observation-group':
      return `(${expression.operands.map(shape).join(` ${expression.operator} `)})`;
    case 'qualified':
      return `${shape(expression.expression)}{${expression.qualifiers.map((q) => q.type).join(',')}}`;
  }
}

function comparisonShape(expression: ComparisonExpression): string {
  if (expression.type === 'comparison') return expression.path.steps.map(stepText).join('.');
  return `<${expression.operands.map(comparisonShape).join(` ${expression.operator} `)}>`;
}

function stepText(step: Comparison['path']['steps'][number]): string {
  if (step.kind === 'key') return step.key;
  return step.kind === 'index' ? `#${step.index}` : '*';
}

/** Returns the literal of a comparison that has one, failing the test otherwise. */
function literalOf(comparison: Comparison): Literal {
  assert.ok('value' in comparison, `${comparison.operator} has no single literal`);
  return comparison.value;
}

function onlyComparison(pattern: string): Comparison {
  const expression = parsePattern(pattern).expression;
  assert.equal(expression.type, 'observation');
  const comparison = expression.comparison;
  assert.equal(comparison.type, 'comparison');
  return comparison;
}

describe('parser precedence', () => {
  test('AND binds tighter than OR', () => {
    const ast = parsePattern('[a:x = 1] OR [a:y = 1] AND [a:z = 1]');
    assert.equal(shape(ast.expression), '(x OR (y AND z))');
  });

  test('FOLLOWEDBY is loosest', () => {
    const ast = parsePattern('[a:x = 1] AND [a:y = 1] FOLLOWEDBY [a:z = 1] OR [a:w = 1]');
    assert.equal(shape(ast.expression), '((x AND y) FOLLOWEDBY (z OR w))');
  });

  test('chains become one n-ary node', () => {
    const ast = parsePattern('[a:x = 1] OR [a:y = 1] OR [a:z = 1]');
    assert.equal(shape(ast.expression), '(x OR y OR z)');
  });

  test('comparison AND binds tighter than OR', () => {
    const ast = parsePattern('[a:x = 1 OR a:y = 1 AND a:z = 1]');
    assert.equal(shape(ast.expression), '<x OR <y AND z>>');
  });

  test('parentheses override precedence', () => {
    const ast = parsePattern('[(a:x = 1 OR a:y = 1) AND a:z = 1] AND ([a:v = 1] OR [a:w = 1])');
    assert.equal(shape(ast.expression), '(<<x OR y> AND z> AND (v OR w))');
  });

  test('qualifier applies to nearest expression', () => {
    const ast = parsePattern('[a:x = 1] AND [a:y = 1] WITHIN 5 SECONDS');
    assert.equal(shape(ast.expression), '(x AND y{WITHIN})');
  });

  test('qualifiers keep their order', () => {
    const ast = parsePattern('([a:x = 1]) REPEATS 2 TIMES WITHIN 5 SECONDS REPEATS 3 TIMES');
    assert.equal(shape(ast.expression), 'x{REPEATS,WITHIN,REPEATS}');
  });
});

describe('parser literals', () => {
  test('string escapes decoded', () => {
    const comparison = onlyComparison("[a:b = 'it\\'s a \\\\ back']");
    assert.equal(comparison.operator, '=');
    assert.deepEqual(comparison.operator === '=' && comparison.value, {
      type: 'string',
      value: "it's a \\ back",
      raw: "'it\\'s a \\\\ back'",
      start: 7,
      end: 24,
    });
  });

  test('numbers', () => {
    const cases: [string, string, number][] = [
      ['0', 'integer', 0],
      ['+7', 'integer', 7],
      ['-12', 'integer', -12],
      ['.5', 'float', 0.5],
      ['-0.25', 'float', -0.25],
      ['3.0', 'float', 3],
    ];
    for (const [text, type, value] of cases) {
      const comparison = onlyComparison(`[a:b < ${text}]`);
      assert.ok(comparison.operator === '<');
      assert.equal(comparison.value.type, type, text);
      assert.equal(comparison.value.value, value, text);
    }
  });

  test('booleans only with equality', () => {
    assert.equal(onlyComparison('[a:b != false]').operator, '!=');
    assert.match(syntaxError('[a:b > true]').message, /expected a number, string/);
  });

  test('hex and binary decode to bytes', () => {
    const hex = literalOf(onlyComparison("[a:b = h'00fF']"));
    assert.equal(hex.type, 'hex');
    assert.deepEqual([...(hex.value as Uint8Array)], [0, 255]);

    const binary = literalOf(onlyComparison("[a:b = b'AQID']"));
    assert.equal(binary.type, 'binary');
    assert.deepEqual([...(binary.value as Uint8Array)], [1, 2, 3]);
  });

  test('timestamp keeps nanoseconds', () => {
    const literal = literalOf(onlyComparison("[a:b = t'2020-02-29T23:59:59.123456789Z']"));
    assert.equal(literal.type, 'timestamp');
    assert.deepEqual(literal.value, { seconds: 1583020799, nanos: 123456789 });
    assert.equal('dateExists' in literal && literal.dateExists, true);
  });

  test('timestamp on missing day parses', () => {
    const literal = literalOf(onlyComparison("[a:b = t'2023-02-29T00:00:00Z']"));
    assert.equal(literal.type, 'timestamp');
    assert.equal('dateExists' in literal && literal.dateExists, false);
  });

  test('invalid typed literals located', () => {
    const cases: [string, RegExp, number][] = [
      ["[a:b = h'abc']", /invalid hex literal at 7/, 7],
      ["[a:b = b'']", /invalid binary literal at 7/, 7],
      ["[a:b = b'YQ']", /invalid binary literal/, 7],
      ["[a:b = t'2020-01-01T00:00:00']", /invalid timestamp literal/, 7],
      ["[a:b = t'2020-01-01t00:00:00Z']", /invalid timestamp literal/, 7],
      ["[a:b = t'2020-01-01T24:00:00Z']", /invalid timestamp literal/, 7],
    ];
    for (const [pattern, message, position] of cases) {
      const error = syntaxError(pattern);
      assert.match(error.message, message, pattern);
      assert.equal(error.position, position, pattern);
    }
  });

  test('IN list and empty list', () => {
    const comparison = onlyComparison("[a:b NOT IN (1, 'x', h'ff', true)]");
    assert.ok(comparison.operator === 'IN');
    assert.equal(comparison.negated, true);
    assert.deepEqual(
      comparison.values.map((value) => value.type),
      ['integer', 'string', 'hex', 'boolean'],
    );

    const empty = onlyComparison('[a:b IN ()]');
    assert.ok(empty.operator === 'IN');
    assert.equal(empty.values.length, 0);
  });
});

describe('parser object paths', () => {
  test('extension path with quoted key', () => {
    const comparison = onlyComparison(
      "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
    );
    assert.equal(comparison.path.objectType, 'file');
    assert.deepEqual(comparison.path.steps, [
      { kind: 'key', key: 'extensions' },
      { kind: 'key', key: 'windows-pebinary-ext' },
      { kind: 'key', key: 'sections' },
      { kind: 'any-index' },
      { kind: 'key', key: 'entropy' },
    ]);
  });

  test('quoted first key and indexes', () => {
    const comparison = onlyComparison("[some-type:'a b'[0][-1] = 1]");
    assert.deepEqual(comparison.path.steps, [
      { kind: 'key', key: 'a b' },
      { kind: 'index', index: 0 },
      { kind: 'index', index: -1 },
    ]);
  });

  test('hyphenated property rejected', () => {
    const error = syntaxError('[file:a.b-c = 1]');
    assert.match(error.message, /expected a property name/);
    assert.equal(error.position, 8);
  });

  test('keyword property rejected', () => {
    assert.match(syntaxError('[file:AND = 1]').message, /found 'AND'/);
  });

  test('EXISTS and NOT EXISTS', () => {
    const exists = onlyComparison('[EXISTS file:name]');
    assert.equal(exists.operator, 'EXISTS');
    assert.equal(exists.negated, false);

    const notExists = onlyComparison('[NOT EXISTS file:hashes.MD5]');
    assert.equal(notExists.operator, 'EXISTS');
    assert.equal(notExists.negated, true);
  });
});

describe('parser operators', () => {
  test('alternate spellings', () => {
    const equal = onlyComparison('[a:b == 1]');
    assert.equal(equal.operator, '=');
    assert.equal(equal.operatorText, '==');

    const notEqual = onlyComparison('[a:b <> 1]');
    assert.equal(notEqual.operator, '!=');
    assert.equal(notEqual.operatorText, '<>');
  });

  test('string operators need strings', () => {
    for (const operator of ['LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET']) {
      const error = syntaxError(`[a:b ${operator} 5]`);
      assert.match(error.message, new RegExp(`expected a string literal after ${operator}`));
      assert.equal(error.position, 6 + operator.length);
    }
  });

  test('NOT before every operator', () => {
    for (const operator of ['= 1', '!= 1', '< 1', '<= 1', '> 1', '>= 1', "LIKE 'a'", 'IN (1)']) {
      const comparison = onlyComparison(`[a:b NOT ${operator}]`);
      assert.equal(comparison.negated, true, operator);
    }
  });

  test('comments and Unicode spaces skipped', () => {
    const ast = parsePattern("/* start */[a:b\u00a0=\u3000'x'] // trailing\n");
    assert.equal(ast.expression.type, 'observation');
  });
});

describe('parser errors', () => {
  const cases: [string, string, number][] = [
    ['[a:b = 1', "expected ']' to close the observation expression at 8, found end of pattern", 8],
    ['a:b = 1', "expected '[' to start an observation expression at 0, found 'a'", 0],
    ['', "expected '[' to start an observation expression at 0, found end of pattern", 0],
    ['[a:b = 1] within 5 seconds', 'expected AND, OR, FOLLOWEDBY, a qualifier or the end', 10],
    ['[a:b = 1] WITHIN -5 SECONDS', 'expected a positive number of seconds after WITHIN', 17],
    [
      '[a:b = 1] WITHIN 5 HOURS',
      "expected SECONDS after the WITHIN amount at 19, found 'HOURS'",
      19,
    ],
    ['[a:b = 1] REPEATS 1.5 TIMES', 'expected a positive integer after REPEATS', 18],
    ["[a:b = 1] START t'2020-01-01T00:00:00Z'", 'expected STOP after the START timestamp', 39],
    ["[a:b = 'x' ]]", 'expected AND, OR, FOLLOWEDBY', 12],
    ['[a:b = 012]', "expected ']' to close the observation expression at 8, found '12'", 8],
    ['[a:b =? 1]', "unexpected character '?' at 6", 6],
    ["[a:b = 'open]", 'unterminated string literal starting at 7', 7],
    ["[a:b = 'a\\d']", 'invalid escape at 9', 9],
    ['[a:b = 1] /* open', 'unterminated comment at 10', 10],
    ['[a:b = 1] AND', "expected '[' or '(' to start an observation expression at 13", 13],
    ['[a:b NOT 1]', 'expected a comparison operator after NOT', 9],
    ['[a:b IN (1, 2]', "expected ',' or ')' in the IN list at 13", 13],
    ['[a:b IN (1,)]', 'expected a literal in the IN list at 11', 11],
    ['[a:b[x] = 1]', "expected a list index: an integer or '*' at 5", 5],
    ['[NOT a:b = 1]', 'expected EXISTS after NOT at 5', 5],
    ['[a:b = 1] \u2603', 'unexpected character U+2603 at 10', 10],
  ];
  for (const [pattern, message, position] of cases) {
    test(`rejects ${JSON.stringify(pattern)}`, () => {
      const error = syntaxError(pattern);
      assert.ok(error.message.includes(message), `${error.message} lacks ${message}`);
      assert.equal(error.position, position);
    });
  }
});

describe('parser duplicate qualifiers', () => {
  test('same type on brackets rejected', () => {
    const error = syntaxError('[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS');
    assert.match(error.message, /duplicate WITHIN qualifier at 27/);
    assert.equal(error.position, 27);
  });

  test('START/STOP twice rejected', () => {
    const time = "START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'";
    assert.match(syntaxError(`[a:b = 1] ${time} ${time}`).message, /duplicate START\/STOP/);
  });

  test('different types accepted', () => {
    assert.doesNotThrow(() => parsePattern('[a:b = 1] REPEATS 2 TIMES WITHIN 6 SECONDS'));
  });

  test('on a group accepted', () => {
    assert.doesNotThrow(() => parsePattern('([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS'));
  });

  test('allowed by option', () => {
    const ast = parsePattern('[a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES', {
      allowDuplicateQualifiers: true,
    });
    assert.equal(shape(ast.expression), 'b{REPEATS,REPEATS}');
  });
});

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

  test('long qualifier run stays flat', () => {
    const ast = parsePattern('([a:b = 1])' + ' WITHIN 5 SECONDS'.repeat(50_000));
    assert.equal(ast.expression.type, 'qualified');
    assert.equal(ast.expression.type === 'qualified' && ast.expression.qualifiers.length, 50_000);
  });

  test('parse time grows linearly', () => {
    const build = (count: number) =>
      Array.from({ length: count }, (_, i) => `[file:name = 'f${i}' AND file:size > ${i}]`).join(
        ' OR ',
      );
    const time = (pattern: string) => {
      parsePattern(pattern);
      const started = performance.now();
      parsePattern(pattern);
      return performance.now() - started;
    };
    const small = time(build(5_000));
    const large = time(build(20_000));
    // Four times the input should take about four times as long; 12 leaves room for noise.
    assert.ok(large < small * 12 + 50, `5k: ${small.toFixed(1)} ms, 20k: ${large.toFixed(1)} ms`);
  });

  test('very long string literal', () => {
    const literal = literalOf(onlyComparison(`[a:b = '${'x'.repeat(1_000_000)}']`));
    assert.equal(literal.type, 'string');
    assert.equal((literal.value as string).length, 1_000_000);
  });
});
