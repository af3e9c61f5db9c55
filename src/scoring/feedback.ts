/**
 * Member feedback on objects: sightings and false-positive reports, and which of them a
 * reader may count.
 *
 * Each report is stored with the organisation that gave it and a scope. The scope is the
 * community of a collection through which that organisation read the object as a member,
 * or `collection:<id>` for a collection that no community owns (only platform admins use
 * those). A reader counts a report only when the reader reads the object, as a member, through
 * a collection of the same scope. Clients and public readers of a community count no
 * feedback, so nothing members did leaves the community.
 *
 * Within the reports a reader counts, each organisation weighs at most once: its sightings
 * count up to `sightingsPerOrganisation` (see ScoringPolicy) and its false-positive reports
 * count as one, however many scopes or requests they came through.
 */
import type { AccessFilter, CollectionRecord, FeedbackReport } from '../store/store.ts';
import { DEFAULT_POLICY, type ScoringPolicy } from './score.ts';

/** Returns the feedback scope of a collection. */
export function feedbackScope(collection: Pick<CollectionRecord, 'id' | 'communityId'>): string {
  return collection.communityId ?? `collection:${collection.id}`;
}

/**
 * Returns whether a reader with this view of a collection gives and counts the feedback of
 * its scope. Members and platform admins (`widest` is `members`) do, and so does an
 * operator export, which has no view.
 */
export function sharesFeedback(access: AccessFilter | undefined): boolean {
  return access === undefined || access.widest === 'members';
}

/** The feedback on one object that a reader is shown. */
export interface FeedbackSummary {
  /** Sightings reported, taking each organisation's largest report among the scopes. */
  sightings: number;
  /** Organisations that reported the object as a false positive. */
  falsePositives: number;
  /** Organisations that gave any feedback. */
  organisations: number;
  /** Sightings the score counts: each organisation's, capped per organisation. */
  countedSightings: number;
  /** The last reported sighting (microseconds). */
  lastSightingAt?: number;
}

export const NO_FEEDBACK: FeedbackSummary = {
  sightings: 0,
  falsePositives: 0,
  organisations: 0,
  countedSightings: 0,
};

/** Sums the reports on one object, counting each organisation once. */
export function summariseFeedback(
  reports: readonly FeedbackReport[],
  policy: ScoringPolicy = DEFAULT_POLICY,
): FeedbackSummary {
  const byOrganisation = new Map<string, { sightings: number; falsePositive: boolean }>();
  let lastSightingAt: number | undefined;
  for (const report of reports) {
    const entry = byOrganisation.get(report.organisationId) ?? {
      sightings: 0,
      falsePositive: false,
    };
    // An organisation that reads the object in several scopes records the same sighting
    // in each, so the largest report stands for all of them.
    entry.sightings = Math.max(entry.sightings, report.sightings);
    entry.falsePositive ||= report.falsePositive;
    byOrganisation.set(report.organisationId, entry);
    if (report.lastSightingAt !== undefined) {
      lastSightingAt = Math.max(lastSightingAt ?? 0, report.lastSightingAt);
    }
  }
  const summary: FeedbackSummary = { ...NO_FEEDBACK, organisations: byOrganisation.size };
  for (const entry of byOrganisation.values()) {
    summary.sightings = Math.min(Number.MAX_SAFE_INTEGER, summary.sightings + entry.sightings);
    summary.countedSightings += Math.min(entry.sightings, policy.sightingsPerOrganisation);
    if (entry.falsePositive) summary.falsePositives++;
  }
  if (lastSightingAt !== undefined) summary.lastSightingAt = lastSightingAt;
  return summary;
}

/** Groups reports by object id and sums each group. */
export function summariseByObject(
  reports: readonly FeedbackReport[],
  policy: ScoringPolicy = DEFAULT_POLICY,
): Map<string, FeedbackSummary> {
  const grouped = new Map<string, FeedbackReport[]>();
  for (const report of reports) {
    const group = grouped.get(report.objectId) ?? [];
    group.push(report);
    grouped.set(report.objectId, group);
  }
  return new Map(
    [...grouped].map(([objectId, group]) => [objectId, summariseFeedback(group, policy)]),
  );
}
