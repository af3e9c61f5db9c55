import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_POLICY, scoreIndicator, type IndicatorFacts } from './score.ts';

const DAY = 86_400_000_000;
const T0 = 1_700_000_000_000_000;

function facts(extra: Partial<IndicatorFacts> = {}): IndicatorFacts {
  return { validFrom: T0, revoked: false, sightings: 0, falsePositives: 0, ...extra };
}

describe('scoreIndicator', () => {
  test('fresh indicator scores its base', () => {
    const result = scoreIndicator(facts({ reliability: 1, confidence: 80 }), T0);
    assert.equal(result.state, 'active');
    assert.equal(result.base, 90);
    assert.equal(result.score, 90);
  });

  test('unknown reliability and confidence use the defaults', () => {
    const result = scoreIndicator(facts(), T0);
    assert.equal(result.base, 50);
  });

  test('decays to zero at valid_until', () => {
    const validUntil = T0 + 10 * DAY;
    const early = scoreIndicator(facts({ confidence: 100, reliability: 1, validUntil }), T0 + DAY);
    const late = scoreIndicator(
      facts({ confidence: 100, reliability: 1, validUntil }),
      T0 + 9 * DAY,
    );
    assert.ok(early.score > late.score, `${early.score} > ${late.score}`);
    assert.ok(late.score > 0);
    const expired = scoreIndicator(facts({ validUntil }), validUntil);
    assert.equal(expired.state, 'expired');
    assert.equal(expired.score, 0);
  });

  test('without valid_until the type lifetime applies', () => {
    const ip = facts({ observableType: 'ipv4' });
    assert.equal(scoreIndicator(ip, T0 + 29 * DAY).state, 'active');
    assert.equal(scoreIndicator(ip, T0 + 31 * DAY).state, 'expired');
    const hash = facts({ observableType: 'sha256' });
    assert.equal(scoreIndicator(hash, T0 + 31 * DAY).state, 'active');
  });

  test('a sighting restarts the decay without valid_until', () => {
    const seen = facts({ observableType: 'ipv4', sightings: 1, lastSightingAt: T0 + 25 * DAY });
    const result = scoreIndicator(seen, T0 + 31 * DAY);
    assert.equal(result.state, 'active');
  });

  test('sightings raise and false positives lower the score', () => {
    const plain = scoreIndicator(facts(), T0).score;
    const sighted = scoreIndicator(facts({ sightings: 3 }), T0).score;
    const reported = scoreIndicator(facts({ falsePositives: 1 }), T0).score;
    assert.ok(sighted > plain);
    assert.ok(sighted <= 100);
    assert.equal(reported, plain * DEFAULT_POLICY.falsePositiveFactor);
  });

  test('revoked and not-yet-valid score zero', () => {
    assert.deepEqual(
      [scoreIndicator(facts({ revoked: true }), T0).state, scoreIndicator(facts(), T0 - 1).state],
      ['revoked', 'not-yet-valid'],
    );
    assert.equal(scoreIndicator(facts({ revoked: true }), T0).score, 0);
  });

  test('out-of-range inputs are clamped', () => {
    const result = scoreIndicator(facts({ reliability: 7, confidence: 500 }), T0);
    assert.equal(result.score, 100);
  });
});
