/**
 * Follows the event log and turns each event into one delivery per webhook whose filter it
 * passes and whose user may read it. Deliveries are documents that workers send later, so
 * this loop never waits on a receiver. A delivery whose webhook has a free sending slot on
 * this node is stored leased to this node and handed to its worker at once; the others
 * stay due for any node's worker to claim.
 *
 * The position in the log is one checkpoint document for all webhooks. Every node may run
 * a dispatcher: two nodes that handle the same event create its delivery once, because the
 * delivery key is unique, and the checkpoint moves by a revision-checked write, so the
 * slower node rereads and skips ahead. A webhook created while a batch runs may miss that
 * batch, so each new webhook first catches up from its creation to the checkpoint alone
 * (see #join).
 */
import type { Logger } from '../log/logger.ts';
import { nowMicros } from '../stix/timestamp.ts';
import {
  StoreConflictError,
  type DocumentRecord,
  type EventKind,
  type EventRecord,
  type Store,
} from '../store/store.ts';
import type { CursorCodec } from '../events/cursor.ts';
import { matchesFilter } from '../events/filter.ts';
import type { EventNotifier } from '../events/notifier.ts';
import { WakeLoop } from '../events/wake-loop.ts';
import { AudienceCheck } from './audience.ts';
import {
  alertCheckpointId,
  CHECKPOINT_ID,
  CHECKPOINT_KIND,
  DEAD_LETTER_DROPS_KIND,
  deliveryKind,
  eventKey,
  newDeliveryId,
  WEBHOOK_KIND,
  type DeliveryBody,
  type WebhookBody,
} from './records.ts';

export interface DispatcherOptions {
  /** Events read from the log at once. */
  batchSize: number;
  /** Interval of the fallback run, for announcements lost or made on another node (ms). */
  fallbackMs: number;
}

/**
 * A sending slot of this node, reserved for a delivery about to be created: the delivery
 * is stored already leased to this node until `leaseUntil`, and `start` sends it at once,
 * which saves the claim a worker would otherwise make.
 */
export interface SlotReservation {
  leaseUntil: number;
  start(document: DocumentRecord): void;
  cancel(): void;
}

/** The link from the dispatcher to this node's worker, for new deliveries. */
export interface DeliveryHandoff {
  /** Reserves a free sending slot of the webhook on this node, if it has one. */
  reserve(webhookId: string): SlotReservation | undefined;
  /** Tells the worker that these webhooks have new due deliveries to claim. */
  wake(webhookIds: Set<string>): void;
}

/** A webhook document with its body parsed. */
export interface LoadedWebhook {
  document: DocumentRecord;
  body: WebhookBody;
}

/** Webhooks read from the store per page. */
const WEBHOOK_PAGE = 500;

/**
 * Stores a new delivery, leased to this node and started at once when the webhook has a
 * free sending slot here, else due for any node's worker. Returns undefined when a
 * delivery with the key exists already, as when another node dispatched it first.
 */
export async function createDelivery(
  store: Store,
  handoff: DeliveryHandoff,
  key: string,
  body: DeliveryBody,
): Promise<{ id: string; handedOver: boolean } | undefined> {
  const id = newDeliveryId(body.createdAt);
  const reservation = handoff.reserve(body.webhookId);
  let document: DocumentRecord;
  try {
    document = await store.putDocument(
      {
        kind: deliveryKind(body.webhookId),
        id,
        owner: 'pending',
        key,
        due: reservation?.leaseUntil ?? body.createdAt,
        body: JSON.stringify(body),
      },
      0,
    );
  } catch (error) {
    reservation?.cancel();
    if (error instanceof StoreConflictError) return undefined;
    throw error;
  }
  if (reservation === undefined) return { id, handedOver: false };
  reservation.start(document);
  return { id, handedOver: true };
}

/**
 * Deletes a webhook with its deliveries, its count of dropped dead letters and its alert log
 * position, if it has one.
 */
export async function deleteWebhookDocuments(store: Store, webhookId: string): Promise<void> {
  await store.deleteDocument(WEBHOOK_KIND, webhookId);
  await store.deleteDocument(CHECKPOINT_KIND, alertCheckpointId(webhookId));
  const kind = deliveryKind(webhookId);
  for (;;) {
    const page = await store.listDocuments({ kind, limit: WEBHOOK_PAGE });
    for (const document of page) await store.deleteDocument(kind, document.id);
    if (page.length < WEBHOOK_PAGE) break;
  }
  // After the deliveries, so a prune of this webhook's dead letters cannot recreate it.
  await store.deleteDocument(DEAD_LETTER_DROPS_KIND, webhookId);
}

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

export class WebhookDispatcher {
  readonly #store: Store;
  readonly #notifier: EventNotifier | undefined;
  readonly #logger: Logger;
  readonly #options: DispatcherOptions;
  readonly #cursors: () => Promise<CursorCodec>;
  readonly #handoff: DeliveryHandoff;
  readonly #loop: WakeLoop;

  constructor(
    store: Store,
    notifier: EventNotifier | undefined,
    logger: Logger,
    options: DispatcherOptions,
    cursors: () => Promise<CursorCodec>,
    handoff: DeliveryHandoff,
  ) {
    this.#store = store;
    this.#cursors = cursors;
    this.#notifier = notifier;
    this.#logger = logger;
    this.#options = options;
    this.#handoff = handoff;
    this.#loop = new WakeLoop(options.fallbackMs, () => this.#run());
  }

  start(): void {
    this.#loop.start({
      listen: () => this.#notifier?.listen(() => this.wake()),
      tick: () => this.wake(),
    });
  }

  /** Stops following the log and waits for the run in progress. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Runs the dispatcher soon; calls during a run make it run once more afterwards. */
  wake(): void {
    this.#loop.wake();
  }

  /** Waits until the log is dispatched up to its end as of this call; for tests and tools. */
  async settle(): Promise<void> {
    await this.#loop.idle();
    await this.#dispatchAll(true);
  }

  async #run(): Promise<void> {
    try {
      await this.#dispatchAll(false);
    } catch (error) {
      this.#logger.error({ err: error }, 'webhook dispatch failed; retrying at the next event');
    }
  }

  /**
   * Dispatches batches until the checkpoint is at the end of the log, or until stop()
   * unless `evenWhenStopped`. After each batch it reports the webhooks that got deliveries,
   * so their lanes start sending while later batches are dispatched.
   */
  async #dispatchAll(evenWhenStopped: boolean): Promise<void> {
    while (evenWhenStopped || !this.#loop.stopped) {
      const touched = new Set<string>();
      const checkpoint = await this.#checkpoint();
      // Alert webhooks follow their watch list's alert log instead (see alert-dispatcher.ts).
      const webhooks = (await loadWebhooks(this.#store)).filter(
        (webhook) => webhook.body.watchlistId === undefined,
      );
      const joined: LoadedWebhook[] = [];
      for (const webhook of webhooks) {
        if (webhook.body.joined || (await this.#join(webhook, checkpoint.seq, touched))) {
          joined.push(webhook);
        }
      }
      if (joined.length === 0) {
        // Nothing to dispatch to: leave the checkpoint, and let new webhooks skip ahead.
        if (touched.size > 0) this.#handoff.wake(touched);
        break;
      }
      // Events before every webhook's creation concern none of them.
      const from = Math.max(
        checkpoint.seq,
        Math.min(...joined.map((webhook) => webhook.body.startSeq)),
      );
      const events = await this.#store.readEvents({
        afterSeq: from,
        limit: this.#options.batchSize,
      });
      if (events.length > 0 && events[0]!.seq > from + 1) await this.#reportMissed(from);
      const created = await this.#dispatchBatch(joined, events);
      for (const [id, made] of created) if (made.due) touched.add(id);
      if (touched.size > 0) this.#handoff.wake(touched);
      if (events.length === 0) break;
      const moved = await this.#moveCheckpoint(checkpoint, events.at(-1)!.seq);
      if (moved && events.length < this.#options.batchSize) break;
    }
  }

  /** Reads the shared checkpoint, creating it at the end of the log on first use. */
  async #checkpoint(): Promise<{ seq: number; revision: number }> {
    for (;;) {
      const document = await this.#store.getDocument(CHECKPOINT_KIND, CHECKPOINT_ID);
      if (document !== undefined) {
        const body = JSON.parse(document.body) as { seq: number };
        return { seq: body.seq, revision: document.revision };
      }
      const { last } = await this.#store.eventBounds();
      try {
        const created = await this.#store.putDocument(
          { kind: CHECKPOINT_KIND, id: CHECKPOINT_ID, body: JSON.stringify({ seq: last }) },
          0,
        );
        return { seq: last, revision: created.revision };
      } catch (error) {
        // Another node created it first; read theirs.
        if (!(error instanceof StoreConflictError)) throw error;
      }
    }
  }

  /**
   * Moves the checkpoint past a dispatched batch. Returns false when another node moved it
   * meanwhile; the batch is then read again, and its deliveries exist already.
   */
  async #moveCheckpoint(checkpoint: { revision: number }, seq: number): Promise<boolean> {
    try {
      await this.#store.putDocument(
        { kind: CHECKPOINT_KIND, id: CHECKPOINT_ID, body: JSON.stringify({ seq }) },
        checkpoint.revision,
      );
      return true;
    } catch (error) {
      if (error instanceof StoreConflictError) return false;
      throw error;
    }
  }

  /** Logs how many events were pruned from the log before the dispatcher reached them. */
  async #reportMissed(checkpoint: number): Promise<void> {
    const bounds = await this.#store.eventBounds();
    if (checkpoint >= bounds.first - 1) return;
    this.#logger.warn(
      { checkpoint, firstKept: bounds.first, missed: bounds.first - 1 - checkpoint },
      'webhook events pruned from the log before dispatch were not delivered',
    );
  }

  /**
   * Brings a new webhook up to the checkpoint: dispatches to it alone the events from its
   * creation to the checkpoint, which the dispatcher may have passed before it saw the
   * webhook, then marks it joined. Returns false when the webhook was deleted meanwhile.
   */
  async #join(webhook: LoadedWebhook, checkpoint: number, touched: Set<string>): Promise<boolean> {
    const created: string[] = [];
    let due = false;
    let after = webhook.body.startSeq;
    while (after < checkpoint) {
      const events = (
        await this.#store.readEvents({ afterSeq: after, limit: this.#options.batchSize })
      ).filter((event) => event.seq <= checkpoint);
      if (events.length === 0) break;
      const made = await this.#dispatchBatch([webhook], events);
      const mine = made.get(webhook.document.id);
      created.push(...(mine?.ids ?? []));
      due ||= mine?.due ?? false;
      after = events.at(-1)!.seq;
    }
    const { document } = webhook;
    const body: WebhookBody = { ...webhook.body, joined: true };
    try {
      await this.#store.putDocument(
        { kind: document.kind, id: document.id, owner: document.owner, body: JSON.stringify(body) },
        document.revision,
      );
    } catch (error) {
      if (!(error instanceof StoreConflictError)) throw error;
      // Another node joined it, or it was deleted: then its new deliveries go too.
      if ((await this.#store.getDocument(WEBHOOK_KIND, document.id)) === undefined) {
        const kind = deliveryKind(document.id);
        for (const id of created) await this.#store.deleteDocument(kind, id);
        return false;
      }
    }
    if (due) touched.add(document.id);
    return true;
  }

  /**
   * Creates the deliveries of a batch. Returns, per webhook, their ids and whether some
   * were left due for a worker to claim rather than handed to this node's worker.
   */
  async #dispatchBatch(
    webhooks: LoadedWebhook[],
    events: EventRecord[],
  ): Promise<Map<string, { ids: string[]; due: boolean }>> {
    const audience = new AudienceCheck(this.#store);
    const created = new Map<string, { ids: string[]; due: boolean }>();
    for (const webhook of webhooks) {
      for (const event of events) {
        if (event.seq <= webhook.body.startSeq) continue;
        if (!matchesFilter(webhook.body.filter, event)) continue;
        const visibility = await audience.check(webhook.body.createdBy, event);
        if (!visibility.visible) continue;
        const made = await this.#createDelivery(webhook.document.id, event, visibility.kind);
        if (made === undefined) continue;
        const list = created.get(webhook.document.id) ?? { ids: [], due: false };
        list.ids.push(made.id);
        list.due ||= !made.handedOver;
        created.set(webhook.document.id, list);
      }
    }
    return created;
  }

  /** Creates the delivery of an event; returns undefined when it exists already. */
  async #createDelivery(
    webhookId: string,
    event: EventRecord,
    kind: EventKind,
  ): Promise<{ id: string; handedOver: boolean } | undefined> {
    const now = nowMicros();
    const body: DeliveryBody = {
      webhookId,
      state: 'pending',
      kind,
      event,
      eventId: (await this.#cursors()).encode(event.seq),
      createdAt: now,
      attempts: 0,
      history: [],
      nextAttemptAt: now,
    };
    return createDelivery(this.#store, this.#handoff, eventKey(event.seq), body);
  }
}
