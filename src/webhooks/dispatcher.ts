/**
 * Follows the event log and turns each event into one delivery per webhook whose filter it
 * passes and whose user may read it. Deliveries are documents that workers claim later, so
 * this loop never waits on a receiver.
 *
 * Each webhook keeps its own cursor. Every node may run a dispatcher: two nodes that handle
 * the same event create its delivery once, because the delivery key is unique, and the
 * cursor moves by a revision-checked write, so the slower node rereads and skips ahead.
 */
import type { Logger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import {
  StoreConflictError,
  type DocumentRecord,
  type EventRecord,
  type Store,
} from '../store/store.ts';
import type { EventNotifier } from '../events/notifier.ts';
import { AudienceCheck } from './audience.ts';
import { matchesFilter } from './filter.ts';
import {
  deliveryKind,
  eventKey,
  newDeliveryId,
  WEBHOOK_KIND,
  type DeliveryBody,
  type DeliveryEvent,
  type WebhookBody,
} from './records.ts';

export interface DispatcherOptions {
  /** Events read from the log at once. */
  batchSize: number;
  /** Interval of the fallback run, for announcements lost or made on another node (ms). */
  fallbackMs: number;
}

/** A webhook document with its body parsed. */
export interface LoadedWebhook {
  document: DocumentRecord;
  body: WebhookBody;
}

/** Webhooks read from the store per page. */
const WEBHOOK_PAGE = 500;

/** Reads every webhook, page by page. */
export async function loadWebhooks(store: Store): Promise<LoadedWebhook[]> {
  const webhooks: LoadedWebhook[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await store.listDocuments({
      kind: WEBHOOK_KIND,
      limit: WEBHOOK_PAGE,
      ...(afterId === undefined ? {} : { afterId }),
    });
    for (const document of page) {
      webhooks.push({ document, body: JSON.parse(document.body) as WebhookBody });
    }
    if (page.length < WEBHOOK_PAGE) return webhooks;
    afterId = page.at(-1)!.id;
  }
}

/** The parts of an event a delivery keeps. */
export function deliveryEventOf(event: EventRecord): DeliveryEvent {
  return {
    seq: event.seq,
    at: event.at,
    kind: event.kind,
    collectionId: event.collectionId,
    ...(event.communityId === undefined ? {} : { communityId: event.communityId }),
    objectId: event.objectId,
    objectType: event.objectType,
    specVersion: event.specVersion,
    version: event.version,
    ...(event.json === undefined ? {} : { json: event.json }),
    sharing: event.sharing,
  };
}

export class WebhookDispatcher {
  readonly #store: Store;
  readonly #notifier: EventNotifier | undefined;
  readonly #logger: Logger;
  readonly #options: DispatcherOptions;
  /** Called with the ids of webhooks that got new deliveries. */
  readonly #onDeliveries: (webhookIds: Set<string>) => void;
  #stopListening: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(
    store: Store,
    notifier: EventNotifier | undefined,
    logger: Logger,
    options: DispatcherOptions,
    onDeliveries: (webhookIds: Set<string>) => void,
  ) {
    this.#store = store;
    this.#notifier = notifier;
    this.#logger = logger;
    this.#options = options;
    this.#onDeliveries = onDeliveries;
  }

  start(): void {
    this.#stopped = false;
    this.#stopListening = this.#notifier?.listen(() => this.wake());
    this.#timer = setInterval(() => this.wake(), this.#options.fallbackMs);
    this.#timer.unref();
    this.wake();
  }

  /** Stops following the log and waits for the run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopListening?.();
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Runs the dispatcher soon; calls during a run make it run once more afterwards. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#runUntilIdle().finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits until the log is dispatched up to its end as of this call; for tests and tools. */
  async settle(): Promise<void> {
    while (this.#running) await this.#running;
    const touched = await this.#dispatchAll(true);
    if (touched.size > 0) this.#onDeliveries(touched);
  }

  async #runUntilIdle(): Promise<void> {
    do {
      this.#again = false;
      try {
        const touched = await this.#dispatchAll(false);
        if (touched.size > 0) this.#onDeliveries(touched);
      } catch (error) {
        this.#logger.error({ err: error }, 'webhook dispatch failed; retrying at the next event');
      }
    } while (this.#again && !this.#stopped);
  }

  /**
   * Dispatches batches until every webhook's cursor is at the end of the log, or until
   * stop() unless `evenWhenStopped`. Returns the ids of webhooks that got deliveries.
   */
  async #dispatchAll(evenWhenStopped: boolean): Promise<Set<string>> {
    const touched = new Set<string>();
    while (evenWhenStopped || !this.#stopped) {
      const webhooks = await loadWebhooks(this.#store);
      if (webhooks.length === 0) break;
      const from = Math.min(...webhooks.map((webhook) => webhook.body.cursor));
      const events = await this.#store.readEvents({
        afterSeq: from,
        limit: this.#options.batchSize,
      });
      if (events.length === 0) break;
      await this.#reportMissed(webhooks, events[0]!.seq);
      for (const id of await this.#dispatchBatch(webhooks, events)) touched.add(id);
      if (events.length < this.#options.batchSize) break;
    }
    return touched;
  }

  /** Logs webhooks whose cursor is behind the oldest event the log still keeps. */
  async #reportMissed(webhooks: LoadedWebhook[], firstRead: number): Promise<void> {
    for (const webhook of webhooks) {
      if (webhook.body.cursor >= firstRead - 1) continue;
      const bounds = await this.#store.eventBounds();
      if (webhook.body.cursor >= bounds.first - 1) continue;
      this.#logger.warn(
        {
          webhookId: webhook.document.id,
          cursor: webhook.body.cursor,
          firstKept: bounds.first,
          missed: bounds.first - 1 - webhook.body.cursor,
        },
        'webhook missed events pruned from the log before dispatch',
      );
    }
  }

  async #dispatchBatch(webhooks: LoadedWebhook[], events: EventRecord[]): Promise<Set<string>> {
    const audience = new AudienceCheck(this.#store);
    const touched = new Set<string>();
    const lastSeq = events.at(-1)!.seq;
    for (const webhook of webhooks) {
      if (webhook.body.cursor >= lastSeq) continue;
      const created: string[] = [];
      for (const event of events) {
        if (event.seq <= webhook.body.cursor) continue;
        if (!matchesFilter(webhook.body.filter, event)) continue;
        const deliveryEvent = deliveryEventOf(event);
        const visibility = await audience.check(webhook.body.createdBy, deliveryEvent);
        if (!visibility.visible) continue;
        const id = await this.#createDelivery(webhook.document.id, deliveryEvent);
        if (id !== undefined) created.push(id);
      }
      if (await this.#advance(webhook, lastSeq, created)) {
        if (created.length > 0) touched.add(webhook.document.id);
      }
    }
    return touched;
  }

  /** Creates the delivery of an event; returns undefined when it exists already. */
  async #createDelivery(webhookId: string, event: DeliveryEvent): Promise<string | undefined> {
    const now = nowMicros();
    const body: DeliveryBody = {
      webhookId,
      state: 'pending',
      kind: event.kind,
      event,
      createdAt: now,
      attempts: 0,
      history: [],
      nextAttemptAt: now,
    };
    const id = newDeliveryId(now);
    try {
      await this.#store.putDocument(
        {
          kind: deliveryKind(webhookId),
          id,
          owner: 'pending',
          key: eventKey(event.seq),
          due: now,
          body: JSON.stringify(body),
        },
        0,
      );
      return id;
    } catch (error) {
      if (error instanceof StoreConflictError) return undefined;
      throw error;
    }
  }

  /**
   * Moves the webhook's cursor to `seq`. When the webhook changed meanwhile (another node
   * moved the cursor, or the webhook was deleted) the write fails; the deliveries just
   * made for a deleted webhook are removed, since no worker would ever send them.
   */
  async #advance(webhook: LoadedWebhook, seq: number, created: string[]): Promise<boolean> {
    const { document } = webhook;
    const body: WebhookBody = { ...webhook.body, cursor: seq };
    try {
      await this.#store.putDocument(
        { kind: document.kind, id: document.id, owner: document.owner, body: JSON.stringify(body) },
        document.revision,
      );
      return true;
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
    }
    const current = await this.#store.getDocument(WEBHOOK_KIND, webhook.document.id);
    if (current === undefined) {
      for (const id of created)
        await this.#store.deleteDocument(deliveryKind(webhook.document.id), id);
    }
    return current !== undefined;
  }
}
