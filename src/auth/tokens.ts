/**
 * API tokens. A token reads `cairn_<token id>_<secret>`: the id finds the record and the
 * secret is checked against its SHA-256 hash. SHA-256 without a salt is enough here
 * because secrets are 256 random bits, not passwords people choose.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Store, TokenRecord, TokenScope, UserRecord } from '../store/store.ts';
import { nowMicros } from '../stix/timestamp.ts';

const TOKEN_PATTERN = /^cairn_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

/** Returns the id part of a whole token, or undefined when the value is not shaped like one. */
export function tokenIdOf(token: string): string | undefined {
  return /^cairn_([0-9a-f]{32})_/.exec(token)?.[1];
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface IssuedToken {
  record: TokenRecord;
  /** The whole token; shown once and never stored. */
  token: string;
}

export interface TokenOptions {
  label?: string;
  scopes?: TokenScope[];
  /** Expiry in microseconds since the epoch. */
  expiresAt?: number;
}

export async function issueToken(
  store: Store,
  user: UserRecord,
  options: TokenOptions = {},
): Promise<IssuedToken> {
  const id = randomUUID().replaceAll('-', '');
  const secret = randomBytes(32).toString('base64url');
  const record: TokenRecord = {
    id,
    userId: user.id,
    label: options.label ?? '',
    secretHash: hashSecret(secret),
    scopes: options.scopes ?? [],
    createdAt: nowMicros(),
    ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
  };
  await store.createToken(record);
  return { record, token: `cairn_${id}_${secret}` };
}

export interface Caller {
  user: UserRecord;
  token: TokenRecord;
}

/**
 * Checks a token string and returns its user, or undefined when the token is malformed,
 * unknown, revoked, expired, or its user is disabled. The reason is not returned, so a
 * client cannot tell a wrong secret from an unknown id.
 */
export async function verifyToken(store: Store, token: string): Promise<Caller | undefined> {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  const [, id, secret] = match as unknown as [string, string, string];
  const record = await store.getToken(id);
  const expected = Buffer.from(record?.secretHash ?? '0'.repeat(64), 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  const secretOk = timingSafeEqual(expected, actual);
  if (!record || !secretOk) return undefined;

  const now = nowMicros();
  if (record.revokedAt !== undefined) return undefined;
  if (record.expiresAt !== undefined && record.expiresAt <= now) return undefined;
  const user = await store.getUser(record.userId);
  if (!user || user.disabled) return undefined;
  return { user, token: record };
}

/** Whether the token's scopes allow an action; a token without scopes has all of its user's rights. */
export function tokenAllows(token: TokenRecord, scope: TokenScope): boolean {
  if (token.scopes.length === 0) return true;
  if (token.scopes.includes('admin')) return true;
  return token.scopes.includes(scope);
}
