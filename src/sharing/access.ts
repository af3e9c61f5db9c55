/**
 * The access decision for collections. Every read and write path asks here, so the rules
 * grow in one place when organisations and communities arrive.
 */
import { tokenAllows, type Caller } from '../auth/tokens.ts';
import type { CollectionRecord, Store } from '../store/store.ts';

export interface CollectionRights {
  canRead: boolean;
  canWrite: boolean;
}

export const NO_RIGHTS: CollectionRights = { canRead: false, canWrite: false };

/** The caller's rights on one collection: admins hold all, others what they were granted. */
export async function collectionRights(
  store: Store,
  caller: Caller,
  collection: CollectionRecord,
): Promise<CollectionRights> {
  let rights: CollectionRights;
  if (caller.user.role === 'admin') {
    rights = { canRead: true, canWrite: true };
  } else {
    const grant = await store.getGrant(collection.id, caller.user.id);
    rights = grant ? { canRead: grant.canRead, canWrite: grant.canWrite } : NO_RIGHTS;
  }
  return {
    canRead: rights.canRead && tokenAllows(caller.token, 'read'),
    canWrite: rights.canWrite && tokenAllows(caller.token, 'write'),
  };
}

/** Whether the caller may know the collection exists at all. */
export function isVisible(rights: CollectionRights): boolean {
  return rights.canRead || rights.canWrite;
}
