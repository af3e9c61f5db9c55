/**
 * Conversions between PostgreSQL rows and the store's records, with the column lists that
 * produce those rows. Optional properties that are NULL in the row are left out of the
 * record, as the interface declares them optional.
 *
 * Queries name their columns instead of using `*`, so a column that a later migration adds
 * does not change the result of a statement that another node has already prepared.
 */
// These rows have the same columns and types on both stores, so they share their mapping.
export {
  toApiRoot,
  toInvitation,
  toOrganisation,
  type ApiRootRow,
  type InvitationRow,
  type OrganisationRow,
} from '../sqlite/records.ts';

import type {
  AuditRecord,
  CollectionRecord,
  CommunityRecord,
  DocumentRecord,
  TokenRecord,
  TokenScope,
  UserRecord,
} from '../store.ts';

export const API_ROOT_COLUMNS = 'name, title, description, max_content_length';

export const COLLECTION_COLUMNS =
  'id, api_root, title, description, alias, media_types, created_at, community_id';

export interface CollectionRow {
  id: string;
  api_root: string;
  title: string;
  description: string | null;
  alias: string | null;
  media_types: string[];
  created_at: number;
  community_id: string | null;
}

export function toCollection(row: CollectionRow): CollectionRecord {
  const record: CollectionRecord = {
    id: row.id,
    apiRoot: row.api_root,
    title: row.title,
    mediaTypes: row.media_types,
    createdAt: row.created_at,
  };
  if (row.description !== null) record.description = row.description;
  if (row.alias !== null) record.alias = row.alias;
  if (row.community_id !== null) record.communityId = row.community_id;
  return record;
}

export const USER_COLUMNS = 'id, name, organisation_id, role, created_at, disabled';

export interface UserRow {
  id: string;
  name: string;
  organisation_id: string;
  role: UserRecord['role'];
  created_at: number;
  disabled: boolean;
}

export function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    name: row.name,
    organisationId: row.organisation_id,
    role: row.role,
    createdAt: row.created_at,
    disabled: row.disabled,
  };
}

export const TOKEN_COLUMNS =
  'id, user_id, label, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at';

export interface TokenRow {
  id: string;
  user_id: string;
  label: string;
  secret_hash: string;
  scopes: TokenScope[];
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
    scopes: row.scopes,
    createdAt: row.created_at,
  };
  if (row.expires_at !== null) record.expiresAt = row.expires_at;
  if (row.last_used_at !== null) record.lastUsedAt = row.last_used_at;
  if (row.revoked_at !== null) record.revokedAt = row.revoked_at;
  return record;
}

export const ORGANISATION_COLUMNS = 'id, name, identity, created_at';

export const COMMUNITY_COLUMNS =
  'id, name, description, default_tlp, allow_anonymous, publish_clear, identity, created_at';

export interface CommunityRow {
  id: string;
  name: string;
  description: string;
  default_tlp: CommunityRecord['defaultTlp'];
  allow_anonymous: boolean;
  publish_clear: boolean;
  identity: string;
  created_at: number;
}

export function toCommunity(row: CommunityRow): CommunityRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    defaultTlp: row.default_tlp,
    allowAnonymous: row.allow_anonymous,
    publishClear: row.publish_clear,
    identity: row.identity,
    createdAt: row.created_at,
  };
}

export const INVITATION_COLUMNS =
  'id, kind, community_id, organisation_id, state, created_by, created_at, answered_by,' +
  ' answered_at';

export const AUDIT_COLUMNS =
  'seq, at, action, actor_id, actor_name, organisation_id, source_address, target, details,' +
  ' anonymous';

export interface AuditRow {
  seq: number;
  at: number;
  action: string;
  actor_id: string | null;
  actor_name: string | null;
  organisation_id: string | null;
  source_address: string | null;
  target: string | null;
  details: string;
  anonymous: boolean;
}

export function toAudit(row: AuditRow): AuditRecord {
  const record: AuditRecord = {
    seq: row.seq,
    at: row.at,
    action: row.action,
    details: JSON.parse(row.details) as Record<string, unknown>,
    anonymous: row.anonymous,
  };
  if (row.actor_id !== null) record.actorId = row.actor_id;
  if (row.actor_name !== null) record.actorName = row.actor_name;
  if (row.organisation_id !== null) record.organisationId = row.organisation_id;
  if (row.source_address !== null) record.sourceAddress = row.source_address;
  if (row.target !== null) record.target = row.target;
  return record;
}

export const DOCUMENT_COLUMNS = 'kind, id, owner, key, due, body, revision, updated_at';

export interface DocumentRow {
  kind: string;
  id: string;
  owner: string | null;
  key: string | null;
  due: number | null;
  body: string;
  revision: number;
  updated_at: number;
}

export function toDocument(row: DocumentRow): DocumentRecord {
  const record: DocumentRecord = {
    kind: row.kind,
    id: row.id,
    body: row.body,
    revision: row.revision,
    updatedAt: row.updated_at,
  };
  if (row.owner !== null) record.owner = row.owner;
  if (row.key !== null) record.key = row.key;
  if (row.due !== null) record.due = row.due;
  return record;
}
