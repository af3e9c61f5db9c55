/**
 * Webhooks and their deliveries as store documents (see DocumentRecord).
 *
 * - A webhook is a document of kind `webhook`, owned by its organisation.
 * - The dispatcher's position in the event log is the document `webhook-checkpoint/events`.
 * - Deliveries of one webhook are documents of kind `webhook-delivery:<webhook id>`, so a
 *   worker claims the due deliveries of one endpoint at a time and a slow endpoint never
 *   takes the slots of another. Their `owner` is the delivery state, so the dead letters
 *   of a webhook are one indexed list. Their `key` is `event:<seq>`, so an event becomes at
 *   most one delivery per webhook however many nodes dispatch it.
 * - A webhook of a watch list's alerts (`watchlistId` set) receives no events. Its position
 *   in the list's alert log is the document `webhook-checkpoint/alerts:<webhook id>`, and
 *   its deliveries have the key `alert:<log number>`.
 * - The number of dead letters dropped over a webhook's cap is the document
 *   `webhook-dead-letter-drops/<webhook id>` (see DeadLetterDrops).
 */
import { randomBytes } from 'node:crypto';

import type { EventFilter } from '../events/filter.ts';
import type { EventKind, EventRecord } from '../store/store.ts';
import type { Alert } from '../watch/model.ts';

export const WEBHOOK_KIND = 'webhook';
export const CHECKPOINT_KIND = 'webhook-checkpoint';
export const CHECKPOINT_ID = 'events';
export const DEAD_LETTER_DROPS_KIND = 'webhook-dead-letter-drops';

/** Returns the document kind that contains the deliveries of one webhook. */
export function deliveryKind(webhookId: string): string {
  return `webhook-delivery:${webhookId}`;
}

/** The events a webhook receives; the same filter as event streams. */
export type WebhookFilter = EventFilter;

/** The body of a `webhook` document. */
export interface WebhookBody {
  url: string;
  description: string;
  filter: WebhookFilter;
  /**
   * The signing secret. HMAC needs the secret itself, so it is stored as it is, unlike API
   * tokens. The API shows it only in the response that creates the webhook, and it is
   * never logged.
   */
  secret: string;
  organisationId: string;
  /** The user who registered the webhook; deliveries carry only what this user may read. */
  createdBy: string;
  createdAt: number;
  /**
   * The newest event seq when the webhook was created; it receives only later events. For
   * an alert webhook, the newest number of the list's alert log instead.
   */
  startSeq: number;
  /**
   * Set once the dispatcher has sent the webhook the events from its creation up to the
   * shared checkpoint; from then on it follows the checkpoint with the others.
   */
  joined: boolean;
  /** The watch list whose alerts the webhook receives, in place of store events. */
  watchlistId?: string;
  /**
   * The API token that subscribed an alert webhook. Deliveries stop when it is revoked or
   * expires, as the alert stream of a client with that token would end.
   */
  tokenId?: string;
}

/** `alert` for a new alert, `alert-updated` when a newer version of its object matched. */
export type AlertDeliveryKind = 'alert' | 'alert-updated';

export type DeliveryState = 'pending' | 'delivered' | 'dead' | 'failed';

/** The outcome of one attempt to send a delivery. */
export interface AttemptRecord {
  at: number;
  durationMs: number;
  status?: number;
  error?: string;
  redirectHost?: string;
  responseExcerpt?: string;
}

/**
 * The body of a delivery document. `state` repeats the document's owner. Pings are sent
 * once and end `delivered` or `failed`; event deliveries are retried and end `delivered`
 * or `dead`.
 */
export interface DeliveryBody {
  webhookId: string;
  state: DeliveryState;
  /**
   * `ping` for a test delivery, and the alert change for an alert webhook. Otherwise the
   * event kind as the webhook's user saw it when the delivery was made (see
   * EventView.kind), which each attempt checks again.
   */
  kind: EventKind | 'ping' | AlertDeliveryKind;
  /**
   * The event as the log stored it, before redaction for the webhook's user, so the access
   * check before each attempt works on the original.
   */
  event?: EventRecord;
  /** The event's cursor, as event streams give it, for receivers to resume a stream. */
  eventId?: string;
  /** For an alert webhook: the alert as the list's alert log recorded this change. */
  alert?: Alert;
  /** The change's number in the list's alert log, the id its alert stream gives it. */
  alertSeq?: number;
  createdAt: number;
  attempts: number;
  /** The latest attempts, newest last; older ones are dropped. */
  history: AttemptRecord[];
  nextAttemptAt?: number;
  finishedAt?: number;
  lastError?: string;
}

/** The body of a `webhook-dead-letter-drops` document. */
export interface DeadLetterDrops {
  /** Dead letters deleted because the webhook had more than its cap, since it was created. */
  dropped: number;
  /** When the last one was deleted (microseconds). */
  lastDroppedAt: number;
}

/** Attempts kept in a delivery's history. */
export const HISTORY_LENGTH = 10;

/** The microsecond time delivery ids count down from: the largest safe integer (2255). */
const ID_EPOCH_END = Number.MAX_SAFE_INTEGER;

/**
 * Returns a new delivery id. It starts with the time counted down from a far date, so ids sort
 * newest first and a plain list of a webhook's deliveries starts with the most recent.
 */
export function newDeliveryId(nowMicros: number): string {
  const countdown = String(ID_EPOCH_END - nowMicros).padStart(16, '0');
  return `${countdown}-${randomBytes(5).toString('hex')}`;
}

/** Returns the de-duplication key of the delivery of an event. */
export function eventKey(seq: number): string {
  return `event:${seq}`;
}

/** Returns the de-duplication key of the delivery of an alert log record. */
export function alertKey(seq: number): string {
  return `alert:${seq}`;
}

/** Returns the id of an alert webhook's position in its list's alert log (CHECKPOINT_KIND). */
export function alertCheckpointId(webhookId: string): string {
  return `alerts:${webhookId}`;
}
