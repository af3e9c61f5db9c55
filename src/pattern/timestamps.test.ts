import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  compareInstants,
  daysInMonth,
  instantFromFields,
  parseObservedTimestamp,
  tryParseTimestamp,
} from './timestamps.ts';

describe('timestamps', () => {
  test('fields agree with Date.UTC', () => {
    for (let year = 1583; year <= 2400; year += 7) {
      for (let month = 1; month <= 12; month++) {
        const day = daysInMonth(year, month);
        const expected = Date.UTC(year, month - 1, day, 13, 14, 15) / 1000;
        assert.equal(
          instantFromFields(year, month, day, 13, 14, 15, '').seconds,
          expected,
          `${year}-${month}`,
        );
      }
    }
  });

  test('years before 100 kept', () => {
    const date = new Date(0);
    date.setUTCFullYear(12, 0, 1);
    assert.equal(instantFromFields(12, 1, 1, 0, 0, 0, '').seconds, date.getTime() / 1000);
  });

  test('leap years', () => {
    assert.equal(daysInMonth(2024, 2), 29);
    assert.equal(daysInMonth(1900, 2), 28);
    assert.equal(daysInMonth(2000, 2), 29);
    assert.equal(daysInMonth(2023, 4), 30);
  });

  test('fraction to nanoseconds', () => {
    assert.deepEqual(tryParseTimestamp('1970-01-01T00:00:01.5Z'), {
      seconds: 1,
      nanos: 500_000_000,
    });
    assert.deepEqual(tryParseTimestamp('1970-01-01T00:00:00.1234567891Z'), {
      seconds: 0,
      nanos: 123_456_789,
    });
  });

  test('leap second is next minute', () => {
    const leap = tryParseTimestamp('2016-12-31T23:59:60Z');
    const next = tryParseTimestamp('2017-01-01T00:00:00Z');
    assert.ok(leap);
    assert.ok(next);
    assert.equal(compareInstants(leap, next), 0);
  });

  test('invalid forms rejected', () => {
    for (const text of [
      '2021-02-29T00:00:00Z',
      '2021-04-31T00:00:00Z',
      '2021-13-01T00:00:00Z',
      '2021-00-01T00:00:00Z',
      '2021-01-01T24:00:00Z',
      '2021-01-01T00:60:00Z',
      '2021-01-01T00:00:61Z',
      '2021-01-01t00:00:00Z',
      '2021-01-01T00:00:00z',
      '2021-01-01T00:00:00',
      '2021-01-01T00:00:00+00:00',
      '2021-01-01T00:00:00.Z',
    ]) {
      assert.equal(tryParseTimestamp(text), undefined, text);
    }
  });
});

describe('timestamp parser', () => {
  // The grammar of RFC 3339 UTC timestamps as a regular expression, to check the hand-written
  // parser against.
  const form = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?Z$/;

  test('agrees with regular expression', () => {
    const valid = '2020-02-29T23:59:60.123456789123Z';
    const replacements = ['0', '9', '-', 'T', ':', '.', 'Z', 'z', ' ', '٣', ''];
    let checked = 0;
    for (let position = 0; position <= valid.length; position++) {
      for (const replacement of replacements) {
        for (const text of [
          valid.slice(0, position) + replacement + valid.slice(position + 1),
          valid.slice(0, position) + replacement + valid.slice(position),
          valid.slice(0, position) + 'Z',
        ]) {
          const parsed = tryParseTimestamp(text);
          const fields = form.exec(text)?.slice(1, 7).map(Number);
          if (!fields) {
            assert.equal(parsed, undefined, text);
          } else {
            const [year, month, day, hour, minute, second] = fields as number[];
            const inRange =
              month! >= 1 &&
              month! <= 12 &&
              day! >= 1 &&
              day! <= daysInMonth(year!, month!) &&
              hour! <= 23 &&
              minute! <= 59 &&
              second! <= 60;
            assert.equal(parsed !== undefined, inRange, text);
          }
          checked++;
        }
      }
    }
    assert.ok(checked > 1000);
  });

  test('fields read in place', () => {
    assert.deepEqual(tryParseTimestamp('2020-02-29T23:59:59Z'), {
      seconds: Date.UTC(2020, 1, 29, 23, 59, 59) / 1000,
      nanos: 0,
    });
    assert.deepEqual(tryParseTimestamp('0001-01-01T00:00:00.000000001Z'), {
      seconds: -62135596800,
      nanos: 1,
    });
    assert.equal(tryParseTimestamp('2020-02-29T23:59:59.Z'), undefined);
    assert.equal(tryParseTimestamp('2020-02-29T23:59:59.1'), undefined);
    assert.equal(tryParseTimestamp('2020-02-29T23:59:59ZZ'), undefined);
    assert.equal(tryParseTimestamp('+020-02-29T23:59:59Z'), undefined);
  });
});

describe('observed timestamp cache', () => {
  test('repeated text parsed once', () => {
    const first = parseObservedTimestamp('2021-03-04T05:06:07.5Z');
    assert.equal(parseObservedTimestamp('2021-03-04T05:06:07.5Z'), first);
    assert.deepEqual(first, tryParseTimestamp('2021-03-04T05:06:07.5Z'));
  });

  test('long fraction parsed, not kept', () => {
    const text = `2021-03-04T05:06:07.${'1'.repeat(40)}Z`;
    const first = parseObservedTimestamp(text);
    assert.notEqual(parseObservedTimestamp(text), first);
    assert.deepEqual(parseObservedTimestamp(text), { seconds: first.seconds, nanos: 111_111_111 });
  });

  test('invalid text raises every time', () => {
    for (let i = 0; i < 2; i++) {
      assert.throws(() => parseObservedTimestamp('2021-02-30T00:00:00Z'), /invalid timestamp/);
    }
  });

  test('values correct past cache size', () => {
    for (let second = 0; second < 3000; second++) {
      const text = new Date(Date.UTC(2021, 0, 1, 0, 0, second)).toISOString();
      assert.equal(parseObservedTimestamp(text).seconds, Date.UTC(2021, 0, 1) / 1000 + second);
    }
  });
});
