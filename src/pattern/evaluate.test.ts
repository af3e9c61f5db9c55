import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compilePattern, matchPattern, PatternEvaluationError } from './index.ts';

let counter = 0;

/** Builds a STIX 2.1 observed-data object observing `objects` between two times. */
function observedData(
  objects: Record<string, unknown>[],
  first = '2020-01-01T00:00:00Z',
  last = first,
  count = 1,
): { observed: Record<string, unknown>; scos: Record<string, unknown>[] } {
  const scos = objects.map((object) => ({ id: `${object.type}--${++counter}`, ...object }));
  const observed = {
    type: 'observed-data',
    id: `observed-data--${++counter}`,
    first_observed: first,
    last_observed: last,
    number_observed: count,
    object_refs: scos.map((sco) => sco.id),
  };
  return { observed, scos };
}

/** Matches a pattern against observed-data objects given with their SCOs in one bundle. */
function matches(pattern: string, ...items: ReturnType<typeof observedData>[]): boolean {
  const objects = items.flatMap((item) => [item.observed, ...item.scos]);
  return matchPattern(pattern, [{ type: 'bundle', id: 'bundle--1', objects }]).matched;
}

const person = (name: string, age: number) => ({ type: 'person', name, age });

describe('evaluate inputs', () => {
  test('bare SCO', () => {
    const sco = { type: 'ipv4-addr', id: 'ipv4-addr--1', value: '198.51.100.7' };
    const result = matchPattern("[ipv4-addr:value = '198.51.100.7']", [sco]);
    assert.equal(result.matched, true);
    assert.deepEqual(result.observations, [sco]);
  });

  test('bare SCO fails temporal qualifier', () => {
    const sco = { type: 'ipv4-addr', value: '198.51.100.7' };
    assert.equal(
      matchPattern("[ipv4-addr:value = '198.51.100.7'] WITHIN 5 SECONDS", [sco]).matched,
      false,
    );
  });

  test('object_refs through a Map', () => {
    const { observed, scos } = observedData([{ type: 'domain-name', value: 'example.com' }]);
    const objects = new Map(scos.map((sco) => [String(sco.id), sco]));
    const result = matchPattern("[domain-name:value = 'example.com']", [observed], { objects });
    assert.equal(result.matched, true);
    assert.deepEqual(result.observations, [observed]);
  });

  test('object_refs through a record', () => {
    const { observed, scos } = observedData([{ type: 'domain-name', value: 'example.com' }]);
    const objects = Object.fromEntries(scos.map((sco) => [sco.id, sco]));
    assert.equal(
      matchPattern("[domain-name:value = 'example.com']", [observed], { objects }).matched,
      true,
    );
  });

  test('flat list of observed-data and SCOs', () => {
    const { observed, scos } = observedData([{ type: 'domain-name', value: 'example.com' }]);
    const pattern = "[domain-name:value = 'example.com']";
    const result = matchPattern(pattern, [observed, ...scos]);
    assert.equal(result.matched, true);
    assert.deepEqual(result.observations, [observed]);
    assert.equal(matchPattern(`${pattern} AND ${pattern}`, [observed, ...scos]).matched, false);
  });

  test('unresolved object_refs ignored', () => {
    const { observed } = observedData([{ type: 'domain-name', value: 'example.com' }]);
    assert.equal(matchPattern("[domain-name:value = 'example.com']", [observed]).matched, false);
  });

  test('embedded objects dictionary', () => {
    const observed = {
      type: 'observed-data',
      first_observed: '2020-01-01T00:00:00Z',
      last_observed: '2020-01-01T00:00:00Z',
      number_observed: 1,
      objects: {
        '0': { type: 'file', name: 'a.exe', parent_directory_ref: '1' },
        '1': { type: 'directory', path: 'C:\\Temp' },
      },
    };
    const pattern = "[file:parent_directory_ref.path = 'C:\\\\Temp']";
    assert.equal(matchPattern(pattern, [observed]).matched, true);
  });

  test('observed-data without number_observed rejected', () => {
    const { observed } = observedData([]);
    delete observed.number_observed;
    assert.throws(() => matchPattern('[a:b = 1]', [observed]), /number_observed undefined/);
  });

  test('invalid first_observed rejected', () => {
    const { observed } = observedData([], '2020-01-01 00:00:00');
    assert.throws(() => matchPattern('[a:b = 1]', [observed]), PatternEvaluationError);
  });

  test('last before first rejected', () => {
    const { observed } = observedData([], '2020-01-02T00:00:00Z', '2020-01-01T00:00:00Z');
    assert.throws(() => matchPattern('[a:b = 1]', [observed]), /last_observed before/);
  });

  test('huge number_observed rejected', () => {
    const items = [0, 1, 2].map(() =>
      observedData([person('a', 1)], undefined, undefined, 2 ** 52),
    );
    assert.throws(() => matches("[person:name = 'a']", ...items), /match them in smaller batches/);
  });

  test('SDO types never match', () => {
    const { observed, scos } = observedData([{ type: 'x', v: 1 }]);
    assert.equal(matches('[observed-data:number_observed = 1]', { observed, scos }), false);
  });
});

describe('evaluate object paths', () => {
  const file = {
    type: 'file',
    name: 'setup.exe',
    hashes: { 'SHA-256': 'aa', MD5: 'bb' },
    extensions: { 'windows-pebinary-ext': { sections: [{ entropy: 7.5 }, { entropy: 1.2 }] } },
    magic_number_hex: '4D5A',
    list: [10, 20],
  };

  test('extension list with [*]', () => {
    const data = observedData([file]);
    assert.equal(
      matches("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]", data),
      true,
    );
    assert.equal(
      matches("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 8.0]", data),
      false,
    );
  });

  test('index steps', () => {
    const data = observedData([file]);
    assert.equal(matches('[file:list[1] = 20]', data), true);
    assert.equal(matches('[file:list[2] = 20]', data), false);
    assert.equal(matches('[file:list[-1] = 20]', data), false);
  });

  test('hex property against literals', () => {
    const data = observedData([file]);
    assert.equal(matches("[file:magic_number_hex = h'4d5a']", data), true);
    assert.equal(matches("[file:magic_number_hex = b'TVo=']", data), true);
    assert.equal(matches("[file:magic_number_hex = 'MZ']", data), true);
    assert.equal(matches("[file:magic_number_hex > h'4d']", data), true);
  });

  test('invalid hex property rejected', () => {
    const data = observedData([{ type: 'file', magic_number_hex: 'xyz' }]);
    assert.throws(() => matches("[file:magic_number_hex = h'00']", data), /not valid hex/);
  });

  test('references across objects', () => {
    const addresses = observedData([
      { type: 'ipv4-addr', value: '10.0.0.1' },
      { type: 'ipv4-addr', value: '10.0.0.2' },
    ]);
    const [first, second] = addresses.scos as [Record<string, unknown>, Record<string, unknown>];
    const traffic = {
      id: 'network-traffic--9',
      type: 'network-traffic',
      src_ref: first.id,
      dst_refs: [second.id, 'missing--1'],
    };
    addresses.scos.push(traffic);
    (addresses.observed.object_refs as string[]).push(traffic.id);

    assert.equal(matches("[network-traffic:src_ref.value = '10.0.0.1']", addresses), true);
    assert.equal(matches("[network-traffic:dst_refs[*].value = '10.0.0.2']", addresses), true);
    assert.equal(matches("[network-traffic:dst_refs[0].value = '10.0.0.2']", addresses), true);
    assert.equal(matches("[network-traffic:src_ref.value ISSUBSET '10.0.0.0/8']", addresses), true);
  });

  test('reference that is not a string rejected', () => {
    const data = observedData([{ type: 'x', thing_ref: 5 }]);
    assert.throws(() => matches('[x:thing_ref.name = 1]', data), /reference property thing_ref/);
  });

  test('AND needs one object', () => {
    const data = observedData([person('alice', 30), person('bob', 40)]);
    assert.equal(matches("[person:name = 'alice' AND person:age = 30]", data), true);
    assert.equal(matches("[person:name = 'alice' AND person:age = 40]", data), false);
    assert.equal(matches("[person:name = 'alice' OR person:age = 40]", data), true);
  });

  test('EXISTS and NOT EXISTS', () => {
    const data = observedData([file]);
    assert.equal(matches('[EXISTS file:hashes.MD5]', data), true);
    assert.equal(matches("[EXISTS file:hashes.'SHA-1']", data), false);
    assert.equal(matches("[NOT EXISTS file:hashes.'SHA-1']", data), true);
    assert.equal(matches('[NOT EXISTS file:name]', data), false);
  });
});

describe('evaluate operators', () => {
  const data = () =>
    observedData([
      {
        type: 'x',
        text: 'Hello\nWorld',
        dots: 'a.b(c)',
        ascii: 'zebra',
        astral: '\u{10000}',
        bmp: '\uffff',
        ip4: '192.168.1.7',
        net6: '2001:db8::/32',
        when: '2020-05-01T10:00:00.5Z',
        number: 3,
      },
    ]);

  test('LIKE wildcards span lines', () => {
    assert.equal(matches("[x:text LIKE 'Hello%World']", data()), true);
    assert.equal(matches("[x:text LIKE 'Hello_World']", data()), true);
    assert.equal(matches("[x:text LIKE 'Hello']", data()), false);
  });

  test('LIKE escapes regex characters', () => {
    assert.equal(matches("[x:dots LIKE 'a.b(c)']", data()), true);
    assert.equal(matches("[x:dots LIKE 'a_b(%']", data()), true);
    assert.equal(matches("[x:dots LIKE 'aXb(c)']", data()), false);
  });

  test('MATCHES searches unanchored', () => {
    assert.equal(matches("[x:ascii MATCHES 'br']", data()), true);
    assert.equal(matches("[x:ascii MATCHES '^br']", data()), false);
  });

  test('MATCHES hostile regex is linear', () => {
    const hostile = observedData([{ type: 'x', text: 'a'.repeat(100_000) + '!' }]);
    const started = performance.now();
    assert.equal(matches("[x:text MATCHES '^(a+)+$']", hostile), false);
    assert.ok(performance.now() - started < 2000);
  });

  test('MATCHES lookahead reported', () => {
    assert.throws(
      () => matches("[x:ascii MATCHES 'a(?=b)']", data()),
      (error: unknown) =>
        error instanceof PatternEvaluationError &&
        error.position === 17 &&
        /not supported by RE2/.test(error.message),
    );
  });

  test('MATCHES backreference reported', () => {
    assert.throws(() => matches("[x:ascii MATCHES '(a)\\\\1']", data()), /not supported by RE2/);
  });

  test('strings order by code point', () => {
    assert.equal(matches("[x:astral > '\uffff']", data()), true);
    assert.equal(matches("[x:bmp < '\u{10000}']", data()), true);
  });

  test('timestamp literal against string', () => {
    assert.equal(matches("[x:when = t'2020-05-01T10:00:00.500Z']", data()), true);
    assert.equal(matches("[x:when > t'2020-05-01T10:00:00.4999999Z']", data()), true);
    assert.throws(
      () => matches("[x:ascii = t'2020-05-01T10:00:00Z']", data()),
      /invalid timestamp/,
    );
  });

  test('timestamp literal on missing day', () => {
    assert.throws(
      () => matches("[x:when = t'2021-02-29T00:00:00Z']", data()),
      /day that does not exist/,
    );
  });

  test('ISSUBSET and ISSUPERSET', () => {
    assert.equal(matches("[x:ip4 ISSUBSET '192.168.0.0/16']", data()), true);
    assert.equal(matches("[x:ip4 ISSUBSET '192.168.1.7']", data()), true);
    assert.equal(matches("[x:ip4 ISSUBSET '10.0.0.0/8']", data()), false);
    assert.equal(matches("[x:net6 ISSUPERSET '2001:db8:1::5']", data()), true);
    assert.equal(matches("[x:net6 ISSUPERSET '2001:db9::5']", data()), false);
    assert.equal(matches("[x:net6 ISSUBSET '2001:db8::/16']", data()), true);
    assert.equal(matches("[x:ip4 ISSUBSET '::/0']", data()), false);
  });

  test('ISSUBSET on non-address rejected', () => {
    assert.throws(() => matches("[x:ascii ISSUBSET '10.0.0.0/8']", data()), /not an IP address/);
    assert.throws(() => matches("[x:ip4 ISSUBSET '10.0.0.0/33']", data()), /not an IP address/);
  });

  test('IN with mixed types rejected', () => {
    assert.throws(() => matches("[x:number IN (1, 'a')]", data()), /mixes integer and string/);
    assert.equal(matches('[x:number IN (1.5, 3)]', data()), true);
  });

  test('NOT on unordered types stays false', () => {
    assert.equal(matches("[x:number NOT < 'a']", data()), false);
    assert.equal(matches("[x:number NOT = 'a']", data()), true);
  });
});

describe('evaluate observation operators', () => {
  test('AND binds distinct observations', () => {
    const alice = observedData([person('alice', 30)]);
    assert.equal(matches("[person:name = 'alice'] AND [person:age = 30]", alice), false);
    assert.equal(
      matches(
        "[person:name = 'alice'] AND [person:age = 30]",
        alice,
        observedData([person('alice', 30)]),
      ),
      true,
    );
  });

  test('number_observed counts as instances', () => {
    const twice = observedData(
      [person('alice', 30)],
      '2020-01-01T00:00:00Z',
      '2020-01-01T00:00:10Z',
      2,
    );
    assert.equal(matches("[person:name = 'alice'] AND [person:age = 30]", twice), true);
    assert.equal(matches("[person:name = 'alice'] REPEATS 2 TIMES", twice), true);
    assert.equal(matches("[person:name = 'alice'] REPEATS 3 TIMES", twice), false);
  });

  test('FOLLOWEDBY needs order', () => {
    const early = observedData([person('alice', 1)], '2020-01-01T00:00:00Z');
    const late = observedData([person('bob', 2)], '2020-01-01T00:01:00Z');
    assert.equal(
      matches("[person:name = 'alice'] FOLLOWEDBY [person:name = 'bob']", early, late),
      true,
    );
    assert.equal(
      matches("[person:name = 'bob'] FOLLOWEDBY [person:name = 'alice']", early, late),
      false,
    );
  });

  test('FOLLOWEDBY chain of three', () => {
    const items = ['a', 'b', 'c'].map((name, i) =>
      observedData([person(name, i)], `2020-01-01T00:0${i}:00Z`),
    );
    const pattern = (x: string, y: string, z: string) =>
      `[person:name = '${x}'] FOLLOWEDBY [person:name = '${y}'] FOLLOWEDBY [person:name = '${z}']`;
    assert.equal(matches(pattern('a', 'b', 'c'), ...items), true);
    assert.equal(matches(pattern('a', 'c', 'b'), ...items), false);
  });

  test('FOLLOWEDBY with overlapping intervals', () => {
    const left = observedData([person('a', 1)], '2020-01-01T00:00:00Z', '2020-01-01T00:10:00Z');
    const right = observedData([person('b', 1)], '2020-01-01T00:05:00Z', '2020-01-01T00:06:00Z');
    assert.equal(matches("[person:name = 'b'] FOLLOWEDBY [person:name = 'a']", left, right), true);
  });
});

describe('evaluate qualifiers', () => {
  const at = (second: number) => `2020-01-01T00:00:${String(second).padStart(2, '0')}Z`;

  test('WITHIN bounds inclusive', () => {
    const a = observedData([person('a', 1)], at(0));
    const b = observedData([person('b', 1)], at(5));
    const pattern = (seconds: string) =>
      `([person:name = 'a'] AND [person:name = 'b']) WITHIN ${seconds} SECONDS`;
    assert.equal(matches(pattern('5'), a, b), true);
    assert.equal(matches(pattern('4.999'), a, b), false);
  });

  test('WITHIN zero rejected', () => {
    assert.throws(
      () => matches('[a:b = 1] WITHIN 0 SECONDS', observedData([])),
      /positive duration/,
    );
  });

  test('REPEATS zero rejected', () => {
    assert.throws(() => matches('[a:b = 1] REPEATS 0 TIMES', observedData([])), /at least once/);
  });

  test('START inclusive and STOP exclusive', () => {
    const item = observedData([person('a', 1)], at(10), at(20));
    const window = (start: number, stop: number) =>
      `[person:name = 'a'] START t'${at(start)}' STOP t'${at(stop)}'`;
    assert.equal(matches(window(20, 30), item), true);
    assert.equal(matches(window(0, 10), item), false);
    assert.equal(matches(window(0, 11), item), true);
    assert.equal(matches(window(21, 30), item), false);
    assert.equal(matches(window(15, 15), item), false);
  });

  test('WITHIN prunes large REPEATS', () => {
    const items = Array.from({ length: 40 }, (_, i) =>
      observedData([person('a', i)], `2020-01-01T00:${String(i).padStart(2, '0')}:00Z`),
    );
    assert.equal(
      matches("[person:name = 'a'] REPEATS 15 TIMES WITHIN 600 SECONDS", ...items),
      false,
    );
    assert.equal(
      matches("[person:name = 'a'] REPEATS 15 TIMES WITHIN 840 SECONDS", ...items),
      true,
    );
  });

  test('step limit stops explosive search', () => {
    const items = Array.from({ length: 12 }, (_, i) => observedData([person('a', i)], at(i + 10)));
    const early = observedData([person('z', 0)], at(0));
    const chain = Array.from({ length: 8 }, () => "[person:name = 'a']").join(' AND ');
    const pattern = `(${chain}) FOLLOWEDBY [person:name = 'z']`;
    const started = performance.now();
    assert.throws(() => matches(pattern, ...items, early), /stopped after 1000000 steps/);
    assert.ok(performance.now() - started < 20_000);
  });

  test('maxSteps option', () => {
    const items = Array.from({ length: 5 }, (_, i) => observedData([person('a', i)], at(i)));
    const objects = items.flatMap((item) => [item.observed, ...item.scos]);
    const bundle = { type: 'bundle', objects };
    assert.throws(
      () => matchPattern("[person:name = 'a'] REPEATS 5 TIMES", [bundle], { maxSteps: 5 }),
      /stopped after 5 steps/,
    );
  });
});

describe('evaluate compiled patterns', () => {
  test('reused across calls', () => {
    const compiled = compilePattern("[x:name MATCHES '^a' AND x:name LIKE '%z']");
    try {
      assert.equal(matchPattern(compiled, [{ type: 'x', name: 'abcz' }]).matched, true);
      assert.equal(matchPattern(compiled, [{ type: 'x', name: 'bcz' }]).matched, false);
      assert.equal(matchPattern(compiled, [{ type: 'x', name: 'az' }]).matched, true);
    } finally {
      compiled.dispose();
    }
  });

  test('disposed pattern raises', () => {
    const compiled = compilePattern("[x:name MATCHES '^a']");
    compiled.dispose();
    assert.throws(() => matchPattern(compiled, [{ type: 'x', name: 'a' }]), /was disposed/);
  });

  test('compile errors raised early', () => {
    assert.throws(() => compilePattern("[x:name MATCHES '(?<=a)b']"), PatternEvaluationError);
    assert.throws(() => compilePattern('[x:name = 1] WITHIN 0 SECONDS'), /positive duration/);
  });
});
