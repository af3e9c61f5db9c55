/**
 * Indicator scores: a number from 0 to 100 computed at read time from stored facts, so it
 * needs no rewrite as time passes. The facts are the reliability of the sources that supplied
 * the indicator, its STIX `confidence`, the sightings and false-positive reports that the
 * reader may count (see feedback.ts), and its age. The score decays to 0 at `valid_until`, or at the end of a default
 * lifetime per observable type when the indicator sets no `valid_until`.
 */
import type { ObservableType } from '../correlation/observables.ts';

const DAY = 86_400_000_000;

export interface ScoringPolicy {
  /** Reliability of a source without a setting, 0 to 1. */
  defaultReliability: number;
  /** STIX confidence assumed when an indicator has none, 0 to 100. */
  defaultConfidence: number;
  /** Lifetime of an indicator without valid_until, in microseconds, per observable type. */
  lifetimes: Record<ObservableType | 'other', number>;
  /**
   * Shape of the decay: 1 is linear, above 1 keeps the score high longer and drops it near
   * the end, below 1 drops it early.
   */
  decayShape: number;
  /** Share of the distance to 100 that each counted sighting closes, 0 to 1. */
  sightingWeight: number;
  /** Most sightings of one organisation that count, per object. */
  sightingsPerOrganisation: number;
  /** Factor applied per organisation that reported a false positive, 0 to 1. */
  falsePositiveFactor: number;
}

export const DEFAULT_POLICY: ScoringPolicy = {
  defaultReliability: 0.5,
  defaultConfidence: 50,
  lifetimes: {
    ipv4: 30 * DAY,
    ipv6: 30 * DAY,
    url: 60 * DAY,
    domain: 90 * DAY,
    email: 90 * DAY,
    md5: 365 * DAY,
    sha1: 365 * DAY,
    sha256: 365 * DAY,
    sha512: 365 * DAY,
    asn: 180 * DAY,
    other: 180 * DAY,
  },
  decayShape: 2,
  sightingWeight: 0.2,
  sightingsPerOrganisation: 3,
  falsePositiveFactor: 0.5,
};

/**
 * Reliability of a source from the Admiralty scale (NATO AJP-2.1): A completely reliable
 * to E unreliable; F means the reliability cannot be judged, which gets the default.
 */
export const ADMIRALTY_RELIABILITY: Record<string, number | undefined> = {
  A: 1,
  B: 0.8,
  C: 0.6,
  D: 0.4,
  E: 0.2,
  F: undefined,
};

export interface IndicatorFacts {
  /** Reliability of the most reliable source that supplied it, 0 to 1; absent when unknown. */
  reliability?: number;
  /** STIX `confidence`, 0 to 100. */
  confidence?: number;
  /** When it became valid (`valid_from`, else `created`), in microseconds. */
  validFrom: number;
  /** `valid_until` in microseconds. */
  validUntil?: number;
  /** The observable type of its values, for the default lifetime. */
  observableType?: ObservableType;
  revoked: boolean;
  /** Sightings that count, already capped per organisation (FeedbackSummary.countedSightings). */
  sightings: number;
  /** Organisations that reported a false positive. */
  falsePositives: number;
  /** The last sighting, which restarts the decay of an indicator without valid_until. */
  lastSightingAt?: number;
}

export type IndicatorState = 'active' | 'not-yet-valid' | 'expired' | 'revoked';

export interface IndicatorScore {
  /** 0 to 100, rounded to one decimal. */
  score: number;
  state: IndicatorState;
  /** The score before decay: reliability, confidence, sightings and false positives. */
  base: number;
  /** When the score reaches 0, in microseconds. */
  expiresAt: number;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Computes the score of an indicator at `now` (microseconds). */
export function scoreIndicator(
  facts: IndicatorFacts,
  now: number,
  policy: ScoringPolicy = DEFAULT_POLICY,
): IndicatorScore {
  const reliability = clamp(facts.reliability ?? policy.defaultReliability, 0, 1);
  const confidence = clamp(facts.confidence ?? policy.defaultConfidence, 0, 100) / 100;
  let base = 100 * (0.5 * reliability + 0.5 * confidence);
  // Each counted sighting closes part of the distance to 100, and each organisation's
  // false-positive report multiplies what is left by falsePositiveFactor.
  base += (100 - base) * (1 - (1 - policy.sightingWeight) ** Math.max(0, facts.sightings));
  base *= policy.falsePositiveFactor ** Math.max(0, facts.falsePositives);

  const start =
    facts.validUntil === undefined
      ? Math.max(facts.validFrom, facts.lastSightingAt ?? facts.validFrom)
      : facts.validFrom;
  const lifetime = policy.lifetimes[facts.observableType ?? 'other'];
  const expiresAt = facts.validUntil ?? start + lifetime;
  const rounded = Math.round(base * 10) / 10;

  if (facts.revoked) return { score: 0, state: 'revoked', base: rounded, expiresAt };
  if (now >= expiresAt) return { score: 0, state: 'expired', base: rounded, expiresAt };
  if (now < facts.validFrom) return { score: 0, state: 'not-yet-valid', base: rounded, expiresAt };

  const span = Math.max(1, expiresAt - start);
  const elapsed = clamp((now - start) / span, 0, 1);
  const remaining = 1 - elapsed ** policy.decayShape;
  return {
    score: Math.round(base * remaining * 10) / 10,
    state: 'active',
    base: rounded,
    expiresAt,
  };
}
