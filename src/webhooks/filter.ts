/**
 * Checks of webhook filters sent as JSON. Matching is the event streams' (events/filter.ts);
 * this module only reads the JSON form, where streams read query parameters.
 */
import { CairnError } from '../errors.ts';
import { MAX_FILTER_VALUES, TLP_LEVELS } from '../events/filter.ts';
import type { TlpLevel } from '../store/store.ts';
import type { WebhookFilter } from './records.ts';

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > MAX_FILTER_VALUES ||
    !value.every((entry) => typeof entry === 'string' && entry.length > 0 && entry.length <= 250)
  ) {
    throw new CairnError(
      'invalid-parameter',
      `filter.${field} ${JSON.stringify(value).slice(0, 120)} is not valid: send a list of 1 to ` +
        `${MAX_FILTER_VALUES} non-empty strings, or leave the field out`,
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
