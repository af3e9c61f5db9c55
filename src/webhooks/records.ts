/**
 * How webhooks and their deliveries are kept as store documents (see DocumentRecord).
 *
 * - A webhook is a document of kind `webhook`, owned by its organisation.
 * - Deliveries of one webhook are documents of kind `webhook-delivery:<webhook id>`, so a
 *   worker claims the due deliveries of one endpoint at a time and a slow endpoint never
 *   takes the slots of another. Their `owner` is the delivery state, so the dead letters
 *   of a webhook are one indexed list. Their `key` is `event:<seq>`, so an event becomes at
 *   most one delivery per webhook however many nodes dispatch it.
 */
import { randomBytes } from 'node:crypto';

import type { EntrySharing, EventKind, TlpLevel } from '../store/store.ts';

export const WEBHOOK_KIND = 'webhook';

/** The document kind that holds the deliveries of one webhook. */
export function deliveryKind(webhookId: string): string {
  return `webhook-delivery:${webhookId}`;
}

/** Which events a webhook receives; every field narrows, and an empty filter takes all. */
export interface WebhookFilter {
  /** Only events of these collections (ids). */
  collections?: string[];
  /** Only events of collections owned by this community. */
  communityId?: string;
  /** Only objects of these STIX types. */
  types?: string[];
  /** Only objects with at least one of these labels. */
  labels?: string[];
  /** Only versions marked with at least one of these TLP levels. */
  tlp?: TlpLevel[];
  /** Only objects whose `confidence` is at least this (0 to 100). */
  minConfidence?: number;
}

/** The body of a `webhook` document. */
export interface WebhookBody {
  url: string;
  description: string;
  filter: WebhookFilter;
  /**
   * The signing secret. HMAC needs the secret itself, so it is stored as it is, unlike API
   * tokens; the API shows it only in the response that creates the webhook, and it is
   * never logged.
   */
  secret: string;
  organisationId: string;
  /** The user who registered the webhook; deliveries carry only what this user may read. */
  createdBy: string;
  createdAt: number;
  /**
   * The last event seq the dispatcher has turned into deliveries for this webhook. It
   * starts at the newest seq when the webhook is created, so a webhook receives only
   * later events, and each webhook keeps its own position so one created while the
   * dispatcher runs misses nothing.
   */
  cursor: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead' | 'failed';

/** What one attempt to send a delivery did. */
export interface AttemptRecord {
  at: number;
  durationMs: number;
  status?: number;
  error?: string;
  redirectHost?: string;
  responseExcerpt?: string;
}

/** The event a delivery carries, with what the access check at send time needs. */
export interface DeliveryEvent {
  seq: number;
  at: number;
  kind: EventKind;
  collectionId: string;
  communityId?: string;
  objectId: string;
  objectType: string;
  specVersion: string;
  version: string;
  /** The version as stored, before redaction for the webhook's user; absent for deletes. */
  json?: string;
  sharing: EntrySharing;
}

/**
 * The body of a delivery document. `state` repeats the document's owner. Pings are sent
 * once and end `delivered` or `failed`; event deliveries are retried and end `delivered`
 * or `dead`.
 */
export interface DeliveryBody {
  webhookId: string;
  state: DeliveryState;
  /** `ping` for a test delivery, else the event kind. */
  kind: EventKind | 'ping';
  event?: DeliveryEvent;
  createdAt: number;
  attempts: number;
  /** The latest attempts, newest last; older ones are dropped. */
  history: AttemptRecord[];
  nextAttemptAt?: number;
  finishedAt?: number;
  lastError?: string;
}

/** Attempts kept in a delivery's history. */
export const HISTORY_LENGTH = 10;

/** The microsecond time delivery ids count down from: the largest safe integer (2255). */
const ID_EPOCH_END = Number.MAX_SAFE_INTEGER;

/**
 * A new delivery id. It starts with the time counted down from a far date, so ids sort
 * newest first and a plain list of a webhook's deliveries starts with the most recent.
 */
export function newDeliveryId(nowMicros: number): string {
  const countdown = String(ID_EPOCH_END - nowMicros).padStart(16, '0');
  return `${countdown}-${randomBytes(5).toString('hex')}`;
}

/** The de-duplication key of the delivery of an event. */
export function eventKey(seq: number): string {
  return `event:${seq}`;
}
