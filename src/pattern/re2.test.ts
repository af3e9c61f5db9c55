import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { matchPattern, PatternEvaluationError } from './index.ts';
import { cachedRegexCounts, CompiledRegex, MAX_REGEX_INPUT_LENGTH } from './re2.ts';

const literal = { raw: "'x'", start: 0 };

function observation(text: string): Record<string, unknown> {
  return { type: 'x', id: 'x--1', text };
}

describe('re2 engine', () => {
  test('many expressions do not exhaust memory', () => {
    // Without dispose() re2-wasm 1.0.2 runs out of its 16 MB heap after about 5,000 of these.
    for (let i = 0; i < 6_000; i++) new CompiledRegex(`a(b|c)+d${i}`, 'u', literal).dispose();
    assert.equal(matchPattern("[x:text MATCHES 'a(b|c)+d']", [observation('abcd')]).matched, true);
  });

  test('memory-hungry expression reported', () => {
    assert.throws(
      () => matchPattern("[x:text MATCHES '\\\\p{L}{500}']", [observation('abc')]),
      (error: unknown) =>
        error instanceof PatternEvaluationError &&
        error.position === 16 &&
        /needs more memory than the RE2 engine has/.test(error.message),
    );
  });

  test('engine works after an abort', () => {
    const survivor = new CompiledRegex('^ab+c$', 'u', literal);
    assert.throws(() => new CompiledRegex('\\p{L}{500}', 'u', literal), /needs more memory/);
    assert.equal(survivor.test('abbbc'), true);
    assert.equal(matchPattern("[x:text LIKE 'a%c']", [observation('abbbc')]).matched, true);
    survivor.dispose();
  });

  test('long input refused', () => {
    const text = 'a'.repeat(MAX_REGEX_INPUT_LENGTH + 1);
    assert.throws(
      () => matchPattern("[x:text MATCHES 'b']", [observation(text)]),
      /too long for regular expression/,
    );
    assert.equal(matchPattern("[x:text MATCHES 'b']", [observation(text.slice(1))]).matched, false);
  });

  test('disposed expression refuses use', () => {
    const regex = new CompiledRegex('a', 'u', literal);
    assert.equal(regex.test('a'), true);
    regex.dispose();
    regex.dispose();
    assert.throws(() => regex.test('a'), /was disposed/);
  });

  test('invalid syntax located', () => {
    assert.throws(
      () => new CompiledRegex('(', 'u', { raw: "'('", start: 9 }),
      (error: unknown) => error instanceof PatternEvaluationError && error.position === 9,
    );
  });
});

describe('re2 expression cache', () => {
  test('handles share one expression', () => {
    const before = cachedRegexCounts().compiled;
    const first = new CompiledRegex('^shared-[0-9]+$', 'u', literal);
    const second = new CompiledRegex('^shared-[0-9]+$', 'u', literal);
    assert.equal(cachedRegexCounts().compiled, before + 1);
    first.dispose();
    assert.throws(() => first.test('shared-1'), /was disposed/);
    assert.equal(second.test('shared-1'), true);
    assert.equal(second.test('shared-x'), false);
    second.dispose();
  });

  test('released expression reused', () => {
    new CompiledRegex('^reused$', 'u', literal).dispose();
    const counts = cachedRegexCounts();
    const again = new CompiledRegex('^reused$', 'u', literal);
    assert.equal(cachedRegexCounts().compiled, counts.compiled);
    assert.equal(cachedRegexCounts().idle, counts.idle - 1);
    assert.equal(again.test('reused'), true);
    again.dispose();
  });

  test('flags kept apart', () => {
    const dotAll = new CompiledRegex('^a.b$', 'su', literal);
    const plain = new CompiledRegex('^a.b$', 'u', literal);
    assert.equal(dotAll.test('a\nb'), true);
    assert.equal(plain.test('a\nb'), false);
    dotAll.dispose();
    plain.dispose();
  });

  test('idle expressions bounded', () => {
    for (let i = 0; i < 500; i++) new CompiledRegex(`^bounded-${i}$`, 'u', literal).dispose();
    assert.ok(cachedRegexCounts().idle <= 64);
    const late = new CompiledRegex('^bounded-499$', 'u', literal);
    assert.equal(late.test('bounded-499'), true);
    late.dispose();
  });

  test('cache dropped after an abort', () => {
    new CompiledRegex('^before-abort$', 'u', literal).dispose();
    assert.ok(cachedRegexCounts().idle > 0);
    assert.throws(() => new CompiledRegex('\\p{L}{500}', 'u', literal), /needs more memory/);
    assert.equal(cachedRegexCounts().idle, 0);
    const after = new CompiledRegex('^before-abort$', 'u', literal);
    assert.equal(after.test('before-abort'), true);
    after.dispose();
  });
});
