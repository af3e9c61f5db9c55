/**
 * A Store that announces its own writes. The server wraps its store in it, so every write
 * path (TAXII POST and DELETE, API shares, webhooks, connectors) announces new events after
 * the commit. Every change to memberships, users or tokens signals the followers of the log
 * to check their readers' access again. No write path has to remember either.
 */
import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import type { EventNotifier } from './notifier.ts';

/** Store methods that append events. */
const EVENT_WRITES = new Set<string>(['addObjects', 'addConverted', 'deleteObject']);

/** Store methods that may change who reads what. */
const ACCESS_WRITES = new Set<string>([
  'addMember',
  'removeMember',
  'addClient',
  'removeClient',
  'answerInvitation',
  'updateCharter',
  'updateUser',
  'revokeToken',
  'createCollection',
]);

/** A signal within one process that access rules may have changed. */
export class AccessChanges {
  readonly #listeners = new Set<() => void>();

  emit(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` after each change; returns a function that stops it. */
  listen(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * Returns `store` with announcements added after the writes above. Announcing reads the
 * log's newest seq, which costs one index look-up per write call. A failed announcement is
 * logged and loses nothing: followers also poll the log.
 */
export function announcingStore(
  store: Store,
  notifier: EventNotifier,
  accessChanges: AccessChanges,
  logger: Logger,
): Store {
  const announce = (): void => {
    store
      .eventBounds()
      .then(({ last }) => notifier.announce(last))
      .catch((error: unknown) => logger.error({ err: error }, 'event announcement failed'));
  };
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const known = wrapped.get(property);
      if (known !== undefined) return known;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;

      const name = String(property);
      const method = value as (...args: unknown[]) => unknown;
      let result: unknown;
      if (EVENT_WRITES.has(name) || ACCESS_WRITES.has(name)) {
        const after = EVENT_WRITES.has(name) ? announce : () => accessChanges.emit();
        result = async (...args: unknown[]) => {
          const outcome = await method.apply(target, args);
          after();
          return outcome;
        };
      } else {
        // Bound to the store itself, whose private fields a proxy receiver cannot reach.
        result = method.bind(target);
      }
      wrapped.set(property, result);
      return result;
    },
  });
}
