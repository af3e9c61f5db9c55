/**
 * Conversions between SQLite rows and the store's records. Optional properties that are
 * NULL in the row are left out of the record, as the interface declares them optional.
 */
import type {
  ApiRootRecord,
  AuditRecord,
  CollectionRecord,
  CommunityRecord,
  InvitationRecord,
  OrganisationRecord,
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
  community_id: string | null;
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
  if (row.community_id !== null) record.communityId = row.community_id;
  return record;
}

export interface UserRow {
  id: string;
  name: string;
  organisation_id: string;
  role: UserRecord['role'];
  created_at: number;
  disabled: number;
}

export function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    name: row.name,
    organisationId: row.organisation_id,
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

export interface OrganisationRow {
  id: string;
  name: string;
  identity: string;
  created_at: number;
}

export function toOrganisation(row: OrganisationRow): OrganisationRecord {
  return { id: row.id, name: row.name, identity: row.identity, createdAt: row.created_at };
}

export interface CommunityRow {
  id: string;
  name: string;
  description: string;
  default_tlp: CommunityRecord['defaultTlp'];
  allow_anonymous: number;
  publish_clear: number;
  identity: string;
  created_at: number;
}

export function toCommunity(row: CommunityRow): CommunityRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    defaultTlp: row.default_tlp,
    allowAnonymous: row.allow_anonymous === 1,
    publishClear: row.publish_clear === 1,
    identity: row.identity,
    createdAt: row.created_at,
  };
}

export function fromCommunity(record: CommunityRecord): CommunityRow {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    default_tlp: record.defaultTlp,
    allow_anonymous: +record.allowAnonymous,
    publish_clear: +record.publishClear,
    identity: record.identity,
    created_at: record.createdAt,
  };
}

export interface InvitationRow {
  id: string;
  kind: InvitationRecord['kind'];
  community_id: string;
  organisation_id: string;
  state: InvitationRecord['state'];
  created_by: string;
  created_at: number;
  answered_by: string | null;
  answered_at: number | null;
}

export function toInvitation(row: InvitationRow): InvitationRecord {
  const record: InvitationRecord = {
    id: row.id,
    kind: row.kind,
    communityId: row.community_id,
    organisationId: row.organisation_id,
    state: row.state,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
  if (row.answered_by !== null) record.answeredBy = row.answered_by;
  if (row.answered_at !== null) record.answeredAt = row.answered_at;
  return record;
}

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
  anonymous: number;
}

export function toAudit(row: AuditRow): AuditRecord {
  const record: AuditRecord = {
    seq: row.seq,
    at: row.at,
    action: row.action,
    details: JSON.parse(row.details) as Record<string, unknown>,
    anonymous: row.anonymous === 1,
  };
  if (row.actor_id !== null) record.actorId = row.actor_id;
  if (row.actor_name !== null) record.actorName = row.actor_name;
  if (row.organisation_id !== null) record.organisationId = row.organisation_id;
  if (row.source_address !== null) record.sourceAddress = row.source_address;
  if (row.target !== null) record.target = row.target;
  return record;
}
