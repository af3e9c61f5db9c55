/**
 * Whether the user who registered a webhook may receive an event, and the object as that
 * user may see it. The dispatcher asks when it creates a delivery and the worker asks
 * again just before each attempt, so a user who was disabled or left a community since
 * receives nothing more.
 */
import type { Caller } from '../auth/tokens.ts';
import { collectionRights, loadCollectionContext, mayRead } from '../sharing/access.ts';
import { redactGranular } from '../sharing/granular.ts';
import type { Store, TokenRecord, UserRecord } from '../store/store.ts';
import type { DeliveryEvent } from './records.ts';

/**
 * The token a webhook's deliveries act under: read access with every right of the user,
 * because a webhook outlives the API token that created it.
 */
function deliveryToken(user: UserRecord): TokenRecord {
  return {
    id: 'webhook',
    userId: user.id,
    label: 'webhook delivery',
    secretHash: '',
    scopes: ['read'],
    createdAt: 0,
  };
}

export type Visibility = { visible: true; json?: string } | { visible: false; reason: string };

/**
 * Decides what one user may receive of events. It caches users and collection rights for
 * its lifetime, so create one per batch of events or per attempt, not per server.
 */
export class AudienceCheck {
  readonly #store: Store;
  readonly #users = new Map<string, Promise<UserRecord | undefined>>();
  readonly #rights = new Map<string, Promise<ReturnType<typeof collectionRights> | undefined>>();

  constructor(store: Store) {
    this.#store = store;
  }

  async check(userId: string, event: DeliveryEvent): Promise<Visibility> {
    const user = await this.#user(userId);
    if (user === undefined) return { visible: false, reason: 'the webhook user no longer exists' };
    if (user.disabled) return { visible: false, reason: 'the webhook user is disabled' };

    const caller: Caller = { user, token: deliveryToken(user) };
    const rights = await this.#collectionRights(caller, event.collectionId);
    if (rights === undefined || !mayRead(caller, rights, event.sharing)) {
      return { visible: false, reason: 'the webhook user may not read this object' };
    }
    if (event.json === undefined || !event.sharing.granularMarkings) {
      return { visible: true, ...(event.json === undefined ? {} : { json: event.json }) };
    }
    const json = redactGranular(event.json, {
      widest: rights.widest,
      contributed: event.sharing.contributorId === user.id,
      recipient: event.sharing.recipients.includes(user.id),
    });
    return { visible: true, json };
  }

  #user(userId: string): Promise<UserRecord | undefined> {
    let user = this.#users.get(userId);
    if (user === undefined) {
      user = this.#store.getUser(userId);
      this.#users.set(userId, user);
    }
    return user;
  }

  #collectionRights(caller: Caller, collectionId: string) {
    const cacheKey = `${caller.user.id} ${collectionId}`;
    let rights = this.#rights.get(cacheKey);
    if (rights === undefined) {
      rights = this.#store.getCollectionById(collectionId).then(async (collection) => {
        if (collection === undefined) return undefined;
        const context = await loadCollectionContext(this.#store, caller, collection);
        return collectionRights(caller, context);
      });
      this.#rights.set(cacheKey, rights);
    }
    return rights;
  }
}
