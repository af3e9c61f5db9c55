/**
 * Parses and validates POSTed envelopes in worker threads, so the event loop only applies
 * the sharing rules and stores. Decoding, parsing and validating 1,000 indicators took
 * 7.1 to 7.9 ms of main-thread CPU; receiving the prepared objects from a worker took 1.1
 * to 1.3 ms (docs/benchmarks.md). Small bodies stay on the main thread, where they cost
 * less than a round trip.
 *
 * The pool is piscina's: it replaces a worker that crashed or was stopped, queues tasks
 * and closes its threads. Its queue is bounded. When the queue is full, the body is
 * validated on the main thread as without workers. A flood of POSTs then slows the server
 * down as it did before, and does not pile up bodies in memory.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import { CairnError } from '../errors.ts';
import type { EnvelopeOutcome } from './envelope.ts';

/** The worker's module: envelope-worker.ts under tsx, envelope-worker.js once built. */
const WORKER_URL = new URL(
  `./envelope-worker${extname(fileURLToPath(import.meta.url))}`,
  import.meta.url,
);

/** Loads a task module written in TypeScript in a worker thread; see typescript-task.mjs. */
const TYPESCRIPT_TASK_URL = new URL('./typescript-task.mjs', import.meta.url);

/** Returns the piscina options that make its threads run the task module at `url`. */
function taskModule(url: URL): { filename: string; workerData?: { taskModule: string } } {
  if (extname(fileURLToPath(url)) !== '.ts') return { filename: url.href };
  return { filename: TYPESCRIPT_TASK_URL.href, workerData: { taskModule: url.href } };
}

export interface EnvelopePoolOptions {
  /** Worker threads, at least 1. */
  workers: number;
  /** Bodies smaller than this many octets are validated on the main thread. */
  minBytes: number;
  /** Bodies waiting for a worker; more go to the main thread. Twice `workers` by default. */
  maxQueue?: number;
  /** A task running longer than this is stopped, its worker replaced: 30 s by default. */
  timeoutMs?: number;
  logger?: Logger;
  /** Another worker module with the same default export, for tests. */
  workerUrl?: URL;
}

export class EnvelopePool {
  readonly #pool: Piscina<Uint8Array, EnvelopeOutcome>;
  readonly #minBytes: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;

  constructor(options: EnvelopePoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new RangeError(`an envelope pool needs at least 1 worker, got ${options.workers}`);
    }
    this.#minBytes = options.minBytes;
    this.#maxQueue = options.maxQueue ?? options.workers * 2;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#logger = options.logger;
    // Threads start with the first large body and stay while the server runs; idle
    // threads do not hold the process open.
    this.#pool = new Piscina({
      ...taskModule(options.workerUrl ?? WORKER_URL),
      minThreads: 0,
      maxThreads: options.workers,
      idleTimeout: 10 * 60_000,
      maxQueue: this.#maxQueue,
    });
    // A thread that fails to start is reported here too; its tasks fail on their own.
    this.#pool.on('error', (error: unknown) => {
      this.#logger?.error({ err: error }, 'envelope worker failed');
    });
  }

  /** Checks whether a body of `size` octets goes to a worker: large enough, and room in the queue. */
  takes(size: number): boolean {
    return size >= this.#minBytes && this.#pool.queueSize < this.#maxQueue;
  }

  /**
   * Parses and validates a body in a worker. The body's memory moves to the worker when it
   * owns it whole. A worker that fails or runs past the deadline is an `internal` error.
   */
  async validate(bytes: Uint8Array): Promise<EnvelopeOutcome> {
    const owned =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? bytes
        : new Uint8Array(bytes);
    // A timer of its own, cleared at the end, so a finished task leaves nothing behind.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#timeoutMs);
    try {
      return await this.#pool.run(owned, {
        transferList: [owned.buffer as ArrayBuffer],
        signal: deadline.signal,
      });
    } catch (error) {
      const timedOut = deadline.signal.aborted;
      this.#logger?.error(
        { err: error, bytes: bytes.byteLength, timedOut },
        'envelope worker failed',
      );
      throw new CairnError(
        'internal',
        timedOut
          ? `validating the request body took longer than ${this.#timeoutMs / 1000} s and was stopped: retry later or send fewer objects per request`
          : 'validating the request body failed on the server: retry later, and report it if it happens again',
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the threads; tasks still running fail. */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
