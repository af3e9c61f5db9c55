/**
 * What every sharing service checks first: who acts, with which token scopes, and the
 * errors that keep hidden things hidden (404) while saying why a known thing is refused
 * (403).
 */
import type { Caller } from '../auth/tokens.ts';
import { tokenAllows } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import { nowMicros } from '../stix/timestamp.ts';
import {
  StoreConflictError,
  type Store,
  type TokenRecord,
  type UserRecord,
} from '../store/store.ts';
import { auditActor, recordAudit, type AuditActor } from './audit.ts';
import type { Actor } from './service.ts';

/** The acting user, loaded and checked. */
export interface Acting {
  user: UserRecord;
  /** Absent for CLI calls, which carry no token and so no scope limits. */
  token?: TokenRecord;
  audit: AuditActor;
}

/** A token for callers without one (the CLI): no scopes, so the user's full rights. */
const OPERATOR_TOKEN: TokenRecord = {
  id: 'operator',
  userId: '',
  label: 'CLI',
  secretHash: '',
  scopes: [],
  createdAt: 0,
};

export function notFound(message: string): CairnError {
  return new CairnError('not-found', message);
}

export function forbidden(message: string): CairnError {
  return new CairnError('forbidden', message);
}

export function invalid(message: string): CairnError {
  return new CairnError('invalid-parameter', message);
}

/** Runs a store write and turns a StoreConflictError into a 409 with the store's message. */
export async function conflictsAs409<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof StoreConflictError) throw new CairnError('conflict', error.message);
    throw error;
  }
}

export class Guard {
  constructor(readonly store: Store) {}

  /**
   * Loads the acting user and token. A disabled user, or a revoked, expired or foreign
   * token, is unauthenticated, as it is for HTTP requests.
   */
  async resolve(actor: Actor, scope: 'read' | 'write' | 'admin'): Promise<Acting> {
    const user = await this.store.getUser(actor.userId);
    if (!user || user.disabled) {
      throw new CairnError('unauthenticated', 'the acting user is unknown or disabled');
    }
    let token: TokenRecord | undefined;
    if (actor.tokenId !== undefined) {
      token = await this.store.getToken(actor.tokenId);
      const now = nowMicros();
      const usable =
        token !== undefined &&
        token.userId === user.id &&
        token.revokedAt === undefined &&
        (token.expiresAt === undefined || token.expiresAt > now);
      if (!usable) throw new CairnError('unauthenticated', 'the token is revoked or expired');
    }
    if (token && !tokenAllows(token, scope)) {
      throw forbidden(`this token's scopes (${token.scopes.join(', ')}) do not include "${scope}"`);
    }
    return {
      user,
      ...(token ? { token } : {}),
      audit: auditActor({ user, token: token ?? OPERATOR_TOKEN }, actor.sourceAddress),
    };
  }

  /** The caller as the access predicate sees it. */
  caller(acting: Acting): Caller {
    return {
      user: acting.user,
      token: acting.token ?? { ...OPERATOR_TOKEN, userId: acting.user.id },
    };
  }

  isPlatformAdmin(acting: Acting): boolean {
    return acting.user.role === 'platform-admin';
  }

  /** Whether the acting user is a platform admin or an org admin of the organisation. */
  administers(acting: Acting, organisationId: string): boolean {
    if (this.isPlatformAdmin(acting)) return true;
    return acting.user.role === 'org-admin' && acting.user.organisationId === organisationId;
  }

  requirePlatformAdmin(acting: Acting, what: string): void {
    if (!this.isPlatformAdmin(acting)) throw forbidden(`only platform admins may ${what}`);
  }

  audit(
    acting: Acting,
    action: string,
    target: string | undefined,
    details: Record<string, unknown> = {},
    anonymous = false,
  ): Promise<unknown> {
    return recordAudit(this.store, acting.audit, action, target, details, anonymous);
  }
}

/**
 * Checks a collection alias: a URL path segment that cannot be mistaken for a collection
 * id, because TAXII paths take either.
 */
export function checkAlias(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw invalid(
      `alias ${JSON.stringify(value)} is not valid: use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw invalid(`alias ${JSON.stringify(value)} looks like a collection id: choose a name`);
  }
  return value;
}

/** Names of organisations, communities and collections: 1 to 200 characters, trimmed. */
export function checkName(value: unknown, what: string): string {
  if (
    typeof value !== 'string' ||
    value.trim() !== value ||
    value.length < 1 ||
    value.length > 200
  ) {
    throw invalid(
      `${what} ${JSON.stringify(value)} is not valid: use 1 to 200 characters without leading or trailing spaces`,
    );
  }
  if ([...value].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)) {
    throw invalid(`${what} ${JSON.stringify(value)} contains control characters`);
  }
  return value;
}
