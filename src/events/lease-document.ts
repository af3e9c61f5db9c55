/**
 * A lease on the single document of a kind, for background work that one node at a time
 * does: the correlation indexer and the retro-hunt key indexer. A pass claims the document
 * through its `due` time (Store.claimDocuments) and releases it by writing it back due at
 * once, with the state the next pass starts from in its body.
 */
import { nowMicros } from '../stix/timestamp.ts';
import { StoreConflictError, type DocumentRecord, type Store } from '../store/store.ts';

export interface LeaseDocument {
  /** The document kind. No other document may have this kind, since claims take any of it. */
  kind: string;
  id: string;
  /** The body the document is created with when it is missing. */
  initialBody: string;
  /** How long a claim lasts, in milliseconds. The lease of a node that dies ends after it. */
  leaseMs: number;
}

/**
 * Claims the lease document, creating it first when it is missing, and returns it with its
 * new revision, or undefined when another node holds the lease. Pass `exists` when the
 * caller just read the document, to skip the second read.
 */
export async function claimLease(
  store: Store,
  lease: LeaseDocument,
  exists = false,
): Promise<DocumentRecord | undefined> {
  const now = nowMicros();
  if (!exists && (await store.getDocument(lease.kind, lease.id)) === undefined) {
    try {
      await store.putDocument(
        { kind: lease.kind, id: lease.id, due: now, body: lease.initialBody },
        0,
      );
    } catch (error) {
      // Another node created it first; claim it below like any other pass.
      if (!(error instanceof StoreConflictError)) throw error;
    }
  }
  const leaseUntil = now + lease.leaseMs * 1000;
  const [claimed] = await store.claimDocuments(lease.kind, now, leaseUntil, 1);
  return claimed;
}

/**
 * Writes `body` to the claimed document and makes it due at once, so the next pass on any
 * node may claim it. Returns false, and writes nothing, when the lease ran out and another
 * node claimed the document meanwhile.
 */
export async function releaseLease(
  store: Store,
  lease: LeaseDocument,
  claimed: DocumentRecord,
  body: string,
): Promise<boolean> {
  try {
    await store.putDocument(
      { kind: lease.kind, id: lease.id, due: nowMicros(), body },
      claimed.revision,
    );
    return true;
  } catch (error) {
    if (!(error instanceof StoreConflictError)) throw error;
    return false;
  }
}
