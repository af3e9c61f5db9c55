/**
 * Converts a list format (text, freetext, csv) in a worker thread while the main thread
 * stores, so conversion and storage run on two cores. better-sqlite3 writes on the thread
 * that calls it, so without the worker the two take turns on one core.
 *
 * The main thread reads the input and sends its chunks to the worker. The worker converts
 * them, prepares each object for the bulk path (converted-rows.ts) and sends batches back
 * as packed text. Both directions are bounded: at most INPUT_CHUNKS_AHEAD chunks wait in
 * the worker and at most BATCHES_AHEAD converted batches wait for the store, so memory
 * stays at a few batches for an input of any size.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CairnError, type ErrorCode } from '../../errors.ts';
import { type ConvertedRow, unpackRows } from '../converted-rows.ts';
import type { ConversionInput, FormatOptions } from './index.ts';
import { ConversionReport, type ConversionSummary } from './report.ts';

/** Formats that the worker converts. */
export const THREADED_FORMATS = ['text', 'freetext', 'csv'] as const;

export type ThreadedFormat = (typeof THREADED_FORMATS)[number];

/** Input chunks sent to the worker and not yet taken by its converter. */
const INPUT_CHUNKS_AHEAD = 4;

/** Converted batches received and not yet taken by the import. */
const BATCHES_AHEAD = 4;

/** The worker's module: conversion-worker.ts under tsx, conversion-worker.js once built. */
const WORKER_EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./conversion-worker${WORKER_EXTENSION}`, import.meta.url);

/**
 * A young generation larger than V8's default: a batch of converted objects stays alive
 * until it is packed, so each scavenge copies it. Converting IPsum and the Maltrail trails
 * (bench/import-text.ts) took about 12 % less CPU time with 96 MiB than with the default
 * (alternating runs on a 2-core AMD EPYC at load 5 to 7), and no less with 192 MiB.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 96 };

/**
 * Starts the worker thread. Node 20 does not run `--import tsx` in worker threads, so a
 * worker started from TypeScript sources (tests, benches, `npm run cairn`) registers the
 * tsx loader itself before it imports its module.
 */
function startWorker(request: WorkerRequest): Worker {
  if (WORKER_EXTENSION !== '.ts')
    return new Worker(WORKER_URL, { workerData: request, resourceLimits: WORKER_LIMITS });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code =
    `import(${tsx}).then((api) => { api.register(); ` +
    `return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(code, { eval: true, workerData: request, resourceLimits: WORKER_LIMITS });
}

/** The worker's data: the format and the converter options. */
export interface WorkerRequest {
  format: ThreadedFormat;
  options: FormatOptions;
}

/** Messages from the main thread to the worker. */
export type ToWorker =
  | { type: 'chunk'; data: Uint8Array | string }
  | { type: 'end' }
  /** Reading the input failed; the main thread keeps the error. */
  | { type: 'fail' };

/** A conversion error, as it crosses to the main thread. */
export type WorkerError =
  | { kind: 'cairn'; code: ErrorCode; message: string; details?: Record<string, unknown> }
  /** The input failed (a `fail` message), which the main thread reports with its own error. */
  | { kind: 'input' }
  | { kind: 'other'; message: string; stack?: string };

/** Messages from the worker to the main thread. */
export type FromWorker =
  /** The converter took a chunk, so another may be sent. */
  | { type: 'read' }
  | {
      type: 'batch';
      /** The rows, packed by packRows. */
      rows: string;
      bytesRead: number;
      report: ConversionSummary;
    }
  | { type: 'done'; bytesRead: number; report: ConversionSummary }
  | { type: 'error'; error: WorkerError; bytesRead: number; report: ConversionSummary };

/** A conversion under way in a worker thread; see convertInWorker. */
export interface ThreadedConversion {
  /** The converted objects, prepared for the bulk path, in input order. */
  rows: AsyncIterable<ConvertedRow[]>;
  /** The worker's report, as of the last batch read from `rows`. */
  report: ConversionReport;
  /** Bytes of input converted, as of the last batch read from `rows`. */
  bytesRead(): number;
}

/**
 * Checks whether a conversion can run in the worker. Warning lists are objects of the main
 * thread (a matcher of 175,000 entries, or the connectors' shared lookup), so conversions
 * that use them stay on the main thread.
 */
export function canConvertInWorker(
  format: string,
  options: FormatOptions,
): format is ThreadedFormat {
  return (
    (THREADED_FORMATS as readonly string[]).includes(format) &&
    options.warninglists === undefined &&
    options.checkpoint === undefined
  );
}

/**
 * Starts converting `input` in a worker thread. The worker starts when `rows` is first
 * read, and stops when `rows` ends or its iterator is returned. A CairnError of the
 * converter is thrown from `rows` after the batches converted before it, as on the main
 * thread. An error of the input stream is thrown as it is.
 */
export function convertInWorker(
  format: ThreadedFormat,
  input: ConversionInput,
  options: FormatOptions,
): ThreadedConversion {
  const report = new ConversionReport();
  let bytesRead = 0;
  const received = (message: { bytesRead: number; report: ConversionSummary }): void => {
    bytesRead = message.bytesRead;
    report.assign(message.report);
  };
  return {
    rows: convertedRows({ format, options }, input, received),
    report,
    bytesRead: () => bytesRead,
  };
}

async function* convertedRows(
  request: WorkerRequest,
  input: ConversionInput,
  received: (message: { bytesRead: number; report: ConversionSummary }) => void,
): AsyncGenerator<ConvertedRow[]> {
  const source = input.stream[Symbol.asyncIterator]();
  const worker = startWorker(request);
  const pending: Array<Exclude<FromWorker, { type: 'read' }>> = [];
  let credits = INPUT_CHUNKS_AHEAD;
  let sourceDone = false;
  let sourceError: unknown;
  let workerFailure: Error | undefined;
  let exited = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };

  let pumping = false;
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (!sourceDone && credits > 0 && pending.length < BATCHES_AHEAD) {
        credits--;
        let next: IteratorResult<Uint8Array | string>;
        try {
          next = await source.next();
        } catch (error) {
          sourceDone = true;
          sourceError = error;
          worker.postMessage({ type: 'fail' } satisfies ToWorker);
          break;
        }
        if (next.done) {
          sourceDone = true;
          worker.postMessage({ type: 'end' } satisfies ToWorker);
          break;
        }
        sendChunk(worker, next.value);
      }
    } finally {
      pumping = false;
    }
  };

  worker.on('message', (message: FromWorker) => {
    if (message.type === 'read') credits++;
    else pending.push(message);
    void pump();
    notify();
  });
  worker.on('error', (error) => {
    workerFailure = error;
    notify();
  });
  worker.on('exit', () => {
    exited = true;
    notify();
  });

  let finished = false;
  try {
    void pump();
    for (;;) {
      const message = pending.shift();
      if (message === undefined) {
        if (workerFailure) throw workerFailure;
        if (exited) throw new Error('the conversion worker stopped before the end of the input');
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      void pump();
      received(message);
      if (message.type === 'batch') {
        yield unpackRows(message.rows);
      } else if (message.type === 'done') {
        finished = true;
        return;
      } else {
        finished = true;
        throw rebuildError(message.error, sourceError);
      }
    }
  } finally {
    await worker.terminate();
    // Close the input (a file or a response body) when the import stopped before its end.
    if (!finished && !sourceDone) await source.return?.();
  }
}

/** Sends a chunk to the worker, copied into a buffer of its own that is then transferred. */
function sendChunk(worker: Worker, chunk: Uint8Array | string): void {
  if (typeof chunk === 'string') {
    worker.postMessage({ type: 'chunk', data: chunk } satisfies ToWorker);
    return;
  }
  const data = new Uint8Array(chunk);
  worker.postMessage({ type: 'chunk', data } satisfies ToWorker, [data.buffer]);
}

function rebuildError(error: WorkerError, sourceError: unknown): unknown {
  switch (error.kind) {
    case 'cairn':
      return new CairnError(error.code, error.message, error.details);
    case 'input':
      return sourceError;
    case 'other': {
      const rebuilt = new Error(`the conversion failed: ${error.message}`);
      if (error.stack !== undefined) rebuilt.stack = error.stack;
      return rebuilt;
    }
  }
}
