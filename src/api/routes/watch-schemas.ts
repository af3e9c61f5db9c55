/**
 * Schemas and JSON views of the watch list API (docs/watch.md). Times are RFC 3339 UTC
 * strings in responses and microseconds inside Cairn.
 */
import { z } from '@hono/zod-openapi';
import { CairnError } from '../../errors.ts';
import { microsToTaxii } from '../../stix/timestamp.ts';
import { MAX_COMMENT, MAX_VALUE_LENGTH } from '../../watch/entries.ts';
import { MAX_PATTERN_LENGTH, type HuntJob, type WatchEntry } from '../../watch/model.ts';
import type { WatchRuntime } from '../../watch/runtime.ts';
import {
  MAX_ENTRIES_PER_CALL,
  MAX_LIST_DESCRIPTION,
  MAX_LIST_NAME,
  type WatchListSummary,
} from '../../watch/service.ts';
import type { ApiContext } from '../context.ts';
import { Id, TimeParam } from '../schemas.ts';

export { TimeParam };

const Timestamp = z.string().openapi({ format: 'date-time' });
const Tlp = z.enum(['clear', 'green', 'amber', 'amber+strict', 'red']);

export const ObjectFilter = z
  .strictObject({
    types: z.array(z.string()).optional(),
    labels: z.array(z.string()).optional(),
    sectors: z.array(z.string()).optional(),
    names: z.array(z.string()).optional().openapi({
      description: 'names or aliases of malware, intrusion sets and campaigns',
    }),
    killChainPhases: z.array(z.string()).optional().openapi({
      description: '`phase` or `kill-chain-name:phase`',
    }),
    cves: z.array(z.string()).optional(),
    tlp: z.array(Tlp).optional(),
    communities: z.array(Id).optional(),
    minConfidence: z.number().int().min(0).max(100).optional(),
  })
  .openapi('WatchFilter', {
    description: 'fields are ANDed, the values of one field ORed; text compares without case',
  });

export const NewEntry = z
  .strictObject({
    type: z
      .enum(['auto', 'ip', 'cidr', 'domain', 'url', 'email', 'hash', 'asn', 'pattern', 'filter'])
      .optional()
      .openapi({ description: 'omitted or `auto`: the form of `value` decides' }),
    value: z.string().max(MAX_VALUE_LENGTH).optional(),
    subdomains: z.boolean().optional().openapi({ description: 'domains: every subdomain too' }),
    algorithm: z.string().max(20).optional().openapi({ description: 'hashes: SHA-256, MD5, …' }),
    pattern: z.string().max(MAX_PATTERN_LENGTH).optional(),
    filter: ObjectFilter.optional(),
    comment: z.string().max(MAX_COMMENT).optional(),
  })
  .openapi('NewWatchEntry', {
    description: 'a value, a STIX pattern (`type: pattern`) or an object filter (`type: filter`)',
  });

/**
 * Builds the schema of a request's entries. Each entry is checked alone by
 * src/watch/entries.ts, and a bad one is listed in `rejected` with its reason while the
 * others are added. So the schema accepts any item, and only the documentation shows
 * NewWatchEntry.
 */
function entryInputs(minimum: number) {
  return z
    .array(z.unknown())
    .min(minimum)
    .max(MAX_ENTRIES_PER_CALL)
    .openapi({ items: { $ref: '#/components/schemas/NewWatchEntry' } });
}

export const NewWatchList = z
  .strictObject({
    name: z.string().min(1).max(MAX_LIST_NAME),
    description: z.string().max(MAX_LIST_DESCRIPTION).optional(),
    owner: z.enum(['user', 'organisation']).optional(),
    visibility: z.enum(['private', 'organisation']).optional(),
    enabled: z.boolean().optional(),
    entries: entryInputs(0).optional(),
  })
  .openapi('NewWatchList');

export const WatchListChange = z
  .strictObject({
    name: z.string().min(1).max(MAX_LIST_NAME).optional(),
    description: z.string().max(MAX_LIST_DESCRIPTION).optional(),
    visibility: z.enum(['private', 'organisation']).optional(),
    enabled: z.boolean().optional(),
  })
  .openapi('WatchListChange');

export const NewEntries = z.strictObject({ entries: entryInputs(1) }).openapi('NewWatchEntries');

export const WatchList = z
  .object({
    id: Id,
    name: z.string(),
    description: z.string().optional(),
    ownerType: z.enum(['user', 'organisation']),
    ownerUserId: Id.optional(),
    organisationId: Id,
    visibility: z.enum(['private', 'organisation']),
    enabled: z.boolean(),
    entryCount: z.number().int(),
    revision: z.number().int(),
    createdBy: Id,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('WatchList');

export const WatchEntryView = z
  .object({
    id: Id,
    type: z.string(),
    value: z.string().optional(),
    subdomains: z.boolean().optional(),
    algorithm: z.string().optional(),
    pattern: z.string().optional(),
    filter: ObjectFilter.optional(),
    comment: z.string().optional(),
    addedAt: Timestamp,
  })
  .openapi('WatchEntry');

export const EntriesResult = z
  .object({
    added: z.array(WatchEntryView),
    duplicates: z.number().int(),
    rejected: z.array(z.object({ index: z.number().int(), reason: z.string() })),
  })
  .openapi('WatchEntriesResult');

export const CreatedWatchList = z
  .object({ watchlist: WatchList, entries: EntriesResult })
  .openapi('CreatedWatchList');

export const EntryPage = z
  .object({
    entries: z.array(WatchEntryView),
    next: z.string().optional().openapi({ description: 'pass as `after` for the next page' }),
  })
  .openapi('WatchEntryPage');

export const AlertView = z
  .object({
    id: Id,
    watchlistId: Id,
    entryId: Id,
    objectId: z.string(),
    objectType: z.string(),
    objectName: z.string().optional(),
    version: z.string(),
    revoked: z.boolean(),
    collectionId: Id,
    match: z.object({
      kind: z.enum(['value', 'indicator', 'pattern', 'filter']),
      how: z.string().optional(),
      watched: z.string(),
      value: z.string().optional(),
      path: z.string().optional(),
    }),
    priority: z.number().int().min(0).max(100),
    severity: z.enum(['low', 'medium', 'high', 'critical']),
    sources: z.number().int(),
    confidence: z.number().optional(),
    tlp: z.array(Tlp),
    state: z.enum(['open', 'acknowledged']),
    versions: z.number().int(),
    origin: z.enum(['live', 'retro-hunt']),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    acknowledgedBy: Id.optional(),
    acknowledgedAt: Timestamp.optional(),
  })
  .openapi('Alert');

export const AlertPage = z
  .object({
    alerts: z.array(AlertView),
    next: z.string().optional().openapi({ description: 'pass as `cursor` for the next page' }),
  })
  .openapi('AlertPage');

export const HuntJobView = z
  .object({
    id: Id,
    watchlistId: Id,
    listRevision: z.number().int(),
    state: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
    collections: z.number().int().openapi({ description: 'collections to scan' }),
    collectionsDone: z.number().int(),
    scanned: z.number().int(),
    matched: z.number().int(),
    alerts: z.number().int(),
    truncated: z.boolean(),
    error: z.string().optional(),
    createdAt: Timestamp,
    startedAt: Timestamp.optional(),
    finishedAt: Timestamp.optional(),
    updatedAt: Timestamp,
  })
  .openapi('RetroHuntJob');

function time(micros: number | undefined): string | undefined {
  return micros === undefined ? undefined : microsToTaxii(micros);
}

export function listJson(summary: WatchListSummary) {
  return {
    ...summary,
    createdAt: microsToTaxii(summary.createdAt),
    updatedAt: microsToTaxii(summary.updatedAt),
  };
}

export function entryJson(entry: WatchEntry) {
  return { ...entry, addedAt: microsToTaxii(entry.addedAt) };
}

export { alertView as alertJson } from '../../watch/alerts.ts';

export function jobJson(job: HuntJob) {
  return {
    ...job,
    collections: job.collections.length,
    collectionsDone: job.collections.filter((item) => item.done).length,
    createdAt: microsToTaxii(job.createdAt),
    startedAt: time(job.startedAt),
    finishedAt: time(job.finishedAt),
    updatedAt: microsToTaxii(job.updatedAt),
  };
}

/** Returns the watch list runtime of the server; fails with 503 when it has none. */
export function watchRuntime(c: ApiContext): WatchRuntime {
  const runtime = c.var.deps.watch;
  if (runtime === undefined) {
    throw new CairnError('unavailable', 'watch lists are not set up on this server');
  }
  return runtime;
}
