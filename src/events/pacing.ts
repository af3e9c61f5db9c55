/**
 * Lets background readers of the event log give way to the writes of this process. The
 * correlation indexer and the value index of the bulk look-up cost more CPU per event than
 * storing it, and they share the event loop with the HTTP server. While clients write, they
 * wait, so the writes keep the loop, and they catch up when the writes pause. They never fall
 * further behind than `maxLagMs`: a reader whose oldest unread event is that old reads on at
 * once. Readers that promise low latency, such as the watch follower, the streams and the
 * webhooks, do not use the pacer.
 *
 * The process counts as busy while both hold: it committed events within the last `quietMs`
 * (see EventFeed.lastCommitMs), and its event loop was busy for at least `busyUtilisation`
 * of that time. The second condition keeps a trickle of small writes on an idle server from
 * holding the readers back.
 *
 * Readers that catch up beyond the events in memory also move in a convoy. One whose next
 * read would go to the store waits while another reader is more than `convoyEvents` behind
 * it. So one of them reads each event from the store into the feed, and the other reads it
 * from memory, parsed once (see eventObject).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { nowMicros } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';
import { withReadEvents, type EventFeed } from './feed.ts';

export interface PacingOptions {
  /** Time since the last commit of this process after which writes count as paused (ms). */
  quietMs: number;
  /** Share of time the event loop must be busy for the process to count as busy (0 to 1). */
  busyUtilisation: number;
  /** Age of a reader's oldest unread event at which it stops giving way (ms). */
  maxLagMs: number;
  /** How many events a reader catching up may run ahead of a slower one. */
  convoyEvents: number;
  /**
   * Time after which a reader position that has not moved stops holding others back,
   * because the reader may have stopped, failed or gone to run on another node (ms).
   */
  stalledMs: number;
}

/** A reader and the seq it reads after, for the convoy. */
export interface ReaderPosition {
  name: string;
  afterSeq: number;
}

/** How often a reader ahead of the convoy checks whether it may go on (ms). */
const CONVOY_POLL_MS = 20;

/**
 * A TAXII client that posts envelopes of 1,000 objects back to back commits every 30 to 300 ms
 * (docs/benchmarks.md, the slower figures on a loaded machine), well within `quietMs`, so it
 * keeps the readers waiting. Once the writes stop, the readers go on within about a second.
 * A burst of writes keeps the loop for at most a minute before they take their share again.
 */
export const PACING_DEFAULTS: PacingOptions = {
  quietMs: 1_000,
  busyUtilisation: 0.5,
  maxLagMs: 60_000,
  // Below the feed's room for a shared run (EVENT_FEED_DEFAULTS), with a 5,000-event page.
  convoyEvents: 4_000,
  stalledMs: 5_000,
};

export class BackgroundPacer {
  readonly #feed: EventFeed;
  readonly #options: PacingOptions;
  /** The event loop figures at the start of the current measuring window. */
  #mark: EventLoopUtilization = performance.eventLoopUtilization();
  /** The event loop utilisation of the last full window. */
  #utilisation = 0;
  /** Aborted by stop(), which ends the pending waits at once. */
  readonly #stopping = new AbortController();
  /** The last reported position of each reader, and when it last moved (performance.now()). */
  readonly #positions = new Map<string, { afterSeq: number; movedMs: number }>();

  constructor(feed: EventFeed, options: Partial<PacingOptions> = {}) {
    this.#feed = feed;
    this.#options = { ...PACING_DEFAULTS, ...options };
  }

  /**
   * Resolves when a reader whose oldest unread event was committed at `nextAt` (microseconds)
   * may go on. While the process is not busy, that is after one turn of the event loop. Else
   * it is once the process is no longer busy or the event has become `maxLagMs` old.
   */
  async turn(nextAt: number): Promise<void> {
    const { quietMs, maxLagMs } = this.#options;
    // A reader whose store returns at once would otherwise run batch after batch in
    // microtasks, and requests that arrived meanwhile would wait for its whole backlog.
    await new Promise((resolve) => setImmediate(resolve));
    for (;;) {
      if (this.#stopping.signal.aborted) return;
      const lagMs = (nowMicros() - nextAt) / 1000;
      if (lagMs >= maxLagMs || !this.#busy()) return;
      await this.#sleep(Math.min(quietMs, maxLagMs - lagMs));
    }
  }

  /** Records where a reader goes on reading, so readers ahead of it can wait for it. */
  report(name: string, afterSeq: number): void {
    const known = this.#positions.get(name);
    if (known?.afterSeq === afterSeq) return;
    this.#positions.set(name, { afterSeq, movedMs: performance.now() });
  }

  /**
   * Resolves once the reader's next read is in memory or no moving reader lags far behind it
   * (see the file header). Call it before reading anything after the position.
   */
  async convoy(reader: ReaderPosition): Promise<void> {
    while (!this.#stopping.signal.aborted && this.#ahead(reader)) {
      await this.#sleep(CONVOY_POLL_MS);
    }
  }

  /**
   * Returns a Store whose readEvents report the position of `name`, wait for the convoy, and
   * wait for their turn before they return events.
   */
  wrap(store: Store, name: string): Store {
    return withReadEvents(store, async (query) => {
      const reader = { name, afterSeq: query.afterSeq };
      this.report(name, query.afterSeq);
      await this.convoy(reader);
      const events = await store.readEvents(query);
      if (events.length > 0) await this.turn(events[0]!.at);
      return events;
    });
  }

  /** Ends every wait, and lets every later turn go at once. */
  stop(): void {
    this.#stopping.abort();
  }

  #ahead(reader: ReaderPosition): boolean {
    if (this.#feed.has(reader.afterSeq)) return false;
    const now = performance.now();
    for (const [name, position] of this.#positions) {
      if (name === reader.name || now - position.movedMs > this.#options.stalledMs) continue;
      if (reader.afterSeq - position.afterSeq > this.#options.convoyEvents) return true;
    }
    return false;
  }

  #busy(): boolean {
    const { quietMs, busyUtilisation } = this.#options;
    if (performance.now() - this.#feed.lastCommitMs > quietMs) return false;
    const window = performance.eventLoopUtilization(this.#mark);
    if (window.idle + window.active >= quietMs) {
      this.#utilisation = window.utilization;
      this.#mark = performance.eventLoopUtilization();
    }
    return this.#utilisation >= busyUtilisation;
  }

  /** Waits `ms`, or until stop(). */
  async #sleep(ms: number): Promise<void> {
    const signal = this.#stopping.signal;
    try {
      await sleep(ms, undefined, { signal });
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }
}
