/**
 * The indicators an export writes: the latest version of each STIX-pattern indicator in the
 * chosen collections that the reader may see, active (valid now, not expired, not revoked),
 * with a pattern that matches exactly its values, none of them on a warning list, and a
 * score at or above the minimum. Indicators are read a page at a time, in date_added order,
 * so memory stays at about one page whatever the collection size.
 */
import {
  patternObservables,
  warninglistKind,
  type Observable,
  type ObservableType,
} from '../correlation/observables.ts';
import type { WarninglistLookup } from '../ingest/formats/index.ts';
import { redactGranular } from '../sharing/granular.ts';
import {
  feedbackScope,
  NO_FEEDBACK,
  sharesFeedback,
  summariseByObject,
} from '../scoring/feedback.ts';
import { scoreIndicator, type IndicatorScore } from '../scoring/score.ts';
import { timestampToMicros } from '../stix/timestamp.ts';
import { LATEST_VERSION, type AccessFilter, type Store } from '../store/store.ts';
import { loadReliability, type ReliabilityTable } from '../scoring/reliability.ts';

export interface CollectionSource {
  collectionId: string;
  /** The reader's view; absent for an operator export, which sees every version. */
  access?: AccessFilter;
}

export interface Selection {
  collections: CollectionSource[];
  /** Only values of these types; every type when absent. */
  types?: readonly ObservableType[];
  /** Lowest score written, 0 to 100. */
  minScore: number;
  /** The time scores are computed at (microseconds). */
  now: number;
  /** Indicators read per store query. */
  pageSize?: number;
  /** Indicators with a value on one of these lists are left out. */
  warninglists?: WarninglistLookup;
  /**
   * Whether the format writes an address with its destination port (rules, MISP, STIX). A
   * blocklist or CSV row of the address alone would match more than the indicator, so
   * without it such indicators count as not exact.
   */
  ports?: boolean;
}

export interface SelectedIndicator {
  /** The indicator as the reader may see it. */
  object: Record<string, unknown>;
  /** The JSON text of `object`. */
  json: string;
  id: string;
  /** `modified` (else `created`) in microseconds. */
  modifiedAt: number;
  /** Its values of the selected types. */
  observables: Observable[];
  score: IndicatorScore;
  collectionId: string;
}

/** Counts of what a selection left out, for the summary of an export. */
export interface SelectionCounts {
  read: number;
  written: number;
  inactive: number;
  lowScore: number;
  inexact: number;
  warningListed: number;
}

export const DEFAULT_PAGE_SIZE = 1000;

/** Whether a value of the type leaves an export; hashes other than these are never written. */
function typeSelected(type: ObservableType, types: readonly ObservableType[] | undefined) {
  return types === undefined || types.includes(type);
}

function isWarningListed(
  object: Record<string, unknown>,
  observables: Observable[],
  lookup?: WarninglistLookup,
) {
  const labels = Array.isArray(object.labels) ? object.labels : [];
  if (labels.some((label) => typeof label === 'string' && label.startsWith('warninglist:'))) {
    return true;
  }
  if (lookup === undefined) return false;
  return observables.some(
    (observable) => lookup.match(warninglistKind(observable), observable.value).length > 0,
  );
}

function micros(value: unknown): number | undefined {
  return typeof value === 'string' ? timestampToMicros(value) : undefined;
}

/**
 * Yields the selected indicators page by page. `counts` is filled as it goes. An indicator
 * in several of the collections is written once per collection.
 */
export async function* selectIndicators(
  store: Store,
  selection: Selection,
  counts: SelectionCounts = emptyCounts(),
): AsyncGenerator<SelectedIndicator[]> {
  const reliability = await loadReliability(store);
  for (const source of selection.collections) {
    const scopes = await exportScopes(store, source);
    let addedAfter: number | undefined;
    for (;;) {
      const page = await store.queryObjects({
        collectionId: source.collectionId,
        types: ['indicator'],
        versions: LATEST_VERSION,
        limit: selection.pageSize ?? DEFAULT_PAGE_SIZE,
        ...(addedAfter !== undefined ? { addedAfter } : {}),
        ...(source.access ? { access: source.access } : {}),
      });
      counts.read += page.items.length;
      const candidates = page.items.map((item) => {
        const json =
          item.granularMarkings && source.access
            ? redactGranular(item.json, {
                widest: source.access.widest,
                contributed: item.contributed,
                recipient: item.recipient,
              })
            : item.json;
        return { json, object: JSON.parse(json) as Record<string, unknown> };
      });
      const selected = await scorePage(store, selection, source, candidates, reliability, {
        scopes,
        counts,
      });
      if (selected.length > 0) yield selected;

      const last = page.items[page.items.length - 1];
      if (!page.more || last === undefined) break;
      addedAfter = last.dateAdded;
    }
  }
}

/**
 * Returns the feedback scope an export of one collection counts: the collection's own when
 * the reader reads it as a member (or it is an operator export), else none.
 */
async function exportScopes(store: Store, source: CollectionSource): Promise<string[]> {
  if (!sharesFeedback(source.access)) return [];
  const collection = await store.getCollectionById(source.collectionId);
  return collection ? [feedbackScope(collection)] : [];
}

export function emptyCounts(): SelectionCounts {
  return { read: 0, written: 0, inactive: 0, lowScore: 0, inexact: 0, warningListed: 0 };
}

async function scorePage(
  store: Store,
  selection: Selection,
  source: CollectionSource,
  candidates: Array<{ json: string; object: Record<string, unknown> }>,
  reliability: ReliabilityTable,
  { scopes, counts }: { scopes: readonly string[]; counts: SelectionCounts },
): Promise<SelectedIndicator[]> {
  const ids = candidates.map(({ object }) => String(object.id));
  const [feedback, refs] = await Promise.all([
    scopes.length > 0 ? store.getFeedback(ids, scopes) : [],
    store.objectRefs(ids),
  ]);
  const feedbackById = summariseByObject(feedback);
  const sourcesById = new Map<string, Set<string>>();
  for (const ref of refs) {
    const sources = sourcesById.get(ref.objectId) ?? new Set<string>();
    sources.add(ref.source);
    sourcesById.set(ref.objectId, sources);
  }

  const selected: SelectedIndicator[] = [];
  for (const { json, object } of candidates) {
    const id = String(object.id);
    if (object.pattern_type !== 'stix' || typeof object.pattern !== 'string') {
      counts.inexact++;
      continue;
    }
    const { observables, exact } = patternObservables(object.pattern);
    const portsWritten = selection.ports === true;
    if (!exact || (!portsWritten && observables.some(({ port }) => port !== undefined))) {
      counts.inexact++;
      continue;
    }
    const chosen = observables.filter((observable) =>
      typeSelected(observable.type, selection.types),
    );
    if (chosen.length === 0) continue;

    const validFrom = micros(object.valid_from) ?? micros(object.created) ?? 0;
    const validUntil = micros(object.valid_until);
    const entry = feedbackById.get(id) ?? NO_FEEDBACK;
    const score = scoreIndicator(
      {
        validFrom,
        ...(validUntil !== undefined ? { validUntil } : {}),
        ...(typeof object.confidence === 'number' ? { confidence: object.confidence } : {}),
        ...reliability.of(sourcesById.get(id)),
        observableType: chosen[0]!.type,
        revoked: object.revoked === true,
        sightings: entry.countedSightings,
        falsePositives: entry.falsePositives,
        ...(entry.lastSightingAt !== undefined ? { lastSightingAt: entry.lastSightingAt } : {}),
      },
      selection.now,
    );
    if (score.state !== 'active') {
      counts.inactive++;
      continue;
    }
    if (score.score < selection.minScore) {
      counts.lowScore++;
      continue;
    }
    if (isWarningListed(object, chosen, selection.warninglists)) {
      counts.warningListed++;
      continue;
    }
    counts.written++;
    selected.push({
      object,
      json,
      id,
      modifiedAt: micros(object.modified) ?? validFrom,
      observables: chosen,
      score,
      collectionId: source.collectionId,
    });
  }
  return selected;
}
