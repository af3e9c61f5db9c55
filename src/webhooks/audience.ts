/**
 * Whether the user who registered a webhook may receive an event, and the event as that
 * user sees it, through the same per-event access check as event streams
 * (events/filter.ts). The dispatcher checks when it creates a delivery and the worker
 * checks again just before each attempt, so a user who was disabled or left a community
 * since receives nothing more.
 */
import { AccessLookups, EventReader } from '../events/filter.ts';
import type { EventKind, EventRecord, Store, TokenRecord, UserRecord } from '../store/store.ts';

/**
 * Builds the token a webhook's deliveries act under: read access with every right of the
 * user, because a webhook outlives the API token that created it.
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

export type Visibility =
  | {
      visible: true;
      /** `deleted` also when the object's newest version left the user's view. */
      kind: EventKind;
      /** The version as the user may see it; absent for deletes. */
      json?: string;
    }
  | { visible: false; reason: string };

/**
 * Decides what users may receive of events. It caches users, community relations and
 * rights for its lifetime, so create one per batch of events or per attempt.
 */
export class AudienceCheck {
  readonly #store: Store;
  readonly #lookups: AccessLookups;
  readonly #readers = new Map<string, Promise<EventReader | string>>();

  constructor(store: Store) {
    this.#store = store;
    this.#lookups = new AccessLookups(store);
  }

  async check(userId: string, event: EventRecord): Promise<Visibility> {
    const reader = await this.#reader(userId);
    if (typeof reader === 'string') return { visible: false, reason: reader };
    await reader.load([event.collectionId], this.#lookups);
    const view = await reader.view(event);
    if (view === undefined) {
      return { visible: false, reason: 'the webhook user may not read this object' };
    }
    return {
      visible: true,
      kind: view.kind,
      ...(view.json === undefined ? {} : { json: view.json }),
    };
  }

  /** Returns the reader of a user, or why the user may read nothing. */
  #reader(userId: string): Promise<EventReader | string> {
    let reader = this.#readers.get(userId);
    if (reader === undefined) {
      reader = this.#store.getUser(userId).then((user) => {
        if (user === undefined) return 'the webhook user no longer exists';
        if (user.disabled) return 'the webhook user is disabled';
        return new EventReader(this.#store, { user, token: deliveryToken(user) });
      });
      this.#readers.set(userId, reader);
    }
    return reader;
  }
}
