/**
 * The node-wide reader of new events: after each announcement it reads what was committed
 * since its last read, once for every subscriber, and hands each batch on. It also looks at
 * the log's bounds on a timer, so events written without an announcement (by `cairn
 * import`, or by another process on the same database) arrive within one poll interval.
 */
import type { EventNotifier } from '../events/notifier.ts';
import { WakeLoop } from '../events/wake-loop.ts';
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
  readonly #loop: WakeLoop;
  #position = 0;

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
    this.#loop = new WakeLoop(options.pollMs, () => this.#read());
  }

  /** The seq through which batches were delivered. */
  get position(): number {
    return this.#position;
  }

  /** Starts after the newest event committed now. */
  async start(): Promise<void> {
    this.#position = (await this.#store.eventBounds()).last;
    this.#loop.start({
      listen: () => this.#notifier.listen(() => this.wake()),
      tick: () => void this.#look(),
    });
  }

  /** Stops listening and polling, and waits for the read in progress. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Reads new events now, or again right after the read under way. */
  wake(): void {
    this.#loop.wake();
  }

  async #look(): Promise<void> {
    if (this.#loop.running || this.#loop.stopped) return;
    try {
      const { last } = await this.#store.eventBounds();
      if (last > this.#position) this.wake();
    } catch (error) {
      this.#logger.error({ err: error }, 'event log poll failed');
    }
  }

  /**
   * Reads and delivers the events after the position. It logs its own errors, because a run
   * of the wake loop must not reject.
   */
  async #read(): Promise<void> {
    try {
      if (this.#idle()) {
        const { last } = await this.#store.eventBounds();
        // A subscriber that came meanwhile starts at the old position: read for it.
        if (this.#idle()) {
          this.#position = Math.max(this.#position, last);
          return;
        }
      }
      for (;;) {
        const batch = await this.#store.readEvents({
          afterSeq: this.#position,
          limit: this.#options.batchSize,
        });
        if (batch.length === 0 || this.#loop.stopped) break;
        this.#position = batch.at(-1)!.seq;
        this.#deliver(batch, this.#position);
        if (batch.length < this.#options.batchSize) break;
        // The store returns at once, so without a pause a burst (a bulk `cairn import`) would
        // be read and handed on whole before any transport could write a byte of it.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // The next announcement or poll tries again from the same position.
      this.#logger.error({ err: error, position: this.#position }, 'event log read failed');
    }
  }
}
