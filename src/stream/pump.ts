/**
 * The node-wide reader of new events: after each announcement it reads what was committed
 * since its last read, once for every subscriber, and hands each batch on. It also looks at
 * the log's bounds on a timer, so events written without an announcement (by `cairn
 * import`, or by another process on the same database) arrive within one poll interval.
 */
import type { EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import type { EventRecord, Store } from '../store/store.ts';

export interface PumpOptions {
  /** Events read per store call. */
  batchSize: number;
  /** Time between two looks at the log's bounds, in milliseconds. */
  pollMs: number;
}

export class EventPump {
  readonly #store: Store;
  readonly #notifier: EventNotifier;
  readonly #logger: Logger;
  readonly #options: PumpOptions;
  readonly #deliver: (batch: EventRecord[], position: number) => void;
  readonly #idle: () => boolean;
  #position = 0;
  #running = false;
  #again = false;
  #stopped = false;
  #unlisten: (() => void) | undefined;
  #poll: NodeJS.Timeout | undefined;
  #reading: Promise<void> = Promise.resolve();

  /**
   * `deliver` gets each batch after `position` has moved to its last event. While `idle`
   * returns true (no subscriber), the pump moves its position without reading events.
   */
  constructor(
    store: Store,
    notifier: EventNotifier,
    logger: Logger,
    options: PumpOptions,
    deliver: (batch: EventRecord[], position: number) => void,
    idle: () => boolean,
  ) {
    this.#store = store;
    this.#notifier = notifier;
    this.#logger = logger;
    this.#options = options;
    this.#deliver = deliver;
    this.#idle = idle;
  }

  /** The seq through which batches were delivered. */
  get position(): number {
    return this.#position;
  }

  /** Starts after the newest event committed now. */
  async start(): Promise<void> {
    this.#position = (await this.#store.eventBounds()).last;
    this.#unlisten = this.#notifier.listen(() => this.wake());
    this.#poll = setInterval(() => void this.#look(), this.#options.pollMs);
    this.#poll.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unlisten?.();
    clearInterval(this.#poll);
    await this.#reading;
  }

  /** Reads new events now, or again right after the read under way. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#reading = this.#run();
  }

  async #look(): Promise<void> {
    if (this.#running || this.#stopped) return;
    try {
      const { last } = await this.#store.eventBounds();
      if (last > this.#position) this.wake();
    } catch (error) {
      this.#logger.error({ err: error }, 'event log poll failed');
    }
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#again = false;
        if (this.#idle()) {
          const { last } = await this.#store.eventBounds();
          // A subscriber that came meanwhile starts at the old position: read for it.
          if (this.#idle()) {
            this.#position = Math.max(this.#position, last);
            continue;
          }
        }
        for (;;) {
          const batch = await this.#store.readEvents({
            afterSeq: this.#position,
            limit: this.#options.batchSize,
          });
          if (batch.length === 0 || this.#stopped) break;
          this.#position = batch.at(-1)!.seq;
          this.#deliver(batch, this.#position);
          if (batch.length < this.#options.batchSize) break;
          // The store returns at once, so without a pause a burst (a bulk `cairn import`) would
          // be read and handed on whole before any transport could write a byte of it.
          await new Promise((resolve) => setImmediate(resolve));
        }
      } while (this.#again && !this.#stopped);
    } catch (error) {
      // The next announcement or poll tries again from the same position.
      this.#logger.error({ err: error, position: this.#position }, 'event log read failed');
    } finally {
      this.#running = false;
    }
  }
}
