/**
 * The streams of one node. The hub opens subscriptions (limits, scope checks, start
 * position) and feeds them from one EventPump. It sends heartbeats, checks every reader's
 * access again on a timer and after local access changes, and closes every stream when the
 * server stops.
 */
import { tokenAllows, type Caller } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import type { AccessChanges } from '../events/announcing-store.ts';
import { CursorCodec } from '../events/cursor.ts';
import { AccessLookups, EventReader, type EventFilter } from '../events/filter.ts';
import type { EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import { timestampToMicros } from '../stix/timestamp.ts';
import type { EventRecord, Store } from '../store/store.ts';
import { EventPump } from './pump.ts';
import {
  Subscription,
  type StartPosition,
  type StreamSink,
  type SubscriptionLimits,
} from './subscription.ts';
import { WireFormat } from './wire.ts';

export interface StreamSettings extends SubscriptionLimits {
  /** Time between heartbeats, in milliseconds. */
  heartbeatMs: number;
  /** Time between two checks of every reader's access, in milliseconds. */
  recheckMs: number;
  /** Open streams per token. */
  maxPerToken: number;
  /** Open streams per source address. */
  maxPerAddress: number;
  /** Time between two looks at the log's bounds when no announcement came, in milliseconds. */
  pollMs: number;
}

export const STREAM_DEFAULTS: StreamSettings = {
  heartbeatMs: 15_000,
  recheckMs: 5_000,
  maxPerToken: 10,
  maxPerAddress: 100,
  pollMs: 1_000,
  maxBufferBytes: 4 * 1024 * 1024,
  stallMs: 30_000,
  maxPendingEvents: 20_000,
  catchUpBatch: 500,
  closeTimeoutMs: 10_000,
};

/** How long a stream may take from its checks to its first byte before its slot is freed. */
const ATTACH_TIMEOUT_MS = 30_000;
/** Retry-After, in seconds, of a request rejected by a connection limit. */
export const LIMIT_RETRY_SECONDS = 10;
/**
 * Timer rounds check tokens and users each time, and rights (memberships, client relations,
 * charters) every this many rounds: rights cost a look-up per community and organisation,
 * and a change made through this server causes a full check at once anyway.
 */
const RIGHTS_EVERY_ROUNDS = 6;
/**
 * Longest run of the heartbeat and access check loops before they let other work run, in
 * milliseconds. Their steps resolve at once (the store is synchronous), so without a pause
 * a loop over thousands of subscriptions would hold up every delivery until it ends.
 */
const SLICE_MS = 2;

/** Returns a function that pauses for other work once SLICE_MS have passed since the last pause. */
function pacer(): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < SLICE_MS) return undefined;
    return new Promise((resolve) => {
      setImmediate(() => {
        since = performance.now();
        resolve();
      });
    });
  };
}

/** Access changes that come close together cause one check, after this delay. */
const RECHECK_DELAY_MS = 50;

export interface StreamRequest {
  caller: Caller;
  sourceAddress: string;
  filter: EventFilter;
  /** The `from` query parameter: a cursor, an RFC 3339 timestamp or `start`. */
  from?: string;
  /** The Last-Event-ID header, sent by EventSource clients when they reconnect. */
  lastEventId?: string;
}

export interface StreamHubDeps {
  store: Store;
  notifier: EventNotifier;
  accessChanges: AccessChanges;
  logger: Logger;
  codec: CursorCodec;
}

/**
 * An RFC 3339 date-time: `T` or `t` between date and time, an optional fraction, and `Z`,
 * `z` or a numeric offset. Hand-written because the STIX parser takes only the UTC form.
 */
const RFC3339 =
  /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Converts an RFC 3339 date-time to microseconds since the epoch (UTC), or undefined. */
export function rfc3339ToMicros(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [, date, time, sign, hours, minutes] = match;
  const local = timestampToMicros(`${date}T${time}Z`);
  if (local === undefined) return undefined;
  if (sign === undefined) return local;
  if (Number(hours) > 23 || Number(minutes) > 59) return undefined;
  const offset = (Number(hours) * 60 + Number(minutes)) * 60_000_000;
  // Local time is UTC plus the offset, so UTC is local time minus it.
  return sign === '+' ? local - offset : local + offset;
}

function badStart(text: string, parameter: string): CairnError {
  return new CairnError(
    'invalid-parameter',
    `${parameter} ${JSON.stringify(text.slice(0, 40))} is not a cursor of this server, an RFC 3339 timestamp such as 2024-05-01T10:00:00Z or "start"`,
  );
}

function foreignCursor(text: string): CairnError {
  return new CairnError(
    'invalid-parameter',
    `from ${JSON.stringify(text)} is a cursor of another server, or of this one before its cursor key changed, so it cannot be resumed here. ` +
      'Send a cursor this server sent, an RFC 3339 timestamp or "start", or leave from out to start with new events',
  );
}

function notFound(message: string): CairnError {
  return new CairnError('not-found', message);
}

export class StreamHub {
  readonly #deps: StreamHubDeps;
  readonly #settings: StreamSettings;
  readonly #wire: WireFormat;
  readonly #pump: EventPump;
  readonly #all = new Set<Subscription>();
  readonly #byCollection = new Map<string, Set<Subscription>>();
  readonly #byCommunity = new Map<string, Set<Subscription>>();
  /** Subscriptions to every collection the reader may read. */
  readonly #everything = new Set<Subscription>();
  /** Of #everything, those whose reader may read each collection. */
  readonly #readersOf = new Map<string, Set<Subscription>>();
  /** Of #everything, those whose rights on each collection are loaded, readable or not. */
  readonly #knowing = new Map<string, Set<Subscription>>();
  readonly #perToken = new Map<string, number>();
  readonly #perAddress = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  /** Subscriptions opened but not attached yet, with the timer that frees their slot. */
  readonly #attachTimers = new Map<Subscription, NodeJS.Timeout>();
  #unlisten: (() => void) | undefined;
  #recheckRunning = false;
  /** Access check rounds run by the timer so far. */
  #rounds = 0;
  #recheckAgain = false;
  #recheckRights = false;
  #recheckSoon: NodeJS.Timeout | undefined;
  #closed = false;
  /**
   * Collections, communities and relations read since the last access check round began.
   * Subscriptions load their rights through it, so a thousand readers of one community cost
   * one look-up. Each round starts a fresh one, so changes apply from the next round.
   */
  #lookups: AccessLookups;

  constructor(deps: StreamHubDeps, settings: Partial<StreamSettings> = {}) {
    this.#deps = deps;
    this.#settings = { ...STREAM_DEFAULTS, ...settings };
    this.#wire = new WireFormat(deps.codec);
    this.#lookups = new AccessLookups(deps.store);
    this.#pump = new EventPump(
      deps.store,
      deps.notifier,
      deps.logger,
      { batchSize: 1000, pollMs: this.#settings.pollMs },
      (batch) => this.#deliver(batch),
      () => this.#all.size === 0,
    );
  }

  get wire(): WireFormat {
    return this.#wire;
  }

  /** Open subscriptions, for tests and metrics. */
  get size(): number {
    return this.#all.size;
  }

  async start(): Promise<void> {
    await this.#pump.start();
    const heartbeat = setInterval(() => void this.#heartbeat(), this.#settings.heartbeatMs);
    const recheck = setInterval(() => {
      this.#rounds += 1;
      void this.recheck(this.#rounds % RIGHTS_EVERY_ROUNDS === 0);
    }, this.#settings.recheckMs);
    for (const timer of [heartbeat, recheck]) {
      timer.unref();
      this.#timers.push(timer);
    }
    this.#unlisten = this.#deps.accessChanges.listen(() => this.#scheduleRecheck());
  }

  /**
   * Checks a request and returns its subscription, counted against the limits, to attach to
   * a transport. Throws CairnError with the status of the response.
   */
  async open(request: StreamRequest): Promise<Subscription> {
    if (this.#closed) throw new CairnError('unavailable', 'the server is stopping');
    const { caller, sourceAddress } = request;
    if (!tokenAllows(caller.token, 'read')) {
      throw new CairnError(
        'forbidden',
        `this token's scopes (${caller.token.scopes.join(', ')}) do not include "read"`,
      );
    }
    this.#checkLimits(caller.token.id, sourceAddress);

    const reader = new EventReader(this.#deps.store, caller);
    // A fresh look-up: a stream opened right after a membership change must see it.
    const lookups = new AccessLookups(this.#deps.store);
    const problem = await this.#scopeProblem(reader, request.filter, lookups);
    if (problem !== undefined) throw notFound(problem);
    const start = await this.#startPosition(request);
    // The limits are checked again: other requests may have opened streams meanwhile.
    this.#checkLimits(caller.token.id, sourceAddress);

    const subscription = new Subscription(
      {
        store: this.#deps.store,
        wire: this.#wire,
        logger: this.#deps.logger,
        limits: this.#settings,
        pumpPosition: () => this.#pump.position,
        lookups: () => this.#lookups,
      },
      reader,
      request.filter,
      start,
    );
    this.#count(this.#perToken, caller.token.id, 1);
    this.#count(this.#perAddress, sourceAddress, 1);
    this.#all.add(subscription);
    const attachTimer = setTimeout(() => subscription.stop(), ATTACH_TIMEOUT_MS);
    attachTimer.unref();
    const opened = performance.now();
    subscription.onFinish(() => {
      clearTimeout(attachTimer);
      this.#attachTimers.delete(subscription);
      this.#count(this.#perToken, caller.token.id, -1);
      this.#count(this.#perAddress, sourceAddress, -1);
      this.#all.delete(subscription);
      this.#unindex(subscription);
      this.#deps.logger.info(
        {
          subscription: subscription.id,
          userId: caller.user.id,
          seconds: Math.round((performance.now() - opened) / 100) / 10,
        },
        'stream ended',
      );
    });
    this.#attachTimers.set(subscription, attachTimer);
    this.#deps.logger.info(
      {
        subscription: subscription.id,
        userId: caller.user.id,
        tokenId: caller.token.id,
        sourceAddress,
        filter: request.filter,
        start: start.kind,
        ...(start.kind === 'resync' ? { resyncReason: start.reason } : {}),
      },
      'stream opened',
    );
    return subscription;
  }

  /** Starts a subscription on its transport and feeds it from the pump. */
  attach(subscription: Subscription, sink: StreamSink): void {
    clearTimeout(this.#attachTimers.get(subscription));
    this.#attachTimers.delete(subscription);
    if (subscription.closing || !this.#all.has(subscription)) {
      sink.destroy();
      return;
    }
    // Registration and the start position are taken in one step (see Subscription.attach).
    this.#index(subscription);
    subscription.attach(sink);
  }

  #checkLimits(tokenId: string, sourceAddress: string): void {
    const { maxPerToken, maxPerAddress } = this.#settings;
    if ((this.#perToken.get(tokenId) ?? 0) >= maxPerToken) {
      throw new CairnError(
        'too-many-requests',
        `this token already has ${maxPerToken} open streams, the maximum: close one, or use another token`,
      );
    }
    if ((this.#perAddress.get(sourceAddress) ?? 0) >= maxPerAddress) {
      throw new CairnError(
        'too-many-requests',
        `address ${sourceAddress} already has ${maxPerAddress} open streams, the maximum: close one first`,
      );
    }
  }

  #count(counts: Map<string, number>, key: string, change: number): void {
    const value = (counts.get(key) ?? 0) + change;
    if (value > 0) counts.set(key, value);
    else counts.delete(key);
  }

  /** Returns the reason the reader may not open a stream with this filter, if any. */
  async #scopeProblem(
    reader: EventReader,
    filter: EventFilter,
    lookups: AccessLookups,
  ): Promise<string | undefined> {
    if (filter.collections) {
      await reader.load(filter.collections, lookups);
      const hidden = filter.collections.find((id) => !reader.rights(id).canRead);
      if (hidden !== undefined) return `collection "${hidden}" not found`;
    }
    const communityId = filter.communityId;
    if (communityId === undefined) return undefined;
    const community = await lookups.community(communityId);
    const { user } = reader.caller;
    if (community !== undefined) {
      if (user.role === 'platform-admin') return undefined;
      const relation = await lookups.relation(communityId, user.organisationId);
      if (relation.member || relation.client || community.publishClear) return undefined;
    }
    return `community "${communityId}" not found`;
  }

  async #startPosition(request: StreamRequest): Promise<StartPosition> {
    const { store, codec } = this.#deps;
    const fromHeader = request.lastEventId !== undefined && request.lastEventId !== '';
    const text = fromHeader ? request.lastEventId! : request.from;
    if (text === undefined || text === '') return { kind: 'live' };

    const bounds = await store.eventBounds();
    let seq: number | undefined;
    if (text === 'start') {
      if (bounds.first > 1) return { kind: 'resync', reason: 'from-start-pruned' };
      return { kind: 'after', seq: 0 };
    }
    const parameter = fromHeader ? 'Last-Event-ID' : 'from';
    const reading = codec.read(text);
    if (reading.kind === 'cursor') {
      seq = reading.seq;
    } else if (reading.kind === 'foreign') {
      // A browser EventSource treats any status but 200 as final and stops reconnecting, so
      // a reconnect with another server's cursor (after a move to a new deployment, say)
      // resyncs. A client that sent the cursor in `from` chose it, so it gets a 400 with the
      // reason.
      if (!fromHeader) throw foreignCursor(text);
      return { kind: 'resync', reason: 'cursor-unknown' };
    } else {
      const at = rfc3339ToMicros(text);
      if (at === undefined) throw badStart(text, parameter);
      seq = await store.eventSeqBefore(at);
    }
    if (seq === undefined || seq > bounds.last) return { kind: 'resync', reason: 'cursor-unknown' };
    if (seq < bounds.first - 1) return { kind: 'resync', reason: 'cursor-pruned' };
    return { kind: 'after', seq };
  }

  #index(subscription: Subscription): void {
    const { filter } = subscription;
    if (filter.collections) {
      for (const id of filter.collections) add(this.#byCollection, id, subscription);
    } else if (filter.communityId !== undefined) {
      add(this.#byCommunity, filter.communityId, subscription);
    } else {
      this.#everything.add(subscription);
      subscription.reader.onRights((collectionId, rights) => {
        if (!this.#everything.has(subscription)) return;
        add(this.#knowing, collectionId, subscription);
        if (rights.canRead) add(this.#readersOf, collectionId, subscription);
        else remove(this.#readersOf, collectionId, subscription);
      });
    }
  }

  #unindex(subscription: Subscription): void {
    const { filter } = subscription;
    for (const id of filter.collections ?? []) remove(this.#byCollection, id, subscription);
    if (filter.communityId !== undefined) {
      remove(this.#byCommunity, filter.communityId, subscription);
    }
    if (this.#everything.delete(subscription)) {
      for (const id of subscription.reader.knownCollections()) {
        remove(this.#knowing, id, subscription);
        remove(this.#readersOf, id, subscription);
      }
    }
  }

  /**
   * Offers a batch to the subscriptions it may concern. The others move past it when they
   * next send a heartbeat (see Subscription.heartbeat), which saves a pass over every
   * subscription per batch.
   */
  #deliver(batch: EventRecord[]): void {
    const targets = new Set<Subscription>();
    const collections = new Set<string>();
    const communities = new Set<string>();
    for (const event of batch) {
      collections.add(event.collectionId);
      if (event.communityId !== undefined) communities.add(event.communityId);
    }
    for (const id of collections) {
      for (const subscription of this.#byCollection.get(id) ?? []) targets.add(subscription);
      // Streams of everything readable get the batches of collections they may read, and
      // of those whose rights they have not loaded yet, which they load when offered.
      for (const subscription of this.#readersOf.get(id) ?? []) targets.add(subscription);
      const knowing = this.#knowing.get(id);
      if ((knowing?.size ?? 0) < this.#everything.size) {
        for (const subscription of this.#everything) {
          if (!knowing?.has(subscription)) targets.add(subscription);
        }
      }
    }
    for (const id of communities) {
      for (const subscription of this.#byCommunity.get(id) ?? []) targets.add(subscription);
    }
    for (const subscription of targets) subscription.offer(batch);
  }

  async #heartbeat(): Promise<void> {
    const pause = pacer();
    for (const subscription of [...this.#all]) {
      subscription.heartbeat();
      await pause();
    }
  }

  #scheduleRecheck(): void {
    if (this.#recheckSoon !== undefined || this.#closed) return;
    this.#recheckSoon = setTimeout(() => {
      this.#recheckSoon = undefined;
      void this.recheck();
    }, RECHECK_DELAY_MS);
    this.#recheckSoon.unref();
  }

  /**
   * Checks every reader's token and user again, and with `rights` also its rights, and ends
   * the streams of readers who may no longer read them. Changes made by other processes are
   * seen here, on the timer.
   */
  async recheck(rights = true): Promise<void> {
    if (this.#recheckRunning) {
      this.#recheckAgain = true;
      this.#recheckRights ||= rights;
      return;
    }
    this.#recheckRunning = true;
    this.#recheckRights = rights;
    try {
      do {
        this.#recheckAgain = false;
        const full = this.#recheckRights;
        this.#recheckRights = false;
        if (full) this.#lookups = new AccessLookups(this.#deps.store);
        const lookups = this.#lookups;
        const pause = pacer();
        for (const subscription of [...this.#all]) {
          await pause();
          if (subscription.closing) continue;
          const end = await subscription.reader.refresh(lookups, full);
          if (end !== undefined) {
            subscription.close(end);
            continue;
          }
          if (!full) continue;
          const problem = await this.#scopeProblem(
            subscription.reader,
            subscription.filter,
            lookups,
          );
          if (problem !== undefined) subscription.close('access-revoked');
        }
      } while (this.#recheckAgain && !this.#closed);
    } catch (error) {
      this.#deps.logger.error({ err: error }, 'stream access check failed');
    } finally {
      this.#recheckRunning = false;
    }
  }

  /** Ends every stream with a final message that carries its cursor, then stops the pump. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#recheckSoon);
    this.#unlisten?.();
    await this.#pump.stop();
    const open = [...this.#all];
    for (const subscription of open) subscription.close('server-stopping');
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((subscription) => subscription.done)),
      new Promise((resolve) => (timeout = setTimeout(resolve, 2_000))),
    ]);
    clearTimeout(timeout);
    for (const subscription of open) subscription.stop();
  }
}

function add(index: Map<string, Set<Subscription>>, key: string, value: Subscription): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function remove(index: Map<string, Set<Subscription>>, key: string, value: Subscription): void {
  const set = index.get(key);
  set?.delete(value);
  if (set?.size === 0) index.delete(key);
}
