/**
 * Checks and matching of webhook filters (see WebhookFilter).
 */
import { CairnError } from '../errors.ts';
import type { EventRecord, TlpLevel } from '../store/store.ts';
import type { WebhookFilter } from './records.ts';

const TLP_LEVELS: readonly TlpLevel[] = ['clear', 'green', 'amber', 'amber+strict', 'red'];
const MAX_FILTER_ENTRIES = 100;

/** The fields of an object that filters read, parsed once per event. */
interface FilteredFields {
  labels: unknown;
  confidence: unknown;
}

function parseFields(json: string | undefined): FilteredFields | undefined {
  if (json === undefined) return undefined;
  const object = JSON.parse(json) as Record<string, unknown>;
  return { labels: object.labels, confidence: object.confidence };
}

/**
 * Whether an event passes the filter. A delete carries no object, so the label and
 * confidence conditions cannot apply to it and it passes them: a receiver that got the
 * object learns that it is gone.
 */
export function matchesFilter(filter: WebhookFilter, event: EventRecord): boolean {
  if (filter.collections && !filter.collections.includes(event.collectionId)) return false;
  if (filter.communityId !== undefined && filter.communityId !== event.communityId) return false;
  if (filter.types && !filter.types.includes(event.objectType)) return false;
  if (filter.tlp && !event.sharing.tlp.some((level) => filter.tlp!.includes(level))) return false;
  if (filter.labels === undefined && filter.minConfidence === undefined) return true;

  const fields = parseFields(event.json);
  if (fields === undefined) return true;
  if (filter.labels) {
    const labels = Array.isArray(fields.labels) ? fields.labels : [];
    if (!labels.some((label) => filter.labels!.includes(label as string))) return false;
  }
  if (filter.minConfidence !== undefined) {
    if (typeof fields.confidence !== 'number' || fields.confidence < filter.minConfidence) {
      return false;
    }
  }
  return true;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > MAX_FILTER_ENTRIES ||
    !value.every((entry) => typeof entry === 'string' && entry.length > 0 && entry.length <= 250)
  ) {
    throw new CairnError(
      'invalid-parameter',
      `filter.${field} ${JSON.stringify(value).slice(0, 120)} is not valid: send a list of 1 to ` +
        `${MAX_FILTER_ENTRIES} non-empty strings, or leave the field out`,
    );
  }
  return [...new Set(value as string[])];
}

/** Checks a filter from a request and returns it without unknown or empty fields. */
export function checkFilter(input: unknown): WebhookFilter {
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CairnError('invalid-parameter', 'filter must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  const known = new Set(['collections', 'communityId', 'types', 'labels', 'tlp', 'minConfidence']);
  const unknown = Object.keys(raw).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw new CairnError(
      'invalid-parameter',
      `unknown filter field ${JSON.stringify(unknown[0])}: use ${[...known].join(', ')}`,
    );
  }
  const filter: WebhookFilter = {};
  const collections = stringList(raw.collections, 'collections');
  if (collections) filter.collections = collections;
  if (raw.communityId !== undefined) {
    if (typeof raw.communityId !== 'string' || raw.communityId.length === 0) {
      throw new CairnError('invalid-parameter', 'filter.communityId must be a community id');
    }
    filter.communityId = raw.communityId;
  }
  const types = stringList(raw.types, 'types');
  if (types) filter.types = types;
  const labels = stringList(raw.labels, 'labels');
  if (labels) filter.labels = labels;
  const tlp = stringList(raw.tlp, 'tlp');
  if (tlp) {
    const wrong = tlp.find((level) => !TLP_LEVELS.includes(level as TlpLevel));
    if (wrong !== undefined) {
      throw new CairnError(
        'invalid-parameter',
        `filter.tlp ${JSON.stringify(wrong)} is not a TLP 2.0 level: use ${TLP_LEVELS.join(', ')}`,
      );
    }
    filter.tlp = tlp as TlpLevel[];
  }
  if (raw.minConfidence !== undefined) {
    const value = raw.minConfidence;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
      throw new CairnError(
        'invalid-parameter',
        `filter.minConfidence ${JSON.stringify(value)} is not valid: send an integer from 0 to 100`,
      );
    }
    filter.minConfidence = value;
  }
  return filter;
}
