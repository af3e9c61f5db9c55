/**
 * Sends due deliveries. Each webhook has a lane that claims at most `concurrencyPerEndpoint`
 * of its deliveries at a time, so a receiver that hangs occupies its own lane only and
 * never delays the others. Claims go through the store (claimDocuments), so across a
 * cluster each attempt is made by one node. A node that dies mid-attempt leaves the
 * delivery due again when its lease ends, which makes delivery at-least-once.
 */
import type { Logger } from '../log/logger.ts';
import { microsToTaxii, nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type DocumentRecord, type Store } from '../store/store.ts';
import { AlertAudience } from './alert-audience.ts';
import { alertPayload } from './alert-dispatcher.ts';
import { AudienceCheck } from './audience.ts';
import { loadWebhooks, type SlotReservation } from './dispatcher.ts';
import {
  deliveryKind,
  HISTORY_LENGTH,
  WEBHOOK_KIND,
  type AttemptRecord,
  type DeliveryBody,
  type WebhookBody,
} from './records.ts';
import {
  deadLetterPruneInterval,
  pruneDeadLetters,
  pruneFinished,
  PRUNE_EVERY,
} from './retention.ts';
import type { AttemptOutcome, WebhookSender } from './sender.ts';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
  TIMESTAMP_HEADER,
} from './signature.ts';

export interface WorkerOptions {
  /** Requests in flight to one webhook at most. */
  concurrencyPerEndpoint: number;
  /** Deadline of one request, in milliseconds. */
  timeoutMs: number;
  /** Bytes of a response body read at most. */
  maxResponseBytes: number;
  /** Attempts before a delivery becomes a dead letter. */
  maxAttempts: number;
  /** Backoff: the cap of the first retry delay, doubled on each later retry (ms). */
  baseDelayMs: number;
  /** Backoff: the largest retry delay (ms). */
  maxDelayMs: number;
  /** How often an idle lane looks for due deliveries made on other nodes (ms). */
  pollMs: number;
  /** How often the list of webhooks is reread, for webhooks made on other nodes (ms). */
  refreshMs: number;
  /** Delivered deliveries and failed pings kept per webhook for the delivery log. */
  keepFinished: number;
  /** Dead letters kept per webhook; older ones are deleted (see retention.ts). */
  maxDeadLetters: number;
  /** Source of randomness for the backoff jitter, in [0, 1). */
  random: () => number;
}

/** Extra lease time beyond the request deadline, for the store writes around a send. */
const LEASE_MARGIN_MS = 30_000;

/**
 * Computes the retry delay after `attempts` failed attempts, in milliseconds: exponential
 * backoff with full jitter, a uniform draw between 0 and
 * min(maxDelayMs, baseDelayMs * 2^(attempts - 1)).
 */
export function retryDelayMs(attempts: number, options: WorkerOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempts - 1));
  return Math.floor(options.random() * ceiling);
}

/** Builds the JSON body a receiver gets for a delivery. */
export function deliveryPayload(deliveryId: string, body: DeliveryBody, json?: string): string {
  const event = body.event;
  if (event === undefined) {
    return JSON.stringify({
      deliveryId,
      kind: 'ping',
      at: microsToTaxii(body.createdAt),
      webhookId: body.webhookId,
    });
  }
  // The object is spliced in as stored text, so the receiver gets it byte for byte.
  const head = JSON.stringify({
    deliveryId,
    eventId: body.eventId,
    kind: body.kind,
    at: microsToTaxii(event.at),
    collection: event.collectionId,
    ...(event.communityId === undefined ? {} : { community: event.communityId }),
    objectId: event.objectId,
    objectType: event.objectType,
    version: event.version,
  });
  return `${head.slice(0, -1)},"object":${json ?? 'null'}}`;
}

/** Builds the signed headers of one request. */
export function signedHeaders(
  secret: string,
  deliveryId: string,
  kind: string,
  payload: string,
): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: signatureHeader(secret, timestamp, payload),
    [DELIVERY_HEADER]: deliveryId,
    [EVENT_HEADER]: kind,
  };
}

/** Turns an outcome into the history entry kept with the delivery. */
export function attemptRecord(at: number, outcome: AttemptOutcome): AttemptRecord {
  return {
    at,
    durationMs: outcome.durationMs,
    ...(outcome.status === undefined ? {} : { status: outcome.status }),
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    ...(outcome.redirectHost === undefined ? {} : { redirectHost: outcome.redirectHost }),
    ...(outcome.responseExcerpt === undefined ? {} : { responseExcerpt: outcome.responseExcerpt }),
  };
}

export class WebhookWorker {
  readonly #store: Store;
  readonly #sender: WebhookSender;
  readonly #logger: Logger;
  readonly #options: WorkerOptions;
  readonly #lanes = new Map<string, Lane>();
  #refreshTimer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(store: Store, sender: WebhookSender, logger: Logger, options: WorkerOptions) {
    this.#store = store;
    this.#sender = sender;
    this.#logger = logger;
    this.#options = options;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#refreshTimer = setInterval(() => void this.refresh(), this.#options.refreshMs);
    this.#refreshTimer.unref();
    await this.refresh();
  }

  /** Stops every lane; attempts in flight are cut off and left due, not counted. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#refreshTimer);
    await Promise.all([...this.#lanes.values()].map((lane) => lane.stop()));
    this.#lanes.clear();
  }

  /** Rereads the webhooks: opens lanes for new ones and closes those of deleted ones. */
  async refresh(): Promise<void> {
    if (this.#stopped) return;
    let webhooks;
    try {
      webhooks = await loadWebhooks(this.#store);
    } catch (error) {
      this.#logger.error({ err: error }, 'webhook list read failed; retrying at the next refresh');
      return;
    }
    if (this.#stopped) return;
    const current = new Set(webhooks.map((webhook) => webhook.document.id));
    for (const [id, lane] of this.#lanes) {
      if (!current.has(id)) {
        this.#lanes.delete(id);
        void lane.stop();
      }
    }
    for (const id of current) {
      if (!this.#lanes.has(id)) {
        const lane = new Lane(id, this.#store, this.#sender, this.#logger, this.#options);
        this.#lanes.set(id, lane);
        lane.wake();
      }
    }
  }

  /** Reserves a free sending slot of the webhook's lane on this node (see SlotReservation). */
  reserve(webhookId: string): SlotReservation | undefined {
    if (this.#stopped) return undefined;
    return this.#lanes.get(webhookId)?.reserve();
  }

  /** Makes the lanes of these webhooks look for due deliveries now. */
  wake(webhookIds: Iterable<string>): void {
    let unknown = false;
    for (const id of webhookIds) {
      const lane = this.#lanes.get(id);
      if (lane) lane.wake();
      else unknown = true;
    }
    if (unknown) void this.refresh();
  }

  /** Closes the lane of a webhook that was deleted on this node, without waiting. */
  forget(webhookId: string): void {
    const lane = this.#lanes.get(webhookId);
    this.#lanes.delete(webhookId);
    void lane?.stop();
  }

  /** Deliveries in flight on this node, per webhook id; for tests and the benchmark. */
  inFlight(): Map<string, number> {
    return new Map([...this.#lanes].map(([id, lane]) => [id, lane.inFlight]));
  }
}

/** The sending side of one webhook on this node. */
class Lane {
  readonly #webhookId: string;
  readonly #kind: string;
  readonly #store: Store;
  readonly #sender: WebhookSender;
  readonly #logger: Logger;
  readonly #options: WorkerOptions;
  readonly #abort = new AbortController();
  readonly #attempts = new Set<Promise<void>>();
  #inFlight = 0;
  #pumping = false;
  #again = false;
  /**
   * Set when a claim found fewer due deliveries than free slots, so finished attempts do
   * not claim again until something may have become due (a wake-up or a timer).
   */
  #drained = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #finishedSincePrune = PRUNE_EVERY;
  /** Starts at the interval, so a lane's first pump prunes what an earlier run left. */
  #deadSincePrune: number;

  constructor(
    webhookId: string,
    store: Store,
    sender: WebhookSender,
    logger: Logger,
    options: WorkerOptions,
  ) {
    this.#webhookId = webhookId;
    this.#kind = deliveryKind(webhookId);
    this.#store = store;
    this.#sender = sender;
    this.#logger = logger;
    this.#options = options;
    this.#deadSincePrune = deadLetterPruneInterval(options.maxDeadLetters);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Takes a free slot for a delivery the dispatcher is creating, if one is free. */
  reserve(): SlotReservation | undefined {
    if (this.#stopped || this.#inFlight >= this.#options.concurrencyPerEndpoint) return undefined;
    this.#inFlight += 1;
    let settled = false;
    return {
      leaseUntil: nowMicros() + this.#leaseMicros(),
      start: (document) => {
        if (settled) return;
        settled = true;
        this.#begin(document);
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        this.#inFlight -= 1;
        if (!this.#drained) this.#pump();
      },
    };
  }

  /** Makes the lane claim due deliveries now. */
  wake(): void {
    this.#drained = false;
    this.#pump();
  }

  #pump(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    void this.#claimUntilIdle();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await Promise.all([...this.#attempts]);
  }

  /** Claims due deliveries while the lane has free slots, and starts their attempts. */
  async #claimUntilIdle(): Promise<void> {
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        await this.#claimWhileFree();
      } while (this.#again && !this.#stopped);
      await this.#pruneFinished();
      await this.#pruneDeadLetters();
    } catch (error) {
      this.#logger.error(
        { err: error, webhookId: this.#webhookId },
        'webhook delivery claim failed; retrying at the next poll',
      );
    } finally {
      this.#pumping = false;
      this.#wakeAt(Date.now() + this.#options.pollMs);
    }
  }

  async #claimWhileFree(): Promise<void> {
    while (!this.#stopped && this.#inFlight < this.#options.concurrencyPerEndpoint) {
      const free = this.#options.concurrencyPerEndpoint - this.#inFlight;
      const now = nowMicros();
      const claimed = await this.#store.claimDocuments(
        this.#kind,
        now,
        now + this.#leaseMicros(),
        free,
      );
      for (const document of claimed) this.#start(document);
      if (claimed.length < free) {
        this.#drained = true;
        return;
      }
    }
  }

  #leaseMicros(): number {
    return (this.#options.timeoutMs + LEASE_MARGIN_MS) * 1000;
  }

  #start(document: DocumentRecord): void {
    this.#inFlight += 1;
    this.#begin(document);
  }

  /** Runs the attempt of a claimed delivery in a slot already counted in #inFlight. */
  #begin(document: DocumentRecord): void {
    const attempt = this.#attempt(document)
      .catch((error: unknown) => {
        this.#logger.error(
          { err: error, webhookId: this.#webhookId, deliveryId: document.id },
          'webhook delivery attempt failed; it is retried when its lease ends',
        );
      })
      .finally(() => {
        this.#inFlight -= 1;
        this.#attempts.delete(attempt);
        if (!this.#drained) this.#pump();
      });
    this.#attempts.add(attempt);
  }

  /** Sets the lane's timer to `at` (ms since the epoch) unless it is set sooner. */
  #wakeAt(at: number): void {
    if (this.#stopped) return;
    const now = Date.now();
    if (this.#timer !== undefined && this.#timerAt <= at && this.#timerAt > now) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.wake();
      },
      Math.max(0, at - now),
    );
    this.#timer.unref();
  }

  /** Makes one attempt of a claimed delivery and records its outcome. */
  async #attempt(claimed: DocumentRecord): Promise<void> {
    const body = JSON.parse(claimed.body) as DeliveryBody;
    const webhookDocument = await this.#store.getDocument(WEBHOOK_KIND, this.#webhookId);
    if (webhookDocument === undefined) {
      await this.#store.deleteDocument(this.#kind, claimed.id);
      return;
    }
    const webhook = JSON.parse(webhookDocument.body) as WebhookBody;

    let payload: string;
    let kind = body.kind;
    if (body.alert !== undefined) {
      const verdict = await new AlertAudience(this.#store).check(webhook, body.alert);
      if (!verdict.visible) {
        await this.#finish(claimed, body, 'dead', undefined, verdict.reason);
        return;
      }
      payload = alertPayload(claimed.id, body, verdict.list);
    } else {
      let json: string | undefined;
      if (body.event !== undefined) {
        const check = new AudienceCheck(this.#store);
        const visibility = await check.check(webhook.createdBy, body.event);
        if (!visibility.visible) {
          await this.#finish(claimed, body, 'dead', undefined, visibility.reason);
          return;
        }
        json = visibility.json;
        kind = visibility.kind;
      }
      payload = deliveryPayload(claimed.id, { ...body, kind }, json);
    }
    const headers = signedHeaders(webhook.secret, claimed.id, kind, payload);
    const startedAt = nowMicros();
    const outcome = await this.#sender.send(new URL(webhook.url), payload, headers, {
      timeoutMs: this.#options.timeoutMs,
      maxResponseBytes: this.#options.maxResponseBytes,
      signal: this.#abort.signal,
    });
    if (outcome.aborted) {
      await this.#release(claimed);
      return;
    }
    const record = attemptRecord(startedAt, outcome);
    if (outcome.ok) {
      await this.#finish(claimed, body, 'delivered', record);
      return;
    }
    const attempts = body.attempts + 1;
    const failure = {
      webhookId: this.#webhookId,
      deliveryId: claimed.id,
      host: new URL(webhook.url).host,
      attempts,
      status: outcome.status,
      error: outcome.error,
    };
    if (attempts >= this.#options.maxAttempts) {
      this.#logger.warn(
        failure,
        'webhook delivery failed for the last time; kept as a dead letter',
      );
      await this.#finish(claimed, body, 'dead', record, outcome.error);
      return;
    }
    const delayMs = retryDelayMs(attempts, this.#options);
    this.#logger.info({ ...failure, retryInMs: delayMs }, 'webhook delivery failed; retrying');
    await this.#retry(claimed, body, record, delayMs);
  }

  async #write(claimed: DocumentRecord, body: DeliveryBody, due?: number): Promise<void> {
    try {
      await this.#store.putDocument(
        {
          kind: claimed.kind,
          id: claimed.id,
          owner: body.state,
          ...(claimed.key === undefined ? {} : { key: claimed.key }),
          ...(due === undefined ? {} : { due }),
          body: JSON.stringify(body),
        },
        claimed.revision,
      );
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
      // The webhook was deleted meanwhile, or the lease ran out and another node took the
      // delivery: its outcome is theirs to record.
      this.#logger.info(
        { webhookId: this.#webhookId, deliveryId: claimed.id },
        'webhook delivery changed during its attempt; outcome not recorded',
      );
    }
  }

  /** Puts a delivery whose attempt was cut off back as due now, without counting it. */
  async #release(claimed: DocumentRecord): Promise<void> {
    const body = JSON.parse(claimed.body) as DeliveryBody;
    await this.#write(claimed, { ...body, nextAttemptAt: nowMicros() }, nowMicros());
  }

  async #retry(
    claimed: DocumentRecord,
    body: DeliveryBody,
    record: AttemptRecord,
    delayMs: number,
  ): Promise<void> {
    const due = nowMicros() + delayMs * 1000;
    const next: DeliveryBody = {
      ...body,
      state: 'pending',
      attempts: body.attempts + 1,
      history: [...body.history, record].slice(-HISTORY_LENGTH),
      nextAttemptAt: due,
      ...(record.error === undefined ? {} : { lastError: record.error }),
    };
    await this.#write(claimed, next, due);
    this.#wakeAt(Date.now() + delayMs);
  }

  async #finish(
    claimed: DocumentRecord,
    body: DeliveryBody,
    state: 'delivered' | 'dead',
    record: AttemptRecord | undefined,
    error?: string,
  ): Promise<void> {
    const { nextAttemptAt: _dropped, ...rest } = body;
    const next: DeliveryBody = {
      ...rest,
      state,
      attempts: body.attempts + (record === undefined ? 0 : 1),
      history:
        record === undefined ? body.history : [...body.history, record].slice(-HISTORY_LENGTH),
      finishedAt: nowMicros(),
      ...(error === undefined ? {} : { lastError: error }),
    };
    await this.#write(claimed, next);
    this.#finishedSincePrune += 1;
    if (state === 'dead') this.#deadSincePrune += 1;
  }

  /** Deletes delivered deliveries beyond the newest `keepFinished`, now and then. */
  async #pruneFinished(): Promise<void> {
    if (this.#finishedSincePrune < PRUNE_EVERY) return;
    this.#finishedSincePrune = 0;
    await pruneFinished(this.#store, this.#webhookId, this.#options.keepFinished);
  }

  /** Deletes dead letters beyond the newest `maxDeadLetters`, oldest first, now and then. */
  async #pruneDeadLetters(): Promise<void> {
    const { maxDeadLetters } = this.#options;
    if (this.#deadSincePrune < deadLetterPruneInterval(maxDeadLetters)) return;
    this.#deadSincePrune = 0;
    const { deleted, total } = await pruneDeadLetters(this.#store, this.#webhookId, maxDeadLetters);
    if (deleted === 0) return;
    this.#logger.warn(
      { webhookId: this.#webhookId, deleted, droppedTotal: total, maxDeadLetters },
      'webhook dead letters over the cap deleted, oldest first',
    );
  }
}
