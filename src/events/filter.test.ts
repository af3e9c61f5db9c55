import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CairnError } from '../errors.ts';
import type { EventRecord } from '../store/store.ts';
import { filterFromQuery, matchesFilter } from './filter.ts';

function event(
  overrides: Partial<EventRecord> = {},
  object?: Record<string, unknown>,
): EventRecord {
  return {
    seq: 1,
    at: 1,
    kind: 'created',
    collectionId: 'c1',
    communityId: 'm1',
    objectId: 'indicator--00000000-0000-4000-8000-000000000001',
    objectType: 'indicator',
    specVersion: '2.1',
    version: '2024-01-01T00:00:00.000Z',
    versionKey: 'k',
    dateAdded: 1,
    json: JSON.stringify({ type: 'indicator', ...object }),
    sharing: { tlp: ['green'], audience: 'members', recipients: [], granularMarkings: false },
    ...overrides,
  };
}

function query(text: string) {
  return filterFromQuery(new URLSearchParams(text));
}

test('query parameters parsed', () => {
  assert.deepEqual(
    query(
      'collections=a,b&collections=b&community=m&types=indicator,malware&labels=x&tlp=TLP:Amber,green&min_confidence=70',
    ),
    {
      collections: ['a', 'b'],
      communityId: 'm',
      types: ['indicator', 'malware'],
      labels: ['x'],
      tlp: ['amber', 'green'],
      minConfidence: 70,
    },
  );
  assert.deepEqual(query(''), {});
});

test('bad query values rejected', () => {
  const cases: Array<[string, RegExp]> = [
    ['types=Indicator', /not a STIX type/],
    ['tlp=white-ish', /not one of clear, green/],
    ['min_confidence=', /min_confidence is empty/],
    ['min_confidence=0x10', /integer from 0 to 100/],
    ['min_confidence=1e1', /integer from 0 to 100/],
    ['min_confidence=0b1', /integer from 0 to 100/],
    ['min_confidence=%2050', /integer from 0 to 100/],
    ['min_confidence=5&min_confidence=6', /given 2 times/],
    ['types=', /types is empty/],
    ['types=,,,', /types is empty/],
    ['community=', /community is empty/],
    ['min_confidence=7.5', /integer from 0 to 100/],
    ['min_confidence=-1', /integer from 0 to 100/],
    [`labels=${'x'.repeat(251)}`, /longer than 250 characters/],
    [`types=${Array.from({ length: 101 }, (_, i) => `t${i}x`).join(',')}`, /at most 100/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => query(text),
      (error: unknown) =>
        error instanceof CairnError &&
        error.code === 'invalid-parameter' &&
        message.test(error.message),
      text.slice(0, 40),
    );
  }
});

test('filter conditions', () => {
  const labelled = event({}, { labels: ['ransomware', 'x'], confidence: 80 });

  assert.ok(matchesFilter({}, labelled));
  assert.ok(matchesFilter({ collections: ['c1', 'c2'] }, labelled));
  assert.ok(!matchesFilter({ collections: ['c2'] }, labelled));
  assert.ok(!matchesFilter({ communityId: 'm2' }, labelled));
  assert.ok(!matchesFilter({ types: ['malware'] }, labelled));
  assert.ok(matchesFilter({ tlp: ['amber', 'green'] }, labelled));
  assert.ok(!matchesFilter({ tlp: ['amber'] }, labelled));
  assert.ok(matchesFilter({ labels: ['other', 'ransomware'] }, labelled));
  assert.ok(!matchesFilter({ labels: ['other'] }, labelled));
  assert.ok(matchesFilter({ minConfidence: 80 }, labelled));
  assert.ok(!matchesFilter({ minConfidence: 81 }, labelled));
  assert.ok(!matchesFilter({ minConfidence: 0 }, event()), 'no confidence fails a minimum');
  assert.ok(!matchesFilter({ labels: ['x'] }, event({}, { labels: 'x' })), 'labels must be a list');
});

test('deletes pass content conditions', () => {
  const deleted = event({ kind: 'deleted' });
  delete deleted.json;

  assert.ok(matchesFilter({ labels: ['x'], minConfidence: 90 }, deleted));
  assert.ok(!matchesFilter({ types: ['malware'] }, deleted));
  assert.ok(!matchesFilter({ tlp: ['red'] }, deleted));
});
