/**
 * How long finished deliveries stay in the delivery log. Delivered deliveries and failed
 * pings beyond the newest `keepFinished` of a webhook are deleted. Dead letters beyond the
 * newest `maxDeadLetters` are deleted too, oldest first, because each keeps a copy of the
 * object version it carries, and a receiver that stays down would otherwise fill the store.
 * The number of dead letters dropped this way is kept per webhook, so the delivery log can
 * show that some are missing.
 */
import { nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type Store } from '../store/store.ts';
import { DEAD_LETTER_DROPS_KIND, deliveryKind, type DeadLetterDrops } from './records.ts';

/** Documents deleted per listed page. */
const PAGE = 500;

/** Finished deliveries between two prunes of the delivered ones of a lane. */
export const PRUNE_EVERY = 50;

/**
 * Returns how many dead letters a lane makes between two prunes of its dead letters: a tenth
 * of the cap, from 1 to PRUNE_EVERY. A prune reads the newest `maxDeadLetters`, so pruning
 * after every dead letter would read the whole cap each time. With this spacing a webhook
 * has at most a tenth more than its cap per server between prunes.
 */
export function deadLetterPruneInterval(maxDeadLetters: number): number {
  return Math.max(1, Math.min(PRUNE_EVERY, Math.floor(maxDeadLetters / 10)));
}

/**
 * Deletes the documents of one owner (delivery state) beyond the newest `keep`. Delivery ids
 * sort newest first (see newDeliveryId), so those are the oldest by creation. Returns how
 * many this call deleted; a document another node deleted first is not counted.
 *
 * NOTE: a document is read again just before it is deleted and kept when its state changed,
 * as when a dead letter was retried. The store has no conditional delete, so a change in
 * the moment between that read and the delete still loses the document.
 */
async function deleteBeyondNewest(
  store: Store,
  kind: string,
  owner: string,
  keep: number,
): Promise<number> {
  const newest = await store.listDocuments({ kind, owner, limit: keep });
  if (newest.length < keep) return 0;
  let afterId = keep === 0 ? undefined : newest.at(-1)!.id;
  let deleted = 0;
  for (;;) {
    const older = await store.listDocuments({
      kind,
      owner,
      limit: PAGE,
      ...(afterId === undefined ? {} : { afterId }),
    });
    for (const document of older) {
      const current = await store.getDocument(kind, document.id);
      if (current?.owner !== owner) continue;
      if (await store.deleteDocument(kind, document.id)) deleted += 1;
    }
    if (older.length < PAGE) return deleted;
    afterId = older.at(-1)!.id;
  }
}

/** Deletes delivered deliveries and failed pings beyond the newest `keep` of each. */
export async function pruneFinished(
  store: Store,
  webhookId: string,
  keep: number,
): Promise<number> {
  const kind = deliveryKind(webhookId);
  let deleted = 0;
  for (const owner of ['delivered', 'failed']) {
    deleted += await deleteBeyondNewest(store, kind, owner, keep);
  }
  return deleted;
}

/**
 * Deletes the dead letters of a webhook beyond the newest `maxDeadLetters` and adds their
 * number to its drop count. Returns how many this call deleted and the count since the
 * webhook was created.
 */
export async function pruneDeadLetters(
  store: Store,
  webhookId: string,
  maxDeadLetters: number,
): Promise<{ deleted: number; total: number }> {
  const deleted = await deleteBeyondNewest(store, deliveryKind(webhookId), 'dead', maxDeadLetters);
  if (deleted === 0) return { deleted, total: await droppedDeadLetters(store, webhookId) };
  return { deleted, total: await addDrops(store, webhookId, deleted) };
}

/** Returns how many dead letters of the webhook were dropped over its cap. */
export async function droppedDeadLetters(store: Store, webhookId: string): Promise<number> {
  const document = await store.getDocument(DEAD_LETTER_DROPS_KIND, webhookId);
  return document === undefined ? 0 : (JSON.parse(document.body) as DeadLetterDrops).dropped;
}

/** Adds to the drop count with a revision-checked write, so counts of two nodes both stay. */
async function addDrops(store: Store, webhookId: string, count: number): Promise<number> {
  for (;;) {
    const document = await store.getDocument(DEAD_LETTER_DROPS_KIND, webhookId);
    const before =
      document === undefined ? 0 : (JSON.parse(document.body) as DeadLetterDrops).dropped;
    const body: DeadLetterDrops = { dropped: before + count, lastDroppedAt: nowMicros() };
    try {
      await store.putDocument(
        { kind: DEAD_LETTER_DROPS_KIND, id: webhookId, body: JSON.stringify(body) },
        document?.revision ?? 0,
      );
      return body.dropped;
    } catch (error) {
      // Another node counted its own drops meanwhile: read theirs and add again.
      if (!(error instanceof StoreConflictError)) throw error;
    }
  }
}
