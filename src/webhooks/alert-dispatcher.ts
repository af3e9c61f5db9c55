/**
 * Turns the alerts of watch lists into deliveries of the webhooks subscribed to them. Each
 * alert webhook follows its list's alert log (src/watch/alert-log.ts) from a position of
 * its own, so an alert raised on any node reaches it. An update of an alert, when a newer
 * version of its object matched, is delivered again as `alert-updated`. The worker sends
 * the deliveries like those of store events: signed, retried with backoff and jitter, and
 * kept as dead letters when the retries run out.
 *
 * Every node may run it. Two nodes that dispatch the same record create its delivery once,
 * because the delivery key is unique per webhook, and the position moves by
 * revision-checked writes, so the slower node rereads it and skips ahead.
 */
import type { EventNotifier } from '../events/notifier.ts';
import { WakeLoop } from '../events/wake-loop.ts';
import type { Logger } from '../log/logger.ts';
import { microsToTaxii, nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type Store } from '../store/store.ts';
import type { AlertLogRecord } from '../watch/alert-log.ts';
import { alertView } from '../watch/alerts.ts';
import type { WatchList } from '../watch/model.ts';
import { WatchRepository } from '../watch/repository.ts';
import { AlertAudience } from './alert-audience.ts';
import {
  createDelivery,
  deleteWebhookDocuments,
  loadWebhooks,
  type DeliveryHandoff,
  type DispatcherOptions,
  type LoadedWebhook,
} from './dispatcher.ts';
import {
  alertCheckpointId,
  alertKey,
  CHECKPOINT_KIND,
  WEBHOOK_KIND,
  type DeliveryBody,
  type WebhookBody,
} from './records.ts';

/** Builds the JSON body a receiver gets for an alert delivery. */
export function alertPayload(deliveryId: string, body: DeliveryBody, list: WatchList): string {
  const alert = body.alert!;
  return JSON.stringify({
    deliveryId,
    kind: body.kind,
    at: microsToTaxii(alert.updatedAt),
    streamId: String(body.alertSeq),
    watchlist: { id: list.id, name: list.name },
    alert: alertView(alert),
  });
}

export class AlertDispatcher {
  readonly #store: Store;
  readonly #repository: WatchRepository;
  readonly #notifier: EventNotifier | undefined;
  readonly #logger: Logger;
  readonly #options: DispatcherOptions;
  readonly #handoff: DeliveryHandoff;
  readonly #loop: WakeLoop;
  /** Lists announced since the last run; `all` after a timer tick or a lost connection. */
  #pending: Set<string> | 'all' = 'all';

  constructor(
    store: Store,
    notifier: EventNotifier | undefined,
    logger: Logger,
    options: DispatcherOptions,
    handoff: DeliveryHandoff,
  ) {
    this.#store = store;
    this.#repository = new WatchRepository(store);
    this.#notifier = notifier;
    this.#logger = logger;
    this.#options = options;
    this.#handoff = handoff;
    this.#loop = new WakeLoop(options.fallbackMs, () => this.#run());
  }

  start(): void {
    this.#loop.start({
      listen: () => this.#notifier?.listenAlerts((watchlistId) => this.wake(watchlistId)),
      tick: () => this.wake(),
    });
  }

  /** Stops following the alert logs and waits for the run in progress. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Runs the dispatcher soon for one list's webhooks, or for all without a list. */
  wake(watchlistId?: string): void {
    if (this.#loop.stopped) return;
    if (watchlistId === undefined) this.#pending = 'all';
    else if (this.#pending !== 'all') this.#pending.add(watchlistId);
    this.#loop.wake();
  }

  /** Dispatches every alert recorded so far; for tests and tools. */
  async settle(): Promise<void> {
    await this.#loop.idle();
    await this.#dispatch('all', true);
  }

  /** Dispatches the lists woken since the last run; a wake-up during it runs it again. */
  async #run(): Promise<void> {
    const lists = this.#pending;
    if (lists !== 'all' && lists.size === 0) return;
    this.#pending = new Set();
    try {
      await this.#dispatch(lists, false);
    } catch (error) {
      this.#logger.error({ err: error }, 'alert webhook dispatch failed; retrying soon');
    }
  }

  /** Dispatches the webhooks of these lists up to the end of their logs. */
  async #dispatch(lists: Set<string> | 'all', evenWhenStopped: boolean): Promise<void> {
    const webhooks = (await loadWebhooks(this.#store)).filter((webhook) => {
      const watchlistId = webhook.body.watchlistId;
      return watchlistId !== undefined && (lists === 'all' || lists.has(watchlistId));
    });
    if (webhooks.length === 0) return;
    const audience = new AlertAudience(this.#store);
    const touched = new Set<string>();
    for (const webhook of webhooks) {
      if (this.#loop.stopped && !evenWhenStopped) break;
      try {
        if (await this.#dispatchWebhook(webhook, audience)) touched.add(webhook.document.id);
      } catch (error) {
        this.#logger.error(
          { err: error, webhookId: webhook.document.id, watchlistId: webhook.body.watchlistId },
          'alert webhook dispatch failed; retrying soon',
        );
      }
    }
    if (touched.size > 0) this.#handoff.wake(touched);
  }

  /**
   * Creates the deliveries of one webhook's new alert log records and moves its position.
   * Returns whether some were left due for a worker to claim. Deletes the webhook when its
   * list no longer exists.
   */
  async #dispatchWebhook(webhook: LoadedWebhook, audience: AlertAudience): Promise<boolean> {
    const webhookId = webhook.document.id;
    const watchlistId = webhook.body.watchlistId!;
    if ((await this.#repository.getList(watchlistId)) === undefined) {
      await deleteWebhookDocuments(this.#store, webhookId);
      this.#logger.info({ webhookId, watchlistId }, 'alert webhook deleted with its watch list');
      return false;
    }
    let due = false;
    for (;;) {
      if ((await this.#store.getDocument(WEBHOOK_KIND, webhookId)) === undefined) {
        // Deleted meanwhile: remove what this run may have created after the deletion.
        await deleteWebhookDocuments(this.#store, webhookId);
        return false;
      }
      const position = await this.#position(webhookId, webhook.body);
      const records = await this.#repository.alertLog.read(
        watchlistId,
        position.seq,
        this.#options.batchSize,
      );
      if (records.length === 0) return due;
      const firstKept = records[0]!.seq;
      if (firstKept > position.seq + 1) {
        this.#logger.warn(
          { webhookId, watchlistId, firstKept, missed: firstKept - 1 - position.seq },
          'alerts pruned from the alert log before dispatch were not delivered',
        );
      }
      const skipped = new Map<string, number>();
      for (const record of records) {
        const verdict = await audience.check(webhook.body, record.alert);
        if (!verdict.visible) {
          skipped.set(verdict.reason, (skipped.get(verdict.reason) ?? 0) + 1);
          continue;
        }
        const made = await this.#createDelivery(webhookId, record);
        if (made !== undefined && !made.handedOver) due = true;
      }
      for (const [reason, count] of skipped) {
        this.#logger.info({ webhookId, watchlistId, count, reason }, 'alerts not delivered');
      }
      const moved = await this.#movePosition(webhookId, position.revision, records.at(-1)!.seq);
      if (moved && records.length < this.#options.batchSize) return due;
    }
  }

  /** Reads the webhook's position in its list's alert log, creating it on first use. */
  async #position(
    webhookId: string,
    body: WebhookBody,
  ): Promise<{ seq: number; revision: number }> {
    const id = alertCheckpointId(webhookId);
    for (;;) {
      const document = await this.#store.getDocument(CHECKPOINT_KIND, id);
      if (document !== undefined) {
        const { seq } = JSON.parse(document.body) as { seq: number };
        return { seq, revision: document.revision };
      }
      try {
        const created = await this.#store.putDocument(
          { kind: CHECKPOINT_KIND, id, body: JSON.stringify({ seq: body.startSeq }) },
          0,
        );
        return { seq: body.startSeq, revision: created.revision };
      } catch (error) {
        // Another node created it first; read theirs.
        if (!(error instanceof StoreConflictError)) throw error;
      }
    }
  }

  /** Moves the position past a batch; returns false when another node moved it meanwhile. */
  async #movePosition(webhookId: string, revision: number, seq: number): Promise<boolean> {
    try {
      await this.#store.putDocument(
        { kind: CHECKPOINT_KIND, id: alertCheckpointId(webhookId), body: JSON.stringify({ seq }) },
        revision,
      );
      return true;
    } catch (error) {
      if (error instanceof StoreConflictError) return false;
      throw error;
    }
  }

  #createDelivery(webhookId: string, record: AlertLogRecord) {
    const now = nowMicros();
    const body: DeliveryBody = {
      webhookId,
      state: 'pending',
      kind: record.change === 'created' ? 'alert' : 'alert-updated',
      alert: record.alert,
      alertSeq: record.seq,
      createdAt: now,
      attempts: 0,
      history: [],
      nextAttemptAt: now,
    };
    return createDelivery(this.#store, this.#handoff, alertKey(record.seq), body);
  }
}
