import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  extractIndexKeys,
  inspectPattern,
  matchPattern,
  parsePattern,
  PatternEvaluationError,
  PatternSyntaxError,
} from './index.ts';

/** A small seeded generator (mulberry32) so that a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes random patterns that follow the grammar, to a bounded depth. */
class PatternWriter {
  constructor(private readonly next: () => number) {}

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  literal(orderable: boolean): string {
    const choices = [
      "'x'",
      "'it\\'s'",
      '7',
      '-3',
      '.25',
      "h'0aff'",
      "b'AQID'",
      "t'2020-01-01T00:00:00.5Z'",
      "'10.0.0.0/8'",
    ];
    return this.pick(orderable ? choices : [...choices, 'true', 'false']);
  }

  path(): string {
    const type = this.pick(['person', 'file', 'x-custom', 'ipv4-addr']);
    let path = `${type}:${this.pick(['name', 'age', "'a b'", 'hashes', 'list', 'value', 'knows_refs'])}`;
    const steps = Math.floor(this.next() * 3);
    for (let i = 0; i < steps; i++) path += this.pick(['.key', ".'q-r'", '[*]', '[0]', '[-1]']);
    return path;
  }

  comparison(depth: number): string {
    const roll = this.next();
    if (depth > 0 && roll < 0.25) {
      const operator = this.pick(['AND', 'OR']);
      return `${this.comparison(depth - 1)} ${operator} ${this.comparison(depth - 1)}`;
    }
    if (depth > 0 && roll < 0.35) return `(${this.comparison(depth - 1)})`;
    if (roll < 0.4) return `${this.next() < 0.5 ? 'NOT ' : ''}EXISTS ${this.path()}`;

    const not = this.next() < 0.2 ? 'NOT ' : '';
    const operator = this.pick([
      '=',
      '!=',
      '==',
      '<>',
      '<',
      '<=',
      '>',
      '>=',
      'IN',
      'LIKE',
      'MATCHES',
      'ISSUBSET',
      'ISSUPERSET',
    ]);
    if (operator === 'IN') {
      const count = Math.floor(this.next() * 3);
      const values = Array.from({ length: count }, () => this.literal(false));
      return `${this.path()} ${not}IN (${values.join(', ')})`;
    }
    if (['LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET'].includes(operator)) {
      const value = this.pick(["'a%'", "'^a.*'", "'10.0.0.0/8'", "'::1'", "'_b'", "'(x'"]);
      return `${this.path()} ${not}${operator} ${value}`;
    }
    const orderable = ['<', '<=', '>', '>='].includes(operator);
    return `${this.path()} ${not}${operator} ${this.literal(orderable)}`;
  }

  observation(depth: number): string {
    const roll = this.next();
    let text: string;
    if (depth > 0 && roll < 0.3) {
      const operator = this.pick(['AND', 'OR', 'FOLLOWEDBY']);
      return `${this.observation(depth - 1)} ${operator} ${this.observation(depth - 1)}`;
    } else if (depth > 0 && roll < 0.45) {
      text = `(${this.observation(depth - 1)})`;
    } else {
      text = `[${this.comparison(2)}]`;
    }

    // One qualifier of each type at most, which a bracketed expression allows.
    const qualifiers = [
      'WITHIN 30 SECONDS',
      'WITHIN 0.5 SECONDS',
      'REPEATS 2 TIMES',
      "START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
    ];
    const seen = new Set<string>();
    while (this.next() < 0.3) {
      const qualifier = this.pick(qualifiers);
      const kind = qualifier.split(' ')[0]!;
      if (seen.has(kind)) break;
      seen.add(kind);
      text += ` ${qualifier}`;
    }
    return text;
  }
}

const observations = [0, 1, 2].map((i) => ({
  type: 'observed-data',
  id: `observed-data--${i}`,
  first_observed: `2020-01-01T00:00:0${i}Z`,
  last_observed: `2020-01-01T00:00:1${i}Z`,
  number_observed: 1 + i,
  objects: {
    '0': { type: 'person', name: `p${i}`, age: i * 10, knows_refs: ['1'], list: [1, 'a'] },
    '1': { type: 'file', name: 'x', hashes: { key: 'abc', 'q-r': 3 }, 'a b': true },
    '2': { type: 'ipv4-addr', value: `10.0.0.${i}` },
  },
}));

/** Runs every public entry point on a pattern that parsed, accepting only documented errors. */
function exercise(pattern: string): void {
  const ast = parsePattern(pattern, { allowDuplicateQualifiers: true });
  inspectPattern(ast);
  extractIndexKeys(ast);
  try {
    matchPattern(ast, observations, { maxSteps: 20_000 });
  } catch (error) {
    if (!(error instanceof PatternEvaluationError)) throw error;
  }
}

describe('fuzz', () => {
  test('generated patterns parse and evaluate', () => {
    const writer = new PatternWriter(random(20240401));
    for (let i = 0; i < 1500; i++) {
      const pattern = writer.observation(3);
      assert.doesNotThrow(() => exercise(pattern), pattern);
    }
  });

  test('mutated patterns fail cleanly', () => {
    const next = random(77);
    const writer = new PatternWriter(next);
    const alphabet = "[]():.,'\\*=!<>-+ ahtbSTOPWITHIN019_/%";
    for (let i = 0; i < 3000; i++) {
      let pattern = writer.observation(2);
      const edits = 1 + Math.floor(next() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(next() * (pattern.length + 1));
        const char = alphabet[Math.floor(next() * alphabet.length)]!;
        pattern =
          next() < 0.5
            ? pattern.slice(0, at) + char + pattern.slice(at)
            : pattern.slice(0, at) + pattern.slice(at + 1);
      }
      try {
        exercise(pattern);
      } catch (error) {
        assert.ok(error instanceof PatternSyntaxError, `${pattern}: ${String(error)}`);
        assert.ok(error.position >= 0, pattern);
        assert.ok(error.position <= pattern.length, pattern);
        assert.ok(error.message.includes(`${error.position}`), error.message);
      }
    }
  });
});
