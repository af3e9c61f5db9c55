/**
 * One subscriber of the event log, whatever its transport: where it is in the log, what it
 * may see, and the bounded queue of messages on their way to the client.
 *
 * A subscription starts by catching up from the store on its own, while the node's pump
 * offers it the batches it reads from then on. Offered batches wait until the catch-up is
 * done, and every event at or below the position already examined is skipped, so the
 * subscriber joins the live events without a gap or a duplicate.
 *
 * Two positions are kept. `examined` is the seq of the last event looked at, delivered or
 * not. `committed` is the position up to which every message has been handed to the
 * transport: the cursor a client may resume from if the queued messages are dropped.
 */
import { matchesFilter, matchesScope } from '../events/filter.ts';
import type { AccessLookups, EventFilter, EventReader } from '../events/filter.ts';
import type { Logger } from '../log/logger.ts';
import type { EventRecord, Store } from '../store/store.ts';
import { replayState, streamCollections } from './replay.ts';
import type { CloseReason, ResyncReason, StreamMessage, WireFormat } from './wire.ts';

/** A transport that carries one subscription's messages to its client. */
export interface StreamSink {
  /** Encodes a message for this transport. */
  encode(message: StreamMessage): string;
  /**
   * Writes encoded messages in order; resolves when the transport accepted them, which is
   * how it pushes back.
   */
  write(messages: string[]): Promise<void>;
  /** Ends the stream after what was written. */
  end(): void;
  /** Drops the connection now. */
  destroy(): void;
}

export interface SubscriptionLimits {
  /**
   * Encoded messages queued for a client, in bytes. Past half of it the subscription waits
   * for the transport before it queues more.
   */
  maxBufferBytes: number;
  /**
   * How long the transport may accept nothing while messages wait for it, in milliseconds,
   * before the client counts as a slow consumer and is closed.
   */
  stallMs: number;
  /** Live events held while the subscription catches up; past this it re-reads the store. */
  maxPendingEvents: number;
  /** Events read from the store per catch-up step. */
  catchUpBatch: number;
  /** How long the final message of a closing stream may take to leave, in milliseconds. */
  closeTimeoutMs: number;
}

/** The start position of a subscription. */
export type StartPosition =
  { kind: 'live' } | { kind: 'after'; seq: number } | { kind: 'resync'; reason: ResyncReason };

export interface SubscriptionDeps {
  store: Store;
  wire: WireFormat;
  logger: Logger;
  limits: SubscriptionLimits;
  /** The seq through which the pump has offered batches. */
  pumpPosition(): number;
  /** The look-ups of the current access check round, shared by every subscription. */
  lookups(): AccessLookups;
}

interface Queued {
  text: string;
  /** The position this message completes; undefined for messages that complete none. */
  after?: number;
}

let nextId = 1;

export class Subscription {
  readonly id = nextId++;
  readonly reader: EventReader;
  readonly filter: EventFilter;
  readonly #deps: SubscriptionDeps;
  readonly #start: StartPosition;
  #sink: StreamSink | undefined;

  #examined = 0;
  #committed = 0;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #writing = false;
  /** When the transport last accepted a write, or the queue last started to fill. */
  #lastAccepted = performance.now();
  #drainWaiters: Array<() => void> = [];

  #pending: EventRecord[][] = [];
  #pendingCount = 0;
  #needCatchUp = false;
  #started = false;
  #running = false;

  #closing: CloseReason | 'client-closed' | undefined;
  #finished = false;
  #closeTimer: NodeJS.Timeout | undefined;
  readonly #finish: { promise: Promise<void>; resolve: () => void };
  readonly #onFinish: Array<() => void> = [];

  constructor(
    deps: SubscriptionDeps,
    reader: EventReader,
    filter: EventFilter,
    start: StartPosition,
  ) {
    this.#deps = deps;
    this.reader = reader;
    this.filter = filter;
    this.#start = start;
    let resolve!: () => void;
    const promise = new Promise<void>((done) => (resolve = done));
    this.#finish = { promise, resolve };
  }

  /** Settles when the subscription has ended and its transport was ended or dropped. */
  get done(): Promise<void> {
    return this.#finish.promise;
  }

  get examined(): number {
    return this.#examined;
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Calls `listener` once when the subscription ends. */
  onFinish(listener: () => void): void {
    if (this.#finished) listener();
    else this.#onFinish.push(listener);
  }

  /**
   * Starts sending to a transport. The position of a live start is taken here, in the same
   * step in which the caller registers the subscription with the pump, so no batch falls
   * between the two.
   */
  attach(sink: StreamSink): void {
    this.#sink = sink;
    if (this.#start.kind === 'live') this.#examined = this.#deps.pumpPosition();
    if (this.#start.kind === 'after') this.#examined = this.#start.seq;
    this.#committed = this.#examined;
    void this.#run();
  }

  /** Takes a batch the pump read; it is processed after whatever came before it. */
  offer(batch: EventRecord[]): void {
    if (this.#closing !== undefined) return;
    if (this.#pendingCount + batch.length > this.#deps.limits.maxPendingEvents) {
      // Rather than hold more, read these events from the store once the backlog is done.
      this.#pending = [];
      this.#pendingCount = 0;
      this.#needCatchUp = true;
    } else {
      this.#pending.push(batch);
      this.#pendingCount += batch.length;
    }
    void this.#run();
  }

  /**
   * Moves an idle subscription to the pump's position. The pump offers a subscription every
   * batch that concerns it, so when no batch waits, the events up to that position were
   * either examined or of other collections. Heartbeats then carry a cursor that resumes
   * without reading those events again.
   */
  #advance(): void {
    if (!this.#started || this.#running || this.#closing !== undefined) return;
    if (this.#pending.length > 0 || this.#needCatchUp) return;
    this.#skipTo(this.#deps.pumpPosition());
  }

  /** Queues a heartbeat with the cursor of the last event examined, when nothing is queued. */
  heartbeat(): void {
    if (this.#sink === undefined || this.#closing !== undefined || this.#queue.length > 0) return;
    this.#advance();
    const cursor = this.#deps.wire.codec.encode(this.#examined, true);
    this.#enqueue({ type: 'heartbeat', cursor }, this.#examined);
  }

  /**
   * Ends the stream with a final `closed` message that carries the cursor to resume from.
   * A slow consumer's queued messages are dropped, so its cursor is the committed position.
   * Other streams send their queue first, and their cursor is the position examined.
   */
  close(reason: CloseReason): void {
    if (this.#closing !== undefined || this.#finished) return;
    this.#advance();
    this.#closing = reason;
    if (this.#sink === undefined) {
      this.#end(true);
      return;
    }
    this.#pending = [];
    if (reason === 'slow-consumer') {
      this.#queue = [];
      this.#queuedBytes = 0;
    }
    const cursor = reason === 'slow-consumer' ? this.#committed : this.#examined;
    this.#deps.logger.info(
      { subscription: this.id, reason, userId: this.reader.caller.user.id },
      'stream closed by the server',
    );
    this.#wakeDrainWaiters();
    this.#queue.push({ text: this.#encode({ type: 'closed', reason, cursor: '' }, cursor) });
    this.#closeTimer = setTimeout(() => this.#end(true), this.#deps.limits.closeTimeoutMs);
    this.#closeTimer.unref();
    void this.#flush();
  }

  /** Stops at once, because the client went away. */
  stop(): void {
    if (this.#finished) return;
    this.#closing ??= 'client-closed';
    this.#end(true);
  }

  #encode(message: StreamMessage, cursorSeq?: number): string {
    if (message.type === 'closed' && cursorSeq !== undefined) {
      message = { ...message, cursor: this.#deps.wire.codec.encode(cursorSeq, true) };
    }
    return this.#sink!.encode(message);
  }

  /**
   * Queues a message. Events wait for room first (see #drained), so the queue stays near
   * half its limit however many events come at once.
   */
  #enqueue(message: StreamMessage, after?: number): void {
    if (this.#closing !== undefined || this.#sink === undefined) return;
    const text = this.#encode(message);
    if (!this.#writing && this.#queue.length === 0) this.#lastAccepted = performance.now();
    this.#queue.push(after === undefined ? { text } : { text, after });
    this.#queuedBytes += text.length;
    void this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#writing || this.#sink === undefined || this.#finished) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#finished) {
        const items = this.#queue;
        this.#queue = [];
        this.#queuedBytes = 0;
        for (const item of items) if (item.after !== undefined) this.#committed = item.after;
        await this.#sink.write(items.map((item) => item.text));
        this.#lastAccepted = performance.now();
        this.#wakeDrainWaiters();
      }
    } finally {
      this.#writing = false;
    }
    if (this.#closing !== undefined && this.#queue.length === 0) this.#end(false);
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Waits until the queue is below half its limit, so it overflows by one message at most.
   * A client that is merely behind keeps accepting writes and is waited for; one whose
   * transport accepts nothing for `stallMs` is closed as a slow consumer. Live batches that
   * come meanwhile wait in #pending, or past its limit are read again from the store.
   */
  async #drained(): Promise<void> {
    const { maxBufferBytes, stallMs } = this.#deps.limits;
    while (this.#queuedBytes > maxBufferBytes / 2 && this.#closing === undefined) {
      const left = this.#lastAccepted + stallMs - performance.now();
      if (left <= 0) {
        this.close('slow-consumer');
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#drainWaiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  #end(drop: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#closeTimer);
    this.#pending = [];
    this.#queue = [];
    this.#wakeDrainWaiters();
    if (this.#sink !== undefined) {
      if (drop) this.#sink.destroy();
      else this.#sink.end();
    }
    for (const listener of this.#onFinish.splice(0)) listener();
    this.#finish.resolve();
  }

  async #run(): Promise<void> {
    if (this.#running || this.#sink === undefined) return;
    this.#running = true;
    try {
      if (!this.#started) {
        await this.#startUp();
        this.#started = true;
      }
      while (this.#closing === undefined) {
        if (this.#needCatchUp) {
          this.#needCatchUp = false;
          await this.#catchUp();
          continue;
        }
        const batch = this.#pending.shift();
        if (batch === undefined) break;
        this.#pendingCount -= batch.length;
        await this.#process(batch);
      }
    } catch (error) {
      this.#deps.logger.error(
        { err: error, subscription: this.id, examined: this.#examined },
        'stream failed',
      );
      this.close('server-error');
    } finally {
      this.#running = false;
    }
  }

  async #startUp(): Promise<void> {
    if (this.#start.kind === 'resync') await this.#resync(this.#start.reason);
    if (this.#start.kind !== 'live') await this.#catchUp();
  }

  /** Sends the current state of the visible collections, then resumes after it. */
  async #resync(reason: ResyncReason): Promise<void> {
    const { store } = this.#deps;
    this.#enqueue({ type: 'resync', reason });
    // Events after this position follow the replay, so changes made while it runs may come
    // twice (in the replay and as events) but never go missing.
    const position = (await store.eventBounds()).last;
    const lookups = this.#deps.lookups();
    const collections = await streamCollections(store, this.reader, this.filter, lookups);
    for await (const item of replayState(store, this.reader, collections, this.filter, lookups)) {
      if (this.#closing !== undefined) return;
      await this.#drained();
      this.#enqueue({ type: 'replay', item });
    }
    this.#examined = position;
    this.#enqueue({ type: 'replayed', cursor: this.#deps.wire.codec.encode(position) }, position);
  }

  /** The collections to read while catching up; undefined for all. */
  async #catchUpCollections(): Promise<string[] | undefined> {
    if (this.filter.collections) return this.filter.collections;
    if (this.filter.communityId === undefined) return undefined;
    const owned = await this.#deps.store.listCommunityCollections(this.filter.communityId);
    return owned.map((collection) => collection.id);
  }

  /** Reads the store from the examined position up to its newest event. */
  async #catchUp(): Promise<void> {
    const { store, limits } = this.#deps;
    const collectionIds = await this.#catchUpCollections();
    while (this.#closing === undefined) {
      await this.#drained();
      // The store answers at once; a pause per step lets other streams and requests run.
      await new Promise((resolve) => setImmediate(resolve));
      const bounds = await store.eventBounds();
      if (bounds.first > this.#examined + 1 && this.#examined < bounds.last) {
        await this.#resync('cursor-pruned');
        continue;
      }
      const events = await store.readEvents({
        afterSeq: this.#examined,
        limit: limits.catchUpBatch,
        ...(collectionIds ? { collectionIds } : {}),
      });
      await this.#process(events);
      if (events.length < limits.catchUpBatch) {
        // A filtered read returns fewer than a batch only at the end of the log, so the
        // events of other collections up to the bounds read before it are examined too.
        this.#skipTo(bounds.last);
        return;
      }
    }
  }

  #skipTo(seq: number): void {
    if (seq <= this.#examined) return;
    this.#examined = seq;
    if (this.#queue.length === 0) this.#committed = seq;
  }

  /** Sends what the reader may receive of each event newer than the position examined. */
  async #process(events: EventRecord[]): Promise<void> {
    const { reader, filter } = this;
    for (const event of events) {
      if (this.#closing !== undefined) return;
      if (event.seq <= this.#examined) continue;
      if (matchesScope(filter, event)) {
        if (!reader.knows(event.collectionId)) {
          await reader.load([event.collectionId], this.#deps.lookups());
        }
        let view = reader.view(event);
        if (view instanceof Promise) view = await view;
        if (view !== undefined && (view.leftView || matchesFilter(filter, event))) {
          if (this.#queuedBytes > this.#deps.limits.maxBufferBytes / 2) {
            await this.#drained();
            if (this.#closing !== undefined) return;
          }
          this.#enqueue({ type: 'event', view }, event.seq);
        }
      }
      this.#skipTo(event.seq);
    }
  }
}
