import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertPriority, severityOf, type PriorityFacts } from './priority.ts';

const NOW = Date.UTC(2026, 0, 31) * 1000;
const DAY = 24 * 3600 * 1e6;

const base: PriorityFacts = {
  match: { kind: 'value', how: 'exact', watched: 'evil.example' },
  tlp: ['green'],
  sources: 1,
  revoked: false,
  now: NOW,
};

describe('alertPriority', () => {
  it('ranks exact values above filters', () => {
    const filter = alertPriority({ ...base, match: { kind: 'filter', watched: 'x' } });
    assert.ok(alertPriority(base) > filter);
  });

  it('ranks exact above subdomain matches', () => {
    const subdomain = alertPriority({ ...base, match: { ...base.match, how: 'subdomain' } });
    assert.ok(alertPriority(base) > subdomain);
  });

  it('rises with confidence, sources and recency', () => {
    assert.ok(
      alertPriority({ ...base, confidence: 90 }) > alertPriority({ ...base, confidence: 10 }),
    );
    assert.ok(alertPriority({ ...base, sources: 3 }) > alertPriority(base));
    assert.ok(
      alertPriority({ ...base, modifiedAt: NOW - DAY / 2 }) >
        alertPriority({ ...base, modifiedAt: NOW - 60 * DAY }),
    );
  });

  it('rises with restricted TLP', () => {
    assert.ok(
      alertPriority({ ...base, tlp: ['red'] }) > alertPriority({ ...base, tlp: ['clear'] }),
    );
  });

  it('drops for revoked objects', () => {
    assert.ok(alertPriority({ ...base, revoked: true }) < alertPriority(base) - 20);
  });

  it('stays within 0 and 100', () => {
    const top = alertPriority({
      ...base,
      confidence: 1000,
      tlp: ['red'],
      sources: 50,
      modifiedAt: NOW,
    });
    assert.ok(top <= 100);
    const bottom = alertPriority({
      ...base,
      match: { kind: 'filter', watched: 'x' },
      confidence: -5,
      tlp: [],
      revoked: true,
    });
    assert.ok(bottom >= 0);
  });
});

describe('severityOf', () => {
  it('maps priority bands', () => {
    assert.equal(severityOf(90), 'critical');
    assert.equal(severityOf(60), 'high');
    assert.equal(severityOf(40), 'medium');
    assert.equal(severityOf(10), 'low');
  });
});
