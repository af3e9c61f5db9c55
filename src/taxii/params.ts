/**
 * Query parameters of the TAXII 2.1 object endpoints (TAXII 2.1 section 3.4). A malformed
 * value is a 400 that names the parameter and the value, never a 500.
 */
import { CairnError } from '../errors.ts';
import { timestampKey, timestampToMicros } from '../stix/timestamp.ts';
import type { VersionSelector } from '../store/store.ts';

export interface ObjectFilters {
  ids?: string[];
  types?: string[];
  versions?: VersionSelector;
  specVersions?: string[];
  addedAfter?: number;
  /** The page size after the server's own cap. */
  limit: number;
  next?: string;
  /** Every parameter except `next` and `limit`, sorted, for binding `next` tokens. */
  canonicalQuery: string;
}

/** A STIX identifier, `type--UUID` (STIX 2.1 section 2.9); shared by the path and `match[id]`. */
export const ID_PATTERN =
  /^[a-z0-9][a-z0-9-]*--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TYPE_PATTERN = /^[a-z0-9][a-z0-9-]{0,249}$/;
const SPEC_VERSION_PATTERN = /^[0-9]+\.[0-9]+$/;
/** Maximum length of a parameter value; longer ones are rejected rather than split. */
const MAX_VALUE_LENGTH = 64 * 1024;

function invalid(name: string, value: string, rule: string): CairnError {
  const shown = value.length > 200 ? `${value.slice(0, 200)}…` : value;
  return new CairnError('invalid-parameter', `${name}=${JSON.stringify(shown)}: ${rule}`, {
    parameter: name,
  });
}

/** Returns the single value of a parameter; a repeated parameter is an error (section 3.4.1). */
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) {
    throw new CairnError(
      'invalid-parameter',
      `${name} appears ${values.length} times: give it once, with comma-separated values`,
      { parameter: name },
    );
  }
  const value = values[0];
  if (value !== undefined && value.length > MAX_VALUE_LENGTH) {
    throw invalid(name, value, `longer than ${MAX_VALUE_LENGTH} characters`);
  }
  return value;
}

function list(
  params: URLSearchParams,
  name: string,
  pattern: RegExp,
  rule: string,
): string[] | undefined {
  const raw = single(params, name);
  if (raw === undefined) return undefined;
  const values = raw.split(',');
  for (const value of values) {
    if (!pattern.test(value)) throw invalid(name, raw, `${JSON.stringify(value)} ${rule}`);
  }
  return [...new Set(values)];
}

/** Parses `match[version]`: `all`, or any mix of `first`, `last` and STIX timestamps. */
export function parseVersionSelector(raw: string): VersionSelector {
  const name = 'match[version]';
  const values = raw.split(',');
  if (new Set(values).size !== values.length) throw invalid(name, raw, 'a value is repeated');
  if (values.includes('all')) {
    if (values.length > 1) throw invalid(name, raw, '"all" cannot be combined with other values');
    return { all: true };
  }
  const selector = { first: false, last: false, exact: [] as string[] };
  for (const value of values) {
    if (value === 'first') selector.first = true;
    else if (value === 'last') selector.last = true;
    else {
      const key = timestampKey(value);
      if (key === undefined) {
        throw invalid(
          name,
          raw,
          `${JSON.stringify(value)} is not "all", "first", "last" or a timestamp such as 2021-01-01T00:00:00.000Z`,
        );
      }
      selector.exact.push(key);
    }
  }
  return selector;
}

function parseLimit(raw: string | undefined, pageSize: number): number {
  if (raw === undefined) return pageSize;
  // Any count of digits is a valid limit; the server's page size caps it (section 3.4).
  if (!/^[0-9]+$/.test(raw) || /^0+$/.test(raw)) {
    throw invalid('limit', raw, 'must be a whole number greater than 0');
  }
  return raw.length > 15 ? pageSize : Math.min(Number(raw), pageSize);
}

function parseAddedAfter(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const micros = timestampToMicros(raw);
  if (micros === undefined) {
    throw invalid(
      'added_after',
      raw,
      'must be a UTC timestamp such as 2021-01-01T00:00:00.000000Z',
    );
  }
  return micros;
}

export interface FilterSupport {
  ids?: boolean;
  types?: boolean;
  versions?: boolean;
}

/** Parses the filters an endpoint supports; the others are ignored (section 3.4.1). */
export function parseObjectFilters(
  params: URLSearchParams,
  pageSize: number,
  support: FilterSupport,
): ObjectFilters {
  const filters: ObjectFilters = {
    limit: parseLimit(single(params, 'limit'), pageSize),
    canonicalQuery: canonicalQuery(params),
  };
  const addedAfter = parseAddedAfter(single(params, 'added_after'));
  if (addedAfter !== undefined) filters.addedAfter = addedAfter;
  const next = single(params, 'next');
  if (next !== undefined) filters.next = next;

  if (support.ids) {
    const ids = list(
      params,
      'match[id]',
      ID_PATTERN,
      'is not a STIX identifier such as indicator--<UUID>',
    );
    if (ids) filters.ids = ids;
  }
  if (support.types) {
    const types = list(params, 'match[type]', TYPE_PATTERN, 'is not a STIX type name');
    if (types) filters.types = types;
  }
  if (support.versions) {
    const raw = single(params, 'match[version]');
    if (raw !== undefined) filters.versions = parseVersionSelector(raw);
  }
  const specVersions = list(
    params,
    'match[spec_version]',
    SPEC_VERSION_PATTERN,
    'is not a spec version such as 2.1',
  );
  if (specVersions) filters.specVersions = specVersions;
  return filters;
}

function canonicalQuery(params: URLSearchParams): string {
  const entries = [...params.entries()].filter(([name]) => name !== 'next' && name !== 'limit');
  entries.sort(([a], [b]) => compareCodePoints(a, b));
  return new URLSearchParams(entries).toString();
}

/** Orders two strings by UTF-16 code units, the same way on every node and locale. */
function compareCodePoints(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
