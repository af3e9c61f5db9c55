/**
 * Imports a STIX bundle or TAXII envelope from a byte stream into a collection, in batches
 * that go through the same validation and storage as a TAXII POST (see submit.ts). Objects
 * that Cairn's list converters built may take the bulk path of converted.ts instead.
 * The reader runs at most one batch ahead of the store, so memory stays at about one batch
 * whatever the size of the input.
 */
import { CairnError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { BundleReader, type BundleEntry, type BundleReaderOptions } from './bundle-reader.ts';
import { type ConvertedRow, submitConverted, submitConvertedRows } from './converted.ts';
import type { Conversion } from './formats/index.ts';
import type { ThreadedConversion } from './formats/threaded.ts';
import { submitObjects, type SubmitFailure, type SubmitResult } from './submit.ts';

export interface ImportOptions {
  /** Objects validated and stored per store transaction. */
  batchSize?: number;
  /** Rejections kept with their message in the summary; the rest are only counted. */
  maxFailures?: number;
  /** Size and depth limits of the reader. */
  limits?: BundleReaderOptions;
  /** Called after each batch with the totals so far. */
  onProgress?: (progress: ImportProgress) => void;
}

export interface ConvertedImportOptions extends ImportOptions {
  /** Bytes of input read so far, for progress. */
  bytesRead?: () => number;
  /**
   * Whether Cairn's list converters built every object (Conversion.bulk), so batches go
   * through the bulk path of converted.ts instead of the full validation of submit.ts.
   */
  bulk?: boolean;
}

export const IMPORT_DEFAULTS = {
  batchSize: 1000,
  /**
   * Batch size of the bulk path. Adding 200,000 indicators to SQLite with addConverted took
   * 13 % less CPU time in batches of 5,000 than of 1,000, and no less in batches of 20,000
   * (two runs each on a loaded 2-core machine, so an estimate).
   */
  bulkBatchSize: 5000,
  maxFailures: 100,
} as const;

export interface ImportProgress {
  /** Members of the `objects` array read, rejected ones included. */
  read: number;
  added: number;
  /** Versions the collection already contained, left unchanged. */
  duplicates: number;
  rejected: number;
  /** Bytes of input parsed. */
  bytesRead: number;
}

/** One rejected object: its id (or `objects[N]` when it had none) and why. */
export interface ImportFailure {
  id: string;
  message: string;
  /** Rule codes of the validator, or of the reader's limits (`too-large`, `depth`). */
  rules: string[];
}

export interface ImportSummary extends ImportProgress {
  /** The first `maxFailures` rejections, in input order. */
  failures: ImportFailure[];
  /** Rejected objects per rule; an object that breaks several rules counts under each. */
  rejectedByRule: Record<string, number>;
}

/**
 * The input could not be read to its end. The objects stored before the error stay in the collection;
 * `summary` counts them.
 */
export class ImportStoppedError extends CairnError {
  constructor(
    override readonly cause: CairnError,
    readonly summary: ImportSummary,
  ) {
    super(cause.code, `${cause.message} (${describeStop(summary)})`, {
      ...cause.details,
      added: summary.added,
      duplicates: summary.duplicates,
      rejected: summary.rejected,
    });
    this.name = 'ImportStoppedError';
  }
}

function describeStop(summary: ImportSummary): string {
  const counts = `${summary.added} added, ${summary.duplicates} duplicates and ${summary.rejected} rejected`;
  const kept = summary.added > 0 ? '; the added objects stay in the collection' : '';
  return `the import stopped after ${summary.read} objects: ${counts}${kept}`;
}

/**
 * Reads every object of the bundle in `source` and adds the valid ones to the collection.
 * An invalid object is counted and reported, and the rest still import. Throws
 * ImportStoppedError when the input is not readable to its end, and rethrows store errors
 * unchanged.
 */
export async function importObjects(
  store: Store,
  collectionId: string,
  source: AsyncIterable<Uint8Array | string>,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const reader = new BundleReader(source, options.limits);
  return importEntries(store, collectionId, single(reader), () => reader.bytesRead, options);
}

/**
 * Adds STIX objects from a converter (another format turned into STIX 2.1) to the
 * collection, in the same batches and with the same summary as importObjects. Objects go
 * through the same validation, unless `options.bulk` is set because Cairn built them. A CairnError
 * thrown by `objects` stops the import like an unreadable bundle does: ImportStoppedError,
 * with the objects stored so far kept.
 */
export async function importConverted(
  store: Store,
  collectionId: string,
  objects: AsyncIterable<unknown>,
  options: ConvertedImportOptions = {},
): Promise<ImportSummary> {
  return importEntries(store, collectionId, numbered(objects), options.bytesRead, options);
}

/**
 * Imports a conversion started by formats/index.ts `convert`, like importConverted. It
 * reads the conversion's batches when it has them, and uses the bulk path, with batches of
 * IMPORT_DEFAULTS.bulkBatchSize unless `options.batchSize` is set, when the conversion
 * allows it. A conversion started by formats/threaded.ts `convertInWorker` always takes the
 * bulk path.
 */
export async function importConversion(
  store: Store,
  collectionId: string,
  conversion: Conversion | ThreadedConversion,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  if ('rows' in conversion) {
    const batchSize = options.batchSize ?? IMPORT_DEFAULTS.bulkBatchSize;
    return importEntries(
      store,
      collectionId,
      numberedBatches(conversion.rows),
      conversion.bytesRead,
      { ...options, batchSize },
      (store, collectionId, rows, offset) =>
        submitConvertedRows(
          store,
          collectionId,
          rows as ConvertedRow[],
          offset,
          undefined,
          batchSize,
        ),
    );
  }
  const converted = {
    ...options,
    batchSize: options.batchSize ?? (conversion.bulk ? IMPORT_DEFAULTS.bulkBatchSize : undefined),
    bytesRead: conversion.bytesRead,
    bulk: conversion.bulk,
  };
  if (conversion.batches === undefined) {
    return importConverted(store, collectionId, conversion.objects, converted);
  }
  return importEntries(
    store,
    collectionId,
    numberedBatches(conversion.batches),
    conversion.bytesRead,
    converted,
  );
}

async function* numbered(objects: AsyncIterable<unknown>): AsyncGenerator<BundleEntry[]> {
  let index = 0;
  for await (const value of objects) yield [{ index: index++, value }];
}

async function* numberedBatches(
  batches: AsyncIterable<readonly unknown[]>,
): AsyncGenerator<BundleEntry[]> {
  let index = 0;
  for await (const values of batches) yield values.map((value) => ({ index: index++, value }));
}

async function* single<T>(items: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const item of items) yield [item];
}

/** Stores one batch of an import; `offset` is the input index of its first entry. */
type SubmitBatch = (
  store: Store,
  collectionId: string,
  values: readonly unknown[],
  offset: number,
) => Promise<SubmitResult>;

/**
 * Imports entries that come in arrays, so a converter's batch costs one asynchronous step.
 * `submitBatch` stores each batch. Without it, batches take the bulk path when
 * `options.bulk` is set and the full validation otherwise.
 */
async function importEntries(
  store: Store,
  collectionId: string,
  entries: AsyncIterable<BundleEntry[]>,
  bytesRead: (() => number) | undefined,
  options: ConvertedImportOptions,
  submitBatch?: SubmitBatch,
): Promise<ImportSummary> {
  const batchSize = options.batchSize ?? IMPORT_DEFAULTS.batchSize;
  const tally = new Tally(options.maxFailures ?? IMPORT_DEFAULTS.maxFailures);
  // Imports run from the CLI, where no requests wait, so the bulk path stores a whole batch
  // in one transaction.
  const submit: SubmitBatch =
    submitBatch ??
    (options.bulk
      ? (store, collectionId, objects, offset) =>
          submitConverted(store, collectionId, objects, offset, undefined, batchSize)
      : submitObjects);

  let batch: unknown[] = [];
  let batchStart = 0;
  const flush = async (): Promise<void> => {
    if (batch.length > 0) {
      tally.addResult(await submit(store, collectionId, batch, batchStart), batch.length);
    }
    batch = [];
    tally.bytesRead = bytesRead?.() ?? 0;
    options.onProgress?.(tally.progress());
  };

  const iterator = entries[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      let next: IteratorResult<BundleEntry[]>;
      try {
        next = await iterator.next();
      } catch (error) {
        ended = true;
        // Only input errors stop the import with a summary; store errors propagate unchanged.
        if (!(error instanceof CairnError)) throw error;
        await flush();
        throw new ImportStoppedError(error, tally.summary());
      }
      if (next.done) {
        ended = true;
        break;
      }
      for (const entry of next.value) {
        if ('skipped' in entry) {
          // Batches stay contiguous, so submitObjects numbers objects without an id correctly.
          await flush();
          tally.addSkipped(`objects[${entry.index}]`, entry.skipped, entry.rule);
          batchStart = entry.index + 1;
          continue;
        }
        if (batch.length === 0) batchStart = entry.index;
        batch.push(entry.value);
        if (batch.length >= batchSize) await flush();
      }
    }
    await flush();
  } finally {
    // A store error leaves the input unread: close it, and stop a conversion worker.
    if (!ended) await iterator.return?.();
  }
  return tally.summary();
}

/**
 * Rule name of a rejection that breaks no STIX rule: the sharing rules or the store rejected
 * the object, and its message gives the reason.
 */
export const NOT_STORED_RULE = 'not-stored';

/** Returns the rules a rejected object breaks, or NOT_STORED_RULE when it breaks none. */
export function failureRules(failure: SubmitFailure): string[] {
  const rules = [...new Set(failure.problems.map((problem) => problem.rule))];
  return rules.length > 0 ? rules : [NOT_STORED_RULE];
}

/** Running totals of an import. */
class Tally {
  read = 0;
  added = 0;
  duplicates = 0;
  rejected = 0;
  bytesRead = 0;
  private readonly failures: ImportFailure[] = [];
  private readonly byRule = new Map<string, number>();

  constructor(private readonly maxFailures: number) {}

  addResult(result: SubmitResult, count: number): void {
    this.read += count;
    for (const success of result.successes) {
      if (success.outcome === 'added') this.added++;
      else this.duplicates++;
    }
    for (const failure of result.failures) {
      this.reject({ id: failure.id, message: failure.message, rules: failureRules(failure) });
    }
  }

  addSkipped(id: string, reason: string, rule: string): void {
    this.read++;
    this.reject({ id, message: `${id} is ${reason}`, rules: [rule] });
  }

  progress(): ImportProgress {
    const { read, added, duplicates, rejected, bytesRead } = this;
    return { read, added, duplicates, rejected, bytesRead };
  }

  summary(): ImportSummary {
    return {
      ...this.progress(),
      failures: [...this.failures],
      rejectedByRule: Object.fromEntries(this.byRule),
    };
  }

  private reject(failure: ImportFailure): void {
    this.rejected++;
    if (this.failures.length < this.maxFailures) this.failures.push(failure);
    for (const rule of failure.rules) this.byRule.set(rule, (this.byRule.get(rule) ?? 0) + 1);
  }
}
