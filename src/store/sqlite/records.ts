/**
 * Conversions between SQLite rows and the store's records. Optional properties that are
 * NULL in the row are left out of the record, as the interface declares them optional.
 */
import type {
  ApiRootRecord,
  CollectionGrant,
  CollectionRecord,
  TokenRecord,
  TokenScope,
  UserRecord,
} from '../store.ts';

export interface ApiRootRow {
  name: string;
  title: string;
  description: string | null;
  max_content_length: number;
}

export function toApiRoot(row: ApiRootRow): ApiRootRecord {
  const record: ApiRootRecord = {
    name: row.name,
    title: row.title,
    maxContentLength: row.max_content_length,
  };
  if (row.description !== null) record.description = row.description;
  return record;
}

export interface CollectionRow {
  id: string;
  api_root: string;
  title: string;
  description: string | null;
  alias: string | null;
  media_types: string;
  created_at: number;
}

export function toCollection(row: CollectionRow): CollectionRecord {
  const record: CollectionRecord = {
    id: row.id,
    apiRoot: row.api_root,
    title: row.title,
    mediaTypes: JSON.parse(row.media_types) as string[],
    createdAt: row.created_at,
  };
  if (row.description !== null) record.description = row.description;
  if (row.alias !== null) record.alias = row.alias;
  return record;
}

export interface UserRow {
  id: string;
  name: string;
  role: UserRecord['role'];
  created_at: number;
  disabled: number;
}

export function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdAt: row.created_at,
    disabled: row.disabled === 1,
  };
}

export interface TokenRow {
  id: string;
  user_id: string;
  label: string;
  secret_hash: string;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export function toToken(row: TokenRow): TokenRecord {
  const record: TokenRecord = {
    id: row.id,
    userId: row.user_id,
    label: row.label,
    secretHash: row.secret_hash,
    scopes: JSON.parse(row.scopes) as TokenScope[],
    createdAt: row.created_at,
  };
  if (row.expires_at !== null) record.expiresAt = row.expires_at;
  if (row.last_used_at !== null) record.lastUsedAt = row.last_used_at;
  if (row.revoked_at !== null) record.revokedAt = row.revoked_at;
  return record;
}

export interface GrantRow {
  collection_id: string;
  user_id: string;
  can_read: number;
  can_write: number;
}

export function toGrant(row: GrantRow): CollectionGrant {
  return {
    collectionId: row.collection_id,
    userId: row.user_id,
    canRead: row.can_read === 1,
    canWrite: row.can_write === 1,
  };
}
