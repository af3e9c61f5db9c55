/**
 * `cairn import`: loads a STIX bundle or TAXII envelope from a file or standard input into a
 * collection, with progress on standard error and a summary on standard output.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { CairnError } from '../../errors.ts';
import { convert, lostInputs } from '../../ingest/formats/index.ts';
import {
  canConvertInWorker,
  convertInWorker,
  type ThreadedFormat,
} from '../../ingest/formats/threaded.ts';
import {
  IMPORT_DEFAULTS,
  importConversion,
  importObjects,
  ImportStoppedError,
  NOT_STORED_RULE,
  type ImportProgress,
  type ImportSummary,
} from '../../ingest/import.ts';
import { STIX_RULES } from '../../stix/problems.ts';
import { findCollection, withStore, type GlobalOptions } from '../context.ts';
import {
  addFormatOptions,
  formatOptions,
  isPathFormat,
  openPath,
  printConversion,
  saveCheckpoint,
  type FormatCommandOptions,
} from './import-formats.ts';

interface ImportCommandOptions extends GlobalOptions, FormatCommandOptions {
  collection: string;
  apiRoot?: string;
  batchSize?: string;
  quiet?: boolean;
}

/** Largest batch accepted; one batch is one store transaction held in memory. */
const MAX_BATCH_SIZE = 100_000;

/**
 * Smallest file whose conversion runs in a worker thread. Starting the worker took 0.4 to
 * 0.5 s from TypeScript sources on a busy 2-core machine, less than the overlap saves on
 * 1 MiB of a plain-text list (about 60,000 lines, 3 s of import on one core).
 * NOTE: an estimate from few runs; the compiled CLI starts the worker faster.
 */
const WORKER_MIN_BYTES = 1 << 20;

/** Rejection messages printed under each rule in the summary. */
const EXAMPLES_PER_RULE = 3;

const READER_RULES: Record<string, string> = {
  'too-large': 'the object is larger than the import size limit',
  [NOT_STORED_RULE]: 'rejected by the sharing rules or the store (each message says why)',
};

export function registerImport(program: Command): void {
  const command = program
    .command('import <file>')
    .description(
      'import a STIX bundle or TAXII envelope, or another format with --format, from a file or from standard input with -',
    )
    .option('--collection <id|alias>', 'collection to import into', 'default')
    .option(
      '--api-root <name>',
      'API root of the collection (default: the configured default root)',
    )
    .option(
      '--batch-size <n>',
      `objects validated and stored per transaction (default: ${IMPORT_DEFAULTS.batchSize}, ` +
        `or ${IMPORT_DEFAULTS.bulkBatchSize} for the bulk path of text, freetext and csv)`,
    )
    .option('-q, --quiet', 'print no progress, only the summary');
  addFormatOptions(command).action(async (file: string, _options, command: Command) => {
    const options = command.optsWithGlobals<ImportCommandOptions>();
    const batchSize =
      options.batchSize === undefined
        ? undefined
        : parseCount('--batch-size', options.batchSize, MAX_BATCH_SIZE);
    await withStore(options, async (context) => {
      const target = await findCollection(context, options.collection, options.apiRoot);
      const input = isPathFormat(options.format) ? await openPath(file) : await openInput(file);
      const conversionOptions = await formatOptions(options, file, input);
      const format = options.format;
      // The list formats convert in a worker thread while this thread stores, unless the
      // file is too small to repay starting the worker.
      const threaded =
        conversionOptions !== undefined &&
        canConvertInWorker(format, conversionOptions) &&
        (input.size === undefined || input.size >= WORKER_MIN_BYTES);
      const conversion =
        conversionOptions &&
        (threaded
          ? convertInWorker(format as ThreadedFormat, input, conversionOptions)
          : convert(format as never, input, conversionOptions));
      const progress = startProgress({
        label: 'importing',
        unit: 'bytes',
        total: input.size,
        quiet: options.quiet ?? false,
      });
      const started = performance.now();
      try {
        const importOptions = {
          batchSize,
          onProgress: (totals: ImportProgress) => progress.update(totals.bytesRead, totals.read),
        };
        const summary = conversion
          ? await importConversion(context.store, target.id, conversion, importOptions)
          : await importObjects(context.store, target.id, input.stream, importOptions);
        progress.stop();
        const converted = conversion?.report.summary();
        if (converted) printConversion(converted);
        printSummary(summary, performance.now() - started);
        if (conversionOptions) await saveCheckpoint(options, conversionOptions);
        const lost = converted ? lostInputs(converted) : 0;
        if (lost > 0) {
          process.stdout.write(
            `not imported: ${lost} file${lost === 1 ? '' : 's'} or event${lost === 1 ? '' : 's'} ` +
              'of the input could not be read (see "skipped" above); the rest was imported\n',
          );
        }
        // Exit status 2: the input was read to its end, but some objects were rejected or
        // whole files or events of it could not be read.
        if (summary.rejected > 0 || lost > 0) process.exitCode = 2;
      } catch (error) {
        progress.stop();
        if (conversion) printConversion(conversion.report.summary());
        if (error instanceof ImportStoppedError) {
          printSummary(error.summary, performance.now() - started);
        }
        throw error;
      }
    });
  });
}

/** Parses a positive integer option no larger than `max`, or fails naming the option. */
export function parseCount(option: string, raw: string, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new CairnError(
      'invalid-parameter',
      `${option} ${JSON.stringify(raw)} must be a whole number from 1 to ${max}`,
    );
  }
  return value;
}

/**
 * Opens the input file, or standard input for `-`. `modified` is the file's modification
 * time, the `created` of indicators made from it, so an unchanged file imports as
 * duplicates the second time.
 */
async function openInput(
  file: string,
): Promise<{ stream: AsyncIterable<Uint8Array>; size?: number; modified?: string }> {
  if (file === '-') return { stream: process.stdin };

  let size: number;
  let modified: string;
  try {
    const info = await stat(file);
    if (!info.isFile())
      throw new CairnError('invalid-parameter', `cannot read ${file}: not a regular file`);
    size = info.size;
    modified = info.mtime.toISOString();
  } catch (error) {
    if (error instanceof CairnError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : (code ?? String(error));
    throw new CairnError('not-found', `cannot read ${file}: ${reason}`);
  }
  return { stream: createReadStream(file), size, modified };
}

function printSummary(summary: ImportSummary, elapsedMs: number): void {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(summary.read / seconds) : summary.read;
  const lines = [
    `read ${summary.read} objects (${formatBytes(summary.bytesRead)}) in ${seconds.toFixed(1)} s, ${rate} objects/s`,
    `added ${summary.added}, duplicates ${summary.duplicates}, rejected ${summary.rejected}`,
  ];
  const rules = Object.entries(summary.rejectedByRule).sort((a, b) => b[1] - a[1]);
  for (const [rule, count] of rules) {
    const meaning = (STIX_RULES as Record<string, string>)[rule] ?? READER_RULES[rule] ?? '';
    lines.push(`  ${rule}: ${count} rejected${meaning ? `, ${meaning}` : ''}`);
    const examples = summary.failures.filter((failure) => failure.rules.includes(rule));
    for (const failure of examples.slice(0, EXAMPLES_PER_RULE)) {
      const named = failure.message.startsWith(failure.id);
      lines.push(`    ${named ? failure.message : `${failure.id}: ${failure.message}`}`);
    }
  }
  if (summary.failures.length < summary.rejected) {
    lines.push(`  (messages kept for the first ${summary.failures.length} rejected objects)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export interface ProgressOptions {
  /** First word of each progress line, e.g. "importing". */
  label: string;
  /** The quantity the bar measures: input bytes for an import, objects for an export. */
  unit: 'bytes' | 'objects';
  /** The value at 100%; without it only counters are shown. */
  total?: number;
  quiet: boolean;
  stream?: NodeJS.WriteStream;
}

export interface ProgressReporter {
  update(bytes: number, objects: number): void;
  stop(): void;
}

/** Milliseconds between progress lines when standard error is not a terminal. */
const PLAIN_PROGRESS_INTERVAL_MS = 5000;

/**
 * Shows progress on standard error: a cli-progress bar on a terminal, a line every few
 * seconds otherwise (a log file or a pipe), nothing when quiet.
 */
export function startProgress(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { update: () => {}, stop: () => {} };
  if (stream.isTTY) return terminalProgress(options, stream);

  const started = performance.now();
  let lastLine = started;
  let latest = { bytes: 0, objects: 0 };
  const print = (): void => {
    const elapsed = (performance.now() - started) / 1000;
    const share = options.total
      ? `, ${percent(progressValue(options, latest), options.total)}`
      : '';
    stream.write(
      `${options.label}: ${latest.objects} objects, ${formatBytes(latest.bytes)}${share}, ${elapsed.toFixed(0)} s\n`,
    );
  };
  return {
    update(bytes, objects) {
      latest = { bytes, objects };
      const now = performance.now();
      if (now - lastLine < PLAIN_PROGRESS_INTERVAL_MS) return;
      lastLine = now;
      print();
    },
    stop() {},
  };
}

function terminalProgress(options: ProgressOptions, stream: NodeJS.WriteStream): ProgressReporter {
  const counters = '{objects} objects | {done} | {rate} objects/s';
  const format = options.total
    ? `${options.label} [{bar}] {percentage}% | ${counters} | ETA {eta_formatted}`
    : `${options.label} ${counters} | {duration_formatted}`;
  const bar = new cliProgress.SingleBar(
    { format, stream, hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  const payload = (bytes: number, objects: number): object => {
    const seconds = (performance.now() - started) / 1000;
    return {
      objects,
      done: formatBytes(bytes),
      rate: seconds > 0 ? Math.round(objects / seconds) : 0,
    };
  };
  bar.start(options.total ?? 0, 0, payload(0, 0));
  return {
    update(bytes, objects) {
      bar.update(progressValue(options, { bytes, objects }), payload(bytes, objects));
    },
    stop() {
      bar.stop();
    },
  };
}

function progressValue(options: ProgressOptions, at: { bytes: number; objects: number }): number {
  return options.unit === 'bytes' ? at.bytes : at.objects;
}

function percent(value: number, total: number): string {
  return `${Math.min(100, (value / total) * 100).toFixed(0)}%`;
}
