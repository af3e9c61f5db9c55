/**
 * The priority of an alert, 0 to 100, from what matched and what is known of the object.
 * The weights are a starting point, chosen so that each factor can move an alert by about
 * one severity band; docs/watch.md lists them.
 */
import type { TlpLevel } from '../store/store.ts';
import type { Alert, MatchDetail } from './model.ts';

export interface PriorityFacts {
  match: MatchDetail;
  /** The object's `confidence`, 0 to 100, when it has one. */
  confidence?: number;
  tlp: readonly TlpLevel[];
  /** Collections holding the object that the list's owner may see; at least 1. */
  sources: number;
  /** The object's `modified` (else `created`) in microseconds, when it parses. */
  modifiedAt?: number;
  revoked: boolean;
  /** Whether the object is an indicator whose `valid_until` has passed. */
  expired?: boolean;
  /** Microseconds since the epoch. */
  now: number;
}

/** Points for the kind of match: a watched value found as such counts most. */
const KIND_POINTS: Readonly<Record<MatchDetail['kind'], number>> = {
  value: 40,
  pattern: 40,
  indicator: 35,
  filter: 20,
};

/** TLP points: more restricted intelligence is more often about a targeted threat. */
const TLP_POINTS: Readonly<Record<TlpLevel, number>> = {
  red: 10,
  'amber+strict': 7,
  amber: 7,
  green: 4,
  clear: 2,
};

const DAY = 24 * 3600 * 1e6;

/** Computes the priority: higher means more urgent. */
export function alertPriority(facts: PriorityFacts): number {
  let points = KIND_POINTS[facts.match.kind];
  if (facts.match.how !== undefined) points += facts.match.how === 'exact' ? 5 : -5;

  points += facts.confidence === undefined ? 5 : Math.max(0, Math.min(100, facts.confidence)) * 0.2;
  points += Math.max(0, ...facts.tlp.map((level) => TLP_POINTS[level]));
  points += Math.min(15, 5 * (Math.max(1, facts.sources) - 1));

  if (facts.modifiedAt !== undefined) {
    const age = facts.now - facts.modifiedAt;
    if (age <= DAY) points += 10;
    else if (age <= 7 * DAY) points += 6;
    else if (age <= 30 * DAY) points += 3;
  }
  if (facts.revoked || facts.expired === true) points -= 30;
  return Math.round(Math.max(0, Math.min(100, points)));
}

export function severityOf(priority: number): Alert['severity'] {
  if (priority >= 75) return 'critical';
  if (priority >= 55) return 'high';
  if (priority >= 35) return 'medium';
  return 'low';
}
