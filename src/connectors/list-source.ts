/**
 * CSV files and plain-text lists as connector sources, converted to STIX by the converters
 * of src/ingest/formats. The whole input is read again on each run unless its validator
 * (ETag, Last-Modified, file size and time) shows it unchanged. The converters derive ids
 * from the source and the value, so values read again are duplicates.
 *
 * The checkpoint counts the objects stored from the current version of the input. A run
 * that stopped part-way skips that many objects when the input is unchanged, since the
 * converter produces the same objects in the same order from the same bytes.
 */
import {
  ConversionReport,
  convert,
  parseCsvMapping,
  type ConversionSummary,
  type FormatOptions,
} from '../ingest/formats/index.ts';
import { microsToTaxii } from '../stix/timestamp.ts';
import type { Connector } from './definition.ts';
import { openInput } from './input.ts';
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

/** The converter options of a connector; `created` is fixed so runs give identical objects. */
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
  },
): AsyncGenerator<SourceBatch> {
  const bulk = options.bulk ?? false;
  let position = options.skip;
  let skipped = 0;
  let batch: unknown[] = [];
  for await (const object of objects) {
    if (skipped < options.skip) {
      skipped++;
      continue;
    }
    batch.push(object);
    if (batch.length >= options.batchSize) {
      position += batch.length;
      yield {
        objects: batch,
        warningListsApplied: true,
        bulk,
        checkpoint: options.checkpoint(position, false),
      };
      batch = [];
    }
  }
  position += batch.length;
  yield {
    objects: batch,
    warningListsApplied: true,
    bulk,
    rejectedCounts: reportRejections(options.report.summary()),
    checkpoint: options.checkpoint(position, true),
  };
}

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
    const options = convertOptions(connector, context);
    if (this.format === 'csv' && connector.csvMapping) {
      options.csvMapping = parseCsvMapping(connector.csvMapping);
    }
    const conversion = convert(this.format, { stream: opened.stream }, options);
    const checkpoint = (position: number, complete: boolean): ListCheckpoint => ({
      ...(opened.validator ? { validator: opened.validator } : {}),
      position,
      complete,
    });

    yield* convertedBatches(conversion.objects, {
      skip,
      batchSize: connector.batchSize,
      checkpoint,
      report: conversion.report,
      bulk: conversion.bulk,
    });
  }
}
