/**
 * CSV files and plain-text lists as connector sources, converted to STIX by the converters
 * of src/ingest/formats. The whole input is read again on each run unless its validator
 * (ETag, Last-Modified, file size and time) shows it unchanged. The converters derive ids
 * from the source and the value, and list-snapshot.ts compares what a run reads with what
 * is stored: values already stored add nothing, and in snapshot mode values no longer
 * listed are expired.
 *
 * The checkpoint counts the objects the converter produced from the current version of
 * the input and the run has stored. A run that stopped part-way skips that many objects
 * when the input is unchanged, since the converter produces the same objects in the same
 * order from the same bytes. In snapshot mode the checkpoint marks the version complete
 * only once the expiry is stored, so a run stopped during the expiry reads the input again.
 */
import {
  ConversionReport,
  convert,
  parseCsvMapping,
  type ConversionSummary,
  type FormatOptions,
} from '../ingest/formats/index.ts';
import { microsToTaxii, nowMicros } from '../stix/timestamp.ts';
import { DEFAULT_LISTED_VALIDITY_SECONDS, type Connector } from './definition.ts';
import { openInput } from './input.ts';
import { ListRun } from './list-snapshot.ts';
import {
  objectCheckpoint,
  type ConnectorSource,
  type SourceBatch,
  type SourceContext,
  type SourceRejection,
} from './source.ts';

export interface ListCheckpoint {
  /** Validator of the input version the position belongs to. */
  validator?: string;
  /** Objects of that version already stored. */
  position: number;
  /** Whether that version was read to its end. */
  complete: boolean;
}

function readCheckpoint(value: unknown): ListCheckpoint {
  const raw = objectCheckpoint(value);
  return {
    ...(typeof raw.validator === 'string' ? { validator: raw.validator } : {}),
    position: Number.isSafeInteger(raw.position) ? (raw.position as number) : 0,
    complete: raw.complete === true,
  };
}

/**
 * Builds the converter options of a connector. `created` is the connector's creation time,
 * so runs give identical objects; ListSource replaces it with the run time when it compares
 * with the store.
 */
export function convertOptions(connector: Connector, context: SourceContext): FormatOptions {
  const policy = connector.warningLists;
  return {
    source: connector.url,
    created: microsToTaxii(connector.createdAt),
    ...(connector.labels?.length ? { labels: connector.labels } : {}),
    ...(policy !== 'off' && context.warninglists
      ? { warninglists: { lists: context.warninglists, action: policy } }
      : {}),
  };
}

/** Counts of a converter's report as batch rejection totals. */
export function reportRejections(summary: ConversionSummary): SourceBatch['rejectedCounts'] {
  const examples: SourceRejection[] = summary.examples.map((note) => ({
    id: note.where,
    message: note.message,
    rule: note.code,
  }));
  return { byReason: summary.skippedByCode, examples };
}

/**
 * Cuts a converter's objects into batches after skipping the first `skip` (those stored by
 * an interrupted run of the same input). The last batch carries the converter's rejection
 * totals. `checkpoint` gets the number of objects stored once a batch is, and whether the
 * input is finished.
 */
export async function* convertedBatches(
  objects: AsyncIterable<unknown>,
  options: {
    skip: number;
    batchSize: number;
    checkpoint: (position: number, done: boolean) => unknown;
    report: ConversionReport;
    /** Marks the batches for the bulk path (Conversion.bulk). */
    bulk?: boolean;
    /** Compares each batch with the store; see list-snapshot.ts. */
    listRun?: ListRun;
  },
): AsyncGenerator<SourceBatch> {
  const { listRun } = options;
  let position = options.skip;
  let skipped = 0;
  let batch: unknown[] = [];
  const toBatch = async (last: boolean): Promise<SourceBatch> => {
    position += batch.length;
    let objects = batch;
    let bulk = options.bulk ?? false;
    let unchanged = 0;
    if (listRun !== undefined) {
      const reconciled = await listRun.reconcile(batch);
      objects = reconciled.objects;
      // New versions come from stored JSON, not only from the converter, so they take the
      // full validation of submitObjects.
      if (reconciled.versions > 0) bulk = false;
      unchanged = reconciled.unchanged;
    }
    batch = [];
    return {
      objects,
      ...(unchanged > 0 ? { unchanged } : {}),
      warningListsApplied: true,
      bulk,
      ...(last ? { rejectedCounts: reportRejections(options.report.summary()) } : {}),
      checkpoint: options.checkpoint(position, last),
    };
  };
  for await (const object of objects) {
    listRun?.note(object);
    if (skipped < options.skip) {
      skipped++;
      continue;
    }
    batch.push(object);
    if (batch.length >= options.batchSize) yield await toBatch(false);
  }
  yield await toBatch(true);
}

/** Codes of converter skips that still let a snapshot run expire values it did not list. */
const SKIPS_KEEPING_EXPIRY = new Set(['warninglist']);

export class ListSource implements ConnectorSource {
  constructor(private readonly format: 'csv' | 'text') {}

  async *read(context: SourceContext): AsyncIterable<SourceBatch> {
    const { connector } = context;
    const previous = readCheckpoint(context.checkpoint);
    const opened = await openInput(
      connector.url,
      context,
      previous.complete ? previous.validator : undefined,
    );
    if (opened.stream === undefined) return;

    const sameVersion = opened.validator !== undefined && opened.validator === previous.validator;
    const skip = sameVersion && !previous.complete ? previous.position : 0;
    const runAt = nowMicros();
    const mode = connector.listMode ?? 'snapshot';
    const options = convertOptions(connector, context);
    if (this.format === 'csv' && connector.csvMapping) {
      options.csvMapping = parseCsvMapping(connector.csvMapping);
    }
    const listRun =
      context.store === undefined
        ? undefined
        : new ListRun({
            store: context.store,
            collectionId: connector.collection,
            source: connector.url,
            connectorId: connector.id,
            mode,
            runAt,
            listedValidity:
              (connector.listedValiditySeconds ?? DEFAULT_LISTED_VALIDITY_SECONDS) * 1_000_000,
          });
    // Indicators first listed by this run are created now, and those already stored keep
    // theirs. Without a store to compare with, every run gives the same objects.
    if (listRun !== undefined) options.created = microsToTaxii(runAt);
    const expires = mode === 'snapshot' && listRun !== undefined;
    const conversion = convert(this.format, { stream: opened.stream }, options);
    let finalPosition = skip;
    const checkpoint = (position: number, complete: boolean): ListCheckpoint => {
      finalPosition = position;
      return {
        ...(opened.validator ? { validator: opened.validator } : {}),
        position,
        complete: complete && !expires,
      };
    };

    yield* convertedBatches(conversion.objects, {
      skip,
      batchSize: connector.batchSize,
      checkpoint,
      report: conversion.report,
      bulk: conversion.bulk,
      ...(listRun ? { listRun } : {}),
    });
    if (!expires) return;

    // The read reached the end of the input without an error, since an error ends the
    // run before this point.
    const done: ListCheckpoint = {
      ...(opened.validator ? { validator: opened.validator } : {}),
      position: finalPosition,
      complete: true,
    };
    const reason = expiryBlocker(conversion.report.summary(), listRun.listedCount);
    if (reason !== undefined) {
      context.logger.warn({ connector: connector.id, reason }, 'list expiry skipped');
      yield { objects: [], warnings: [`nothing was expired: ${reason}`], checkpoint: done };
      return;
    }
    for await (const expired of listRun.expireUnlisted(connector.batchSize)) {
      // The runner's warning-list policy must not drop these: they end a value's validity.
      yield {
        objects: expired,
        warningListsApplied: true,
        checkpoint: { ...done, complete: false },
      };
    }
    context.logger.info({ connector: connector.id, ...listRun.counts }, 'list run compared');
    yield { objects: [], checkpoint: done };
  }
}

/**
 * Returns why a complete read of a snapshot list may not expire what it did not list, or
 * undefined when it may. A record the converter skipped (a line too long, a value it could
 * not parse) may be a value still listed, and a read that listed nothing is more likely an
 * empty or cut response than an emptied feed.
 */
function expiryBlocker(summary: ConversionSummary, listed: number): string | undefined {
  const skipped = Object.entries(summary.skippedByCode)
    .filter(([code]) => !SKIPS_KEEPING_EXPIRY.has(code))
    .reduce((sum, [, count]) => sum + count, 0);
  if (skipped > 0) {
    return `${skipped} records of the list were skipped, so values missing from it may still be listed; fix or remove them in the feed`;
  }
  if (listed === 0)
    return 'the list held no indicator, which more likely means an empty or cut response than an emptied feed';
  return undefined;
}
