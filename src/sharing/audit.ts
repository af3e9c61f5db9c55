/**
 * Audit log writes and reads (docs/sharing.md, "Audit log"): who (user and organisation),
 * what, when and from where, for every write, share, membership change, failed
 * authentication and admin action.
 */
import type { Caller } from '../auth/tokens.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { AuditRecord, Store } from '../store/store.ts';

/** Most object ids listed in one audit entry; the count covers the rest. */
export const MAX_AUDIT_IDS = 1000;

/** The audit details of a batch of writes: counts, and the ids of added objects up to a cap. */
export function writeDetails(result: {
  successes: ReadonlyArray<{ id: string; outcome: 'added' | 'duplicate' }>;
  failures: readonly unknown[];
}): Record<string, unknown> {
  const added = result.successes.filter((s) => s.outcome === 'added').map((s) => s.id);
  return {
    added: added.slice(0, MAX_AUDIT_IDS),
    addedCount: added.length,
    duplicates: result.successes.length - added.length,
    failed: result.failures.length,
  };
}

/** Who acted, as the audit log records it. */
export interface AuditActor {
  userId: string;
  userName: string;
  organisationId: string;
  /** Absent for CLI commands. */
  sourceAddress?: string;
}

export function auditActor(caller: Caller, sourceAddress?: string): AuditActor {
  return {
    userId: caller.user.id,
    userName: caller.user.name,
    organisationId: caller.user.organisationId,
    ...(sourceAddress !== undefined ? { sourceAddress } : {}),
  };
}

/**
 * Appends one entry. `anonymous` marks an entry that names the real contributor of an
 * anonymous share, so that only platform admins read it.
 */
export async function recordAudit(
  store: Store,
  actor: AuditActor,
  action: string,
  target: string | undefined,
  details: Record<string, unknown>,
  anonymous = false,
): Promise<AuditRecord> {
  return store.appendAudit({
    at: nowMicros(),
    action,
    actorId: actor.userId,
    actorName: actor.userName,
    organisationId: actor.organisationId,
    ...(actor.sourceAddress !== undefined ? { sourceAddress: actor.sourceAddress } : {}),
    ...(target !== undefined ? { target } : {}),
    details,
    anonymous,
  });
}
