/**
 * Checks of webhook filters sent as JSON. This module reads the JSON form only. The values
 * are checked by checkFilterValues in events/filter.ts, as stream query parameters are, and
 * events are matched by the streams' matchesFilter.
 */
import { CairnError } from '../errors.ts';
import {
  checkFilterValues,
  MAX_FILTER_VALUES,
  type FilterFieldNames,
  type FilterValues,
} from '../events/filter.ts';
import type { WebhookFilter } from './records.ts';

/** The JSON name of each filter field, as messages give it. */
const JSON_NAMES: FilterFieldNames = {
  collections: 'filter.collections',
  communityId: 'filter.communityId',
  types: 'filter.types',
  labels: 'filter.labels',
  tlp: 'filter.tlp',
  minConfidence: 'filter.minConfidence',
};

const KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.keys(JSON_NAMES));

/** Checks that a list field is an array of non-empty strings; the shared checks do the rest. */
function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    !value.every((entry) => typeof entry === 'string' && entry.length > 0)
  ) {
    throw new CairnError(
      'invalid-parameter',
      `${field} ${JSON.stringify(value).slice(0, 120)} is not valid: send a list of 1 to ` +
        `${MAX_FILTER_VALUES} non-empty strings, or leave the field out`,
    );
  }
  return value as string[];
}

/** Checks a filter from a request and returns it without unknown or empty fields. */
export function checkFilter(input: unknown): WebhookFilter {
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CairnError('invalid-parameter', 'filter must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0) {
    throw new CairnError(
      'invalid-parameter',
      `unknown filter field ${JSON.stringify(unknown[0])}: use ${[...KNOWN_FIELDS].join(', ')}`,
    );
  }
  const values: FilterValues = {};
  for (const field of ['collections', 'types', 'labels', 'tlp'] as const) {
    const list = stringList(raw[field], JSON_NAMES[field]);
    if (list !== undefined) values[field] = list;
  }
  if (raw.communityId !== undefined) {
    if (typeof raw.communityId !== 'string' || raw.communityId.length === 0) {
      throw new CairnError('invalid-parameter', 'filter.communityId must be a community id');
    }
    values.communityId = raw.communityId;
  }
  if (raw.minConfidence !== undefined) values.minConfidence = raw.minConfidence;
  return checkFilterValues(values, JSON_NAMES);
}
