import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { FeedbackReport } from '../store/store.ts';
import { feedbackScope, sharesFeedback, summariseByObject, summariseFeedback } from './feedback.ts';
import { DEFAULT_POLICY } from './score.ts';

const OBJECT = 'indicator--00000000-0000-4000-8000-000000000001';

function report(organisationId: string, change: Partial<FeedbackReport> = {}): FeedbackReport {
  return {
    objectId: OBJECT,
    scope: 'ring-a',
    organisationId,
    sightings: 0,
    falsePositive: false,
    ...change,
  };
}

describe('summariseFeedback', () => {
  test('no reports count nothing', () => {
    assert.deepEqual(summariseFeedback([]), {
      sightings: 0,
      falsePositives: 0,
      organisations: 0,
      countedSightings: 0,
    });
  });

  test('one organisation counts up to the cap', () => {
    const summary = summariseFeedback([report('acme', { sightings: 1_000_000 })]);
    assert.equal(summary.sightings, 1_000_000);
    assert.equal(summary.countedSightings, DEFAULT_POLICY.sightingsPerOrganisation);
    assert.equal(summary.organisations, 1);
  });

  test('an organisation in two scopes counts once', () => {
    const summary = summariseFeedback([
      report('acme', { sightings: 2, falsePositive: true, lastSightingAt: 5 }),
      report('acme', { scope: 'ring-b', sightings: 7, falsePositive: true, lastSightingAt: 9 }),
    ]);
    assert.equal(summary.sightings, 7);
    assert.equal(summary.countedSightings, 3);
    assert.equal(summary.falsePositives, 1);
    assert.equal(summary.organisations, 1);
    assert.equal(summary.lastSightingAt, 9);
  });

  test('several organisations add up', () => {
    const summary = summariseFeedback([
      report('acme', { sightings: 1 }),
      report('beta', { sightings: 10, falsePositive: true }),
      report('gamma', { falsePositive: true }),
    ]);
    assert.equal(summary.sightings, 11);
    assert.equal(summary.countedSightings, 1 + 3);
    assert.equal(summary.falsePositives, 2);
    assert.equal(summary.organisations, 3);
    assert.equal(summary.lastSightingAt, undefined);
  });

  test('huge sightings stay safe integers', () => {
    const summary = summariseFeedback([
      report('acme', { sightings: Number.MAX_SAFE_INTEGER }),
      report('beta', { sightings: Number.MAX_SAFE_INTEGER }),
    ]);
    assert.equal(summary.sightings, Number.MAX_SAFE_INTEGER);
    assert.equal(summary.countedSightings, 6);
  });

  test('groups by object', () => {
    const other = 'indicator--00000000-0000-4000-8000-000000000002';
    const byObject = summariseByObject([
      report('acme', { sightings: 1 }),
      report('acme', { objectId: other, falsePositive: true }),
    ]);
    assert.equal(byObject.get(OBJECT)?.sightings, 1);
    assert.equal(byObject.get(other)?.falsePositives, 1);
    assert.equal(byObject.size, 2);
  });
});

describe('feedback scope', () => {
  test('is the community, else the collection', () => {
    assert.equal(feedbackScope({ id: 'c1', communityId: 'ring-a' }), 'ring-a');
    assert.equal(feedbackScope({ id: 'c1' }), 'collection:c1');
  });

  test('is shared by members and operators only', () => {
    assert.equal(sharesFeedback(undefined), true);
    assert.equal(sharesFeedback({ widest: 'members', userId: 'u' }), true);
    assert.equal(sharesFeedback({ widest: 'members-and-clients', userId: 'u' }), false);
    assert.equal(sharesFeedback({ widest: 'everyone', userId: 'u' }), false);
    assert.equal(sharesFeedback({ widest: 'none', userId: 'u' }), false);
  });
});
