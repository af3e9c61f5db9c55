/**
 * Whether an alert webhook may still receive an alert of its watch list. The alert was
 * computed with the list's view (src/watch/access.ts), so it shows only what the list's
 * owner may see. The alert dispatcher checks before it creates a delivery and the worker
 * again before each attempt. Delivery stops in these cases:
 *
 * - the webhook's user is deleted or disabled;
 * - the token that subscribed the webhook is revoked or expires;
 * - the user may no longer see the list;
 * - the list's view may no longer read the version that matched, as when its organisation
 *   left the community.
 */
import { CairnError } from '../errors.ts';
import type { Acting } from '../sharing/guard.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';
import { viewOf, WatchAccess } from '../watch/access.ts';
import type { Alert, WatchList } from '../watch/model.ts';
import { WatchService } from '../watch/service.ts';
import type { WebhookBody } from './records.ts';

export type AlertVerdict = { visible: true; list: WatchList } | { visible: false; reason: string };

/**
 * Checks alerts against the current users, tokens, lists and rights. It caches them for
 * its lifetime, so create one per batch of alerts or per attempt.
 */
export class AlertAudience {
  readonly #store: Store;
  readonly #service: WatchService;
  readonly #access: WatchAccess;
  readonly #lists = new Map<string, Promise<WatchList | undefined>>();
  readonly #subscribers = new Map<string, Promise<Acting | string>>();

  constructor(store: Store) {
    this.#store = store;
    this.#service = new WatchService(store);
    this.#access = new WatchAccess(store);
  }

  async check(webhook: WebhookBody, alert: Alert): Promise<AlertVerdict> {
    const list = await this.#list(alert.watchlistId);
    if (list === undefined) return { visible: false, reason: 'the watch list no longer exists' };
    const acting = await this.#subscriber(webhook.createdBy, webhook.tokenId);
    if (typeof acting === 'string') return { visible: false, reason: acting };
    if (!this.#service.visibleTo(acting, list)) {
      return { visible: false, reason: 'the webhook user may no longer see the watch list' };
    }
    const readable = await this.#access.readsVersion(
      viewOf(list),
      alert.collectionId,
      alert.objectId,
      alert.version,
    );
    if (!readable) {
      return { visible: false, reason: 'the watch list may no longer read the object' };
    }
    return { visible: true, list };
  }

  #list(id: string): Promise<WatchList | undefined> {
    let list = this.#lists.get(id);
    if (list === undefined) {
      list = this.#service.repository.getList(id).then((stored) => stored?.list);
      this.#lists.set(id, list);
    }
    return list;
  }

  /** Returns the webhook's user as the watch services see it, or why it may read nothing. */
  #subscriber(userId: string, tokenId: string | undefined): Promise<Acting | string> {
    const key = `${userId} ${tokenId ?? ''}`;
    let subscriber = this.#subscribers.get(key);
    if (subscriber === undefined) {
      subscriber = this.#loadSubscriber(userId, tokenId);
      this.#subscribers.set(key, subscriber);
    }
    return subscriber;
  }

  async #loadSubscriber(userId: string, tokenId: string | undefined): Promise<Acting | string> {
    const user = await this.#store.getUser(userId);
    if (user === undefined) return 'the webhook user no longer exists';
    if (user.disabled) return 'the webhook user is disabled';
    if (tokenId !== undefined) {
      const token = await this.#store.getToken(tokenId);
      if (token === undefined || token.userId !== userId || token.revokedAt !== undefined) {
        return 'the token that subscribed the webhook was revoked';
      }
      if (token.expiresAt !== undefined && token.expiresAt <= nowMicros()) {
        return 'the token that subscribed the webhook expired';
      }
    }
    try {
      return await this.#service.resolve({ userId, ...(tokenId === undefined ? {} : { tokenId }) });
    } catch (error) {
      // The checks above cover what resolve rejects, except a token without the read scope.
      if (error instanceof CairnError) return `the webhook user may not read: ${error.message}`;
      throw error;
    }
  }
}
