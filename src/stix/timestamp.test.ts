import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compareTimestamps,
  fractionDigits,
  isStixTimestamp,
  microsToTaxii,
  timestampKey,
  timestampToMicros,
} from './timestamp.ts';

describe('isStixTimestamp', () => {
  const valid = [
    '2016-01-20T12:31:12Z',
    '2016-01-20T12:31:12.1Z',
    '2016-01-20T12:31:12.123456789012Z',
    '2024-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z',
    '2016-12-31T23:59:60Z',
    '0001-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
  ];
  const invalid = [
    '2020-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2020-04-31T00:00:00Z',
    '2020-13-01T00:00:00Z',
    '2020-00-01T00:00:00Z',
    '2020-01-00T00:00:00Z',
    '2020-01-01T24:00:00Z',
    '2020-01-01T00:60:00Z',
    '2020-01-01T00:00:61Z',
    '2020-01-01T00:00:00+00:00',
    '2020-01-01T00:00:00.000-05:00',
    '2020-01-01T00:00:00z',
    '2020-01-01 00:00:00Z',
    '2020-01-01T00:00:00.Z',
    '2020-01-01T00:00Z',
    '20200101T000000Z',
    '+2020-01-01T00:00:00Z',
  ];
  for (const value of valid)
    test(`${value} valid`, () => assert.equal(isStixTimestamp(value), true));
  for (const value of invalid)
    test(`${value} invalid`, () => assert.equal(isStixTimestamp(value), false));
});

describe('timestampKey', () => {
  test('same instant, other precision', () =>
    assert.equal(
      timestampKey('2020-01-01T00:00:00Z'),
      timestampKey('2020-01-01T00:00:00.000000Z'),
    ));
  test('sorts in time order', () => {
    const ordered = [
      '0050-03-01T00:00:00Z',
      '1969-12-31T23:59:59.999999999Z',
      '1970-01-01T00:00:00Z',
      '2016-01-20T12:31:12.5Z',
      '2016-01-20T12:31:12.51Z',
      '9999-12-31T23:59:59Z',
    ];
    const keys = ordered.map((t) => timestampKey(t) ?? '');
    assert.deepEqual([...keys].sort(), keys);
  });
  test('years before 100 not mapped to 1900s', () =>
    assert.notEqual(timestampKey('0050-01-01T00:00:00Z'), timestampKey('1950-01-01T00:00:00Z')));
  test('year 0000 has no key', () => assert.equal(timestampKey('0000-06-01T00:00:00Z'), undefined));
  test('ten significant digits have no key', () =>
    assert.equal(timestampKey('2020-01-01T00:00:00.1234567891Z'), undefined));
  test('trailing zeros beyond nine digits', () =>
    assert.equal(
      timestampKey('2020-01-01T00:00:00.1234567890Z'),
      timestampKey('2020-01-01T00:00:00.123456789Z'),
    ));
});

describe('compareTimestamps', () => {
  test('earlier negative', () =>
    assert.ok((compareTimestamps('2020-01-01T00:00:00Z', '2020-01-01T00:00:01Z') ?? 0) < 0));
  test('later positive', () =>
    assert.ok((compareTimestamps('2021-01-01T00:00:00Z', '2020-12-31T23:59:59.999Z') ?? 0) > 0));
  test('equal across precision', () =>
    assert.equal(compareTimestamps('2020-01-01T00:00:00.10Z', '2020-01-01T00:00:00.1Z'), 0));
  test('beyond nanoseconds', () =>
    assert.ok(
      (compareTimestamps('2020-01-01T00:00:00.0000000001Z', '2020-01-01T00:00:00Z') ?? 0) > 0,
    ));
  test('invalid gives undefined', () =>
    assert.equal(compareTimestamps('2020-02-30T00:00:00Z', '2020-01-01T00:00:00Z'), undefined));
});

describe('fractionDigits', () => {
  test('none', () => assert.equal(fractionDigits('2020-01-01T00:00:00Z'), 0));
  test('milliseconds', () => assert.equal(fractionDigits('2020-01-01T00:00:00.000Z'), 3));
  test('nanoseconds', () => assert.equal(fractionDigits('2020-01-01T00:00:00.123456789Z'), 9));
});

describe('micros', () => {
  test('round trip', () => {
    const micros = timestampToMicros('2024-01-02T03:04:05.678901Z');
    assert.equal(micros, Date.UTC(2024, 0, 2, 3, 4, 5, 678) * 1000 + 901);
    assert.equal(microsToTaxii(micros ?? 0), '2024-01-02T03:04:05.678901Z');
  });
  test('agrees with Date.parse', () => {
    for (const value of [
      '1999-12-31T23:59:59Z',
      '2000-03-01T00:00:00Z',
      '2038-01-19T03:14:08Z',
      '1601-01-01T00:00:00Z',
    ]) {
      assert.equal(timestampToMicros(value), Date.parse(value) * 1000, value);
    }
  });
});
