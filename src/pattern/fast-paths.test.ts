import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  compilePattern,
  matchPattern,
  prepareObservations,
  type CompiledPattern,
  type MatchOptions,
} from './index.ts';
import { compileLike } from './text-match.ts';
import { readVectors } from './vectors.test-helper.ts';

interface MatcherRecord {
  id: string;
  pattern: string;
  observations: unknown[];
}

/** What a match returns or raises, in a form deepEqual can compare. */
type Outcome =
  | { matched: boolean; ids: unknown[] }
  | { error: string; message: string; position: number | undefined };

function outcome(
  run: () => { matched: boolean; observations: Record<string, unknown>[] },
): Outcome {
  try {
    const result = run();
    return { matched: result.matched, ids: result.observations.map((item) => item.id) };
  } catch (error) {
    const { name, message, position } = error as Error & { position?: number };
    return { error: name, message, position };
  }
}

/** Compiles both ways, or returns the compile error's outcome. */
function compileBoth(pattern: string): [CompiledPattern, CompiledPattern] | Outcome {
  let fast: CompiledPattern | undefined;
  try {
    fast = compilePattern(pattern);
    return [fast, compilePattern(pattern, { fastPaths: false })];
  } catch (error) {
    fast?.dispose();
    return outcome(() => {
      throw error;
    });
  }
}

/** Finds by bisection the smallest maxSteps, up to 2^20, that lets the match finish. */
function stepsNeeded(pattern: CompiledPattern, observations: unknown[]): number {
  const finishes = (maxSteps: number) => {
    const result = outcome(() => matchPattern(pattern, observations, { maxSteps }));
    return !('error' in result) || !result.message.includes('stopped after');
  };
  let low = 0;
  let high = 1 << 20;
  if (!finishes(high)) return Infinity;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (finishes(middle)) high = middle;
    else low = middle;
  }
  return high;
}

/** Asserts the fast and general compilations agree, on raw and on prepared observations. */
function assertSameOutcome(pattern: string, observations: unknown[], options: MatchOptions = {}) {
  const compiled = compileBoth(pattern);
  if (!Array.isArray(compiled)) {
    assert.deepEqual(
      outcome(() => matchPattern(pattern, observations, options)),
      compiled,
    );
    return;
  }
  const [fast, general] = compiled;
  try {
    const expected = outcome(() => matchPattern(general, observations, options));
    assert.deepEqual(
      outcome(() => matchPattern(fast, observations, options)),
      expected,
    );
    assert.deepEqual(
      outcome(() => matchPattern(pattern, observations, options)),
      expected,
    );

    const prepared = outcome(() => {
      const set = prepareObservations(observations, options.objects);
      const rest = options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps };
      return matchPattern(fast, set, rest);
    });
    assert.deepEqual(prepared, expected);
  } finally {
    fast.dispose();
    general.dispose();
  }
}

describe('fast paths', () => {
  const records = readVectors<MatcherRecord>('pattern-matcher-v21.jsonl');

  test('vectors agree with general path', () => {
    for (const record of records) {
      assert.doesNotThrow(() => assertSameOutcome(record.pattern, record.observations), record.id);
    }
  });

  test('vectors spend the same steps', () => {
    for (const record of records) {
      const compiled = compileBoth(record.pattern);
      if (!Array.isArray(compiled)) continue;
      const [fast, general] = compiled;
      try {
        const expected = stepsNeeded(general, record.observations);
        assert.equal(stepsNeeded(fast, record.observations), expected, record.id);
      } finally {
        fast.dispose();
        general.dispose();
      }
    }
  });

  // Observations with enough objects for the type index, of mixed and missing types.
  const many = Array.from({ length: 12 }, (_, i) => ({
    type: ['file', 'domain-name', 'ipv4-addr', 7, undefined][i % 5],
    id: `x--${i}`,
    name: i % 3 === 0 ? `name-${i}` : `other-${i}`,
    value: i % 2 === 0 ? `10.0.0.${i}` : `host${i}.example`,
    size: i,
    hashes: { 'SHA-256': `${i}`.repeat(4) },
    parent_ref: `x--${(i + 1) % 12}`,
    nested: { list: [i, { deep: `d${i}` }] },
    content_hex: i === 10 ? 'zz' : '00ff'.repeat(i % 3),
    data_bin: i === 5 ? 'not base64!' : ['AAE=', 'AQ==', ''][i % 3],
    bad_ref: i === 10 ? 7 : `x--${i}`,
  }));
  const observed = {
    type: 'observed-data',
    id: 'observed-data--many',
    first_observed: '2020-01-01T00:00:00Z',
    last_observed: '2020-01-01T00:00:00Z',
    number_observed: 2,
    object_refs: many.map((item) => item.id),
  };
  const bundle = { type: 'bundle', id: 'bundle--many', objects: [observed, ...many] };

  const comparisons = [
    "file:name = 'name-0'",
    "file:name = 'name-6'",
    "file:name != 'name-0'",
    "domain-name:value = 'host1.example'",
    "ipv4-addr:value = '10.0.0.2'",
    "ipv4-addr:value ISSUBSET '10.0.0.0/24'",
    "domain-name:value ISSUBSET '10.0.0.0/24'",
    "file:hashes.'SHA-256' = '0000'",
    "file:hashes.'SHA-256' IN ('5555', '0000')",
    'file:size > 4',
    'file:size IN (0, 5, 10)',
    'file:size IN (0.0, 6)',
    "file:name LIKE 'name-%'",
    "file:name MATCHES '^other-1'",
    'file:parent_ref.size = 1',
    'file:parent_ref.name EXISTS',
    'NOT EXISTS file:missing',
    'EXISTS file:nested.list',
    "file:nested.list[1].deep = 'd5'",
    "file:nested.list[*].deep = 'd5'",
    'file:nested.list[0] < 3',
    "file:name > t'2020-01-01T00:00:00Z'",
    'domain-name:size = 1',
    "file:content_hex = h'00ff'",
    "file:content_hex = 'x'",
    "file:data_bin = b'AAE='",
    "file:data_bin > 'A'",
    "file:parent_ref.parent_ref.name = 'name-0'",
    "file:bad_ref.name = 'name-0'",
    'file:nested.list[-1] = 0',
    'file:nested.list[5] = 0',
    'EXISTS file:parent_ref.missing_ref',
    'x:size = 1',
  ];

  test('many objects agree with general path', () => {
    for (const comparison of comparisons) {
      for (const pattern of [
        `[${comparison}]`,
        `[${comparison} AND file:size < 11]`,
        `[${comparison} OR domain-name:size = 3]`,
        `[${comparison}] REPEATS 2 TIMES`,
      ]) {
        assert.doesNotThrow(() => assertSameOutcome(pattern, [bundle]), pattern);
        assert.doesNotThrow(() => assertSameOutcome(pattern, many), pattern);
        for (const maxSteps of [1, 5, 13, 40]) {
          assert.doesNotThrow(() => assertSameOutcome(pattern, [bundle], { maxSteps }), pattern);
        }
      }
    }
  });

  test('objects option with prepared observations rejected', () => {
    const prepared = prepareObservations([observed], new Map(many.map((item) => [item.id, item])));
    assert.equal(matchPattern("[file:name = 'name-0']", prepared).matched, true);
    assert.throws(
      () => matchPattern("[file:name = 'name-0']", prepared, { objects: {} }),
      /pass objects to prepareObservations/,
    );
  });

  test('prepared observations reused', () => {
    const prepared = prepareObservations([bundle]);
    assert.equal(matchPattern("[file:name = 'name-0']", prepared).matched, true);
    assert.equal(matchPattern("[file:name = 'name-6']", prepared).matched, false);
    assert.equal(matchPattern("[file:name = 'name-0'] REPEATS 2 TIMES", prepared).matched, true);
    assert.equal(matchPattern("[file:name = 'name-0'] REPEATS 3 TIMES", prepared).matched, false);
  });

  test('timestamp strings on prepared observations', () => {
    const item = {
      type: 'x',
      id: 'x--1',
      at: '2020-01-01T00:00:00.5Z',
      bad: '2020-13-01T00:00:00Z',
    };
    const prepared = prepareObservations([item]);
    for (let i = 0; i < 2; i++) {
      assert.equal(matchPattern("[x:at > t'2020-01-01T00:00:00Z']", prepared).matched, true);
      assert.equal(matchPattern("[x:at = t'2020-01-01T00:00:00.500Z']", prepared).matched, true);
      assert.throws(
        () => matchPattern("[x:bad = t'2020-01-01T00:00:00Z']", prepared),
        /invalid timestamp in observed data/,
      );
    }
  });
});

describe('NFC shortcut', () => {
  test('text below U+0300 unchanged', () => {
    for (let first = 0; first < 0x300; first++) {
      const single = String.fromCharCode(first);
      assert.equal(single.normalize('NFC'), single, `U+${first.toString(16)}`);
      for (let second = 0; second < 0x300; second++) {
        const pair = single + String.fromCharCode(second);
        if (pair.normalize('NFC') !== pair) {
          assert.fail(`U+${first.toString(16)} U+${second.toString(16)} changes under NFC`);
        }
      }
    }
  });

  test('combining marks still composed', () => {
    assert.equal(matchPattern("[x:name LIKE 'é']", [{ type: 'x', name: 'e\u0301' }]).matched, true);
    assert.equal(
      matchPattern("[x:name MATCHES '^é$']", [{ type: 'x', name: 'e\u0301' }]).matched,
      true,
    );
  });
});

describe('LIKE without RE2', () => {
  // Characters that exercise wildcards, regex metacharacters, line breaks, composition,
  // astral characters and a lone surrogate.
  const alphabet = ['a', 'b', '%', '_', '.', '*', '\n', 'é', 'e\u0301', '😀', '\ud800'];
  let seed = 7;
  const random = (limit: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % limit;
  };
  const randomText = (maxLength: number) =>
    Array.from({ length: random(maxLength + 1) }, () => alphabet[random(alphabet.length)]).join('');

  function assertAgrees(pattern: string, values: string[]) {
    const literal = {
      type: 'string' as const,
      value: pattern,
      raw: `'${pattern}'`,
      start: 0,
      end: 0,
    };
    const fast = compileLike(literal, true);
    const general = compileLike(literal, false);
    try {
      for (const value of values) {
        const bytes = new TextEncoder().encode(value);
        assert.equal(fast.test(value), general.test(value), `${pattern} on ${value}`);
        assert.equal(fast.test(bytes), general.test(bytes), `${pattern} on bytes of ${value}`);
      }
    } finally {
      fast.dispose();
      general.dispose();
    }
  }

  test('random patterns agree with RE2', () => {
    for (let i = 0; i < 300; i++) {
      const values = Array.from({ length: 20 }, () => randomText(10));
      const pattern = randomText(6).replaceAll('%', random(2) === 0 ? '%' : 'a');
      // Half the values are built from the pattern so that matches are common.
      const built = values.map((value, index) =>
        index % 2 === 0 ? value : pattern.replaceAll('%', value.slice(0, 3)).replaceAll('_', 'b'),
      );
      assertAgrees(pattern, built);
    }
  });

  test('edge patterns agree with RE2', () => {
    const values = ['', 'a', 'ab', 'abc', 'aXbXc', 'a\nb', 'ba', '%', '_', 'a'.repeat(50)];
    for (const pattern of ['', '%', '%%', '_', '__', 'a%', '%a', '%a%', 'a%b%c', 'a_%_c', '%_%']) {
      assertAgrees(pattern, values);
    }
    assertAgrees(`%${'_'.repeat(40)}%`, ['a'.repeat(39), 'a'.repeat(40), 'a'.repeat(41)]);
  });
});

describe('reference targets', () => {
  const observed = (refs: string[]) => ({
    type: 'observed-data',
    id: 'observed-data--t',
    first_observed: '2020-01-01T00:00:00Z',
    last_observed: '2020-01-01T00:00:00Z',
    number_observed: 1,
    object_refs: refs,
  });

  test('bundle object replaces option object', () => {
    const given = new Map([['x--1', { type: 'x', id: 'x--1', name: 'given' }]]);
    const bundle = {
      type: 'bundle',
      objects: [observed(['x--1']), { type: 'x', id: 'x--1', name: 'bundled' }],
    };
    assert.equal(matchPattern("[x:name = 'bundled']", [bundle], { objects: given }).matched, true);
    assert.equal(matchPattern("[x:name = 'given']", [bundle], { objects: given }).matched, false);
    assert.equal(
      matchPattern("[x:name = 'given']", [observed(['x--1'])], { objects: given }).matched,
      true,
    );
  });

  test('later duplicate id wins', () => {
    for (const count of [2, 8, 9, 20]) {
      const objects = Array.from({ length: count }, (_, i) => ({
        type: 'x',
        id: `x--${i}`,
        name: `n${i}`,
      }));
      objects.push({ type: 'x', id: 'x--0', name: 'last' });
      const bundle = {
        type: 'bundle',
        objects: [observed(['x--0', `x--${count - 1}`]), ...objects],
      };
      assert.equal(matchPattern("[x:name = 'last']", [bundle]).matched, true, `${count}`);
      assert.equal(matchPattern("[x:name = 'n0']", [bundle]).matched, false, `${count}`);
      assert.equal(matchPattern(`[x:name = 'n${count - 1}']`, [bundle]).matched, true, `${count}`);
    }
  });

  test('embedded key hides listed reference', () => {
    for (const count of [1, 8, 12]) {
      const embedded = Object.fromEntries(
        Array.from({ length: count }, (_, i) => [`x--${i}`, { type: 'x', name: `embedded-${i}` }]),
      );
      const refs = Array.from({ length: count }, (_, i) => `x--${i}`);
      const bundled = refs.map((id) => ({ type: 'x', id, name: `bundled-${id}` }));
      const observation = { ...observed([...refs, ...refs]), objects: embedded };
      const bundle = { type: 'bundle', objects: [observation, ...bundled] };
      const last = `x--${count - 1}`;
      assert.equal(matchPattern(`[x:name = 'bundled-${last}']`, [bundle]).matched, false);
      assert.equal(matchPattern(`[x:name = 'embedded-${count - 1}']`, [bundle]).matched, true);
    }
  });

  test('repeated reference observed once', () => {
    const refs = Array.from({ length: 12 }, (_, i) => `x--${i % 3}`);
    const objects = [0, 1, 2].map((i) => ({ type: 'x', id: `x--${i}`, name: `n${i}` }));
    const bundle = { type: 'bundle', objects: [observed(refs), ...objects] };
    // Each of the three objects costs a comparison step and a path step, the match one more.
    assert.equal(matchPattern("[x:name = 'n2']", [bundle], { maxSteps: 7 }).matched, true);
    assert.throws(() => matchPattern("[x:name = 'n2']", [bundle], { maxSteps: 6 }), /stopped/);
  });

  test('non-object option values ignored', () => {
    const given = new Map<string, unknown>([
      ['x--1', 'not an object'],
      ['x--2', [1]],
    ]);
    const result = matchPattern('[EXISTS x:name]', [observed(['x--1', 'x--2'])], {
      objects: given,
    });
    assert.equal(result.matched, false);
  });
});
