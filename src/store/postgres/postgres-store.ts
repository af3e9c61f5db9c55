/**
 * The Store on PostgreSQL through pg 8, for one or several Cairn nodes that share a
 * database.
 *
 * The store keeps no state of its own between calls: every method reads what it needs
 * from the database, so several nodes see each other's writes at once. Transactions run
 * at READ COMMITTED; where a check and a change must not interleave with another node's,
 * they lock the row they depend on (a collection, a community) or are one statement.
 * A database that cannot be reached makes calls fail with StoreUnavailableError, and the
 * pool reconnects by itself once the server answers again.
 */
import { randomUUID } from 'node:crypto';

import { nowMicros } from '../../stix/timestamp.ts';
import {
  ROLES,
  StoreConflictError,
  type AccessFilter,
  type AddResult,
  type ApiRootRecord,
  type AuditFilter,
  type AuditRecord,
  type Charter,
  type CollectionRecord,
  type CommunityRecord,
  type CommunityRelation,
  type ConvertedAddResult,
  type DocumentQuery,
  type DocumentRecord,
  type DocumentWrite,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type HuntKey,
  type HuntKeyQuery,
  type ObjectHuntKeys,
  type InvitationRecord,
  type NewAuditRecord,
  type NewCollection,
  type NewDocument,
  type FeedbackChange,
  type FeedbackReport,
  type ObservableRef,
  type ObservableStats,
  type OrganisationRecord,
  type Page,
  type PreparedObject,
  type StatusRecord,
  type Store,
  type StoredVersion,
  type StoredVersionWithJson,
  type TokenRecord,
  type UserRecord,
  type VersionQuery,
  type VersionSelector,
} from '../store.ts';
import { Connection, type PostgresStoreOptions } from './connection.ts';
import { constraintKind, constraintName } from './constraints.ts';
import { CorrelationTables } from './correlation.ts';
import { DocumentTable } from './documents.ts';
import { EventLog } from './event-log.ts';
import { HuntKeyTables } from './hunt-keys.ts';
import { ObjectVersions } from './object-versions.ts';
import {
  API_ROOT_COLUMNS,
  COLLECTION_COLUMNS,
  TOKEN_COLUMNS,
  USER_COLUMNS,
  toApiRoot,
  toCollection,
  toToken,
  toUser,
  type ApiRootRow,
  type CollectionRow,
  type TokenRow,
  type UserRow,
} from './records.ts';
import { checkSchema, migrateSchema } from './schema.ts';
import { SharingTables } from './sharing-tables.ts';

/** Media types of a collection created without any: STIX 2.1 objects only. */
const DEFAULT_MEDIA_TYPES = ['application/stix+json;version=2.1'];

export class PostgresStore implements Store {
  readonly #connection: Connection;
  readonly #objects: ObjectVersions;
  readonly #events: EventLog;
  readonly #sharing: SharingTables;
  readonly #documents: DocumentTable;
  readonly #correlation: CorrelationTables;
  readonly #huntKeys: HuntKeyTables;

  /** Connects lazily: the first call opens the first connection. */
  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.#connection = new Connection(url, options);
    this.#objects = new ObjectVersions(this.#connection);
    this.#events = new EventLog(this.#connection);
    this.#sharing = new SharingTables(this.#connection);
    this.#documents = new DocumentTable(this.#connection);
    this.#correlation = new CorrelationTables(this.#connection);
    this.#huntKeys = new HuntKeyTables(this.#connection);
  }

  /** The connection pool, for the bulk copy of `cairn migrate --from`. */
  get connection(): Connection {
    return this.#connection;
  }

  async migrate(): Promise<void> {
    await this.#connection.withClient((client) => migrateSchema(client));
  }

  /** Throws unless every migration is applied; for nodes that do not migrate on start. */
  async checkSchema(): Promise<void> {
    await this.#connection.withClient((client) => checkSchema(client));
  }

  async close(): Promise<void> {
    await this.#connection.close();
  }

  async createApiRoot(root: ApiRootRecord): Promise<ApiRootRecord> {
    try {
      await this.#connection.run({
        text: `INSERT INTO api_roots (${API_ROOT_COLUMNS}) VALUES ($1, $2, $3, $4)`,
        values: [root.name, root.title, root.description ?? null, root.maxContentLength],
      });
    } catch (error) {
      if (constraintKind(error) === 'unique') {
        throw new StoreConflictError(`API root "${root.name}" already exists`);
      }
      throw error;
    }
    return toApiRoot({
      name: root.name,
      title: root.title,
      description: root.description ?? null,
      max_content_length: root.maxContentLength,
    });
  }

  async listApiRoots(): Promise<ApiRootRecord[]> {
    const rows = await this.#connection.query<ApiRootRow>({
      text: `SELECT ${API_ROOT_COLUMNS} FROM api_roots ORDER BY name`,
    });
    return rows.map(toApiRoot);
  }

  async getApiRoot(name: string): Promise<ApiRootRecord | undefined> {
    const [row] = await this.#connection.query<ApiRootRow>({
      name: 'cairn_api_root',
      text: `SELECT ${API_ROOT_COLUMNS} FROM api_roots WHERE name = $1`,
      values: [name],
    });
    return row === undefined ? undefined : toApiRoot(row);
  }

  async createCollection(collection: NewCollection): Promise<CollectionRecord> {
    const row: CollectionRow = {
      id: collection.id ?? randomUUID(),
      api_root: collection.apiRoot,
      title: collection.title,
      description: collection.description ?? null,
      alias: collection.alias ?? null,
      media_types: collection.mediaTypes ?? DEFAULT_MEDIA_TYPES,
      created_at: nowMicros(),
      community_id: collection.communityId ?? null,
    };
    try {
      await this.#connection.run({
        text:
          `INSERT INTO collections (${COLLECTION_COLUMNS})` +
          ' VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        values: [
          row.id,
          row.api_root,
          row.title,
          row.description,
          row.alias,
          row.media_types,
          row.created_at,
          row.community_id,
        ],
      });
    } catch (error) {
      throw collectionConflict(error, row);
    }
    return toCollection(row);
  }

  async listCollections(apiRoot: string): Promise<CollectionRecord[]> {
    const rows = await this.#connection.query<CollectionRow>({
      text: `SELECT ${COLLECTION_COLUMNS} FROM collections WHERE api_root = $1 ORDER BY id`,
      values: [apiRoot],
    });
    return rows.map(toCollection);
  }

  async listCommunityCollections(communityId: string): Promise<CollectionRecord[]> {
    const rows = await this.#connection.query<CollectionRow>({
      text: `SELECT ${COLLECTION_COLUMNS} FROM collections WHERE community_id = $1 ORDER BY id`,
      values: [communityId],
    });
    return rows.map(toCollection);
  }

  async getCollectionById(id: string): Promise<CollectionRecord | undefined> {
    const [row] = await this.#connection.query<CollectionRow>({
      name: 'cairn_collection_by_id',
      text: `SELECT ${COLLECTION_COLUMNS} FROM collections WHERE id = $1`,
      values: [id],
    });
    return row === undefined ? undefined : toCollection(row);
  }

  async getCollection(apiRoot: string, idOrAlias: string): Promise<CollectionRecord | undefined> {
    // An id match wins over an alias match, in case an alias equals another collection's id.
    const [row] = await this.#connection.query<CollectionRow>({
      name: 'cairn_collection',
      text:
        `SELECT ${COLLECTION_COLUMNS} FROM collections` +
        ' WHERE api_root = $1 AND (id = $2 OR alias = $2) ORDER BY id = $2 DESC LIMIT 1',
      values: [apiRoot, idOrAlias],
    });
    return row === undefined ? undefined : toCollection(row);
  }

  async addObjects(collectionId: string, objects: PreparedObject[]): Promise<AddResult[]> {
    return this.#objects.add(collectionId, objects);
  }

  async addConverted(collectionId: string, objects: PreparedObject[]): Promise<ConvertedAddResult> {
    return this.#objects.addConverted(collectionId, objects);
  }

  async queryObjects(query: VersionQuery): Promise<Page<StoredVersionWithJson>> {
    return this.#objects.query(query, true);
  }

  async queryManifest(query: VersionQuery): Promise<Page<StoredVersion>> {
    return this.#objects.query(query, false);
  }

  async hasObject(collectionId: string, id: string, access?: AccessFilter): Promise<boolean> {
    return this.#objects.has(collectionId, id, access);
  }

  async isHeldRestricted(
    id: string,
    communityId: string,
    organisationId: string,
  ): Promise<boolean> {
    const held = await this.#objects.findHeldRestricted([id], communityId, organisationId);
    return held.has(id);
  }

  async findHeldRestricted(
    ids: readonly string[],
    communityId: string,
    organisationId: string,
  ): Promise<Set<string>> {
    return this.#objects.findHeldRestricted(ids, communityId, organisationId);
  }

  async deleteObject(
    collectionId: string,
    id: string,
    versions: VersionSelector = { all: true },
    specVersions?: string[],
  ): Promise<number> {
    return this.#objects.delete(collectionId, id, versions, specVersions);
  }

  async countCollection(collectionId: string): Promise<{ objects: number; versions: number }> {
    return this.#objects.count(collectionId);
  }

  async readEvents(query: EventQuery): Promise<EventRecord[]> {
    return this.#events.read(query);
  }

  async eventBounds(): Promise<{ first: number; last: number }> {
    return this.#events.bounds();
  }

  async eventSeqBefore(at: number): Promise<number> {
    return this.#events.seqBefore(at);
  }

  async pruneEvents(retention: EventRetention): Promise<number> {
    return this.#events.prune(retention);
  }

  async saveStatus(status: StatusRecord): Promise<void> {
    try {
      await this.#connection.run({
        name: 'cairn_save_status',
        text:
          'INSERT INTO statuses (api_root, id, owner_id, expires_at, record)' +
          ' VALUES ($1, $2, $3, $4, $5) ON CONFLICT (api_root, id) DO UPDATE SET' +
          ' owner_id = excluded.owner_id, expires_at = excluded.expires_at,' +
          ' record = excluded.record',
        values: [
          status.apiRoot,
          status.id,
          status.ownerId,
          status.expiresAt,
          JSON.stringify(status),
        ],
      });
    } catch (error) {
      if (constraintKind(error) === 'foreign-key') {
        throw new StoreConflictError(`API root "${status.apiRoot}" not found`);
      }
      throw error;
    }
  }

  async getStatus(apiRoot: string, id: string): Promise<StatusRecord | undefined> {
    const [row] = await this.#connection.query<{ record: string }>({
      name: 'cairn_status',
      text: 'SELECT record FROM statuses WHERE api_root = $1 AND id = $2',
      values: [apiRoot, id],
    });
    return row === undefined ? undefined : (JSON.parse(row.record) as StatusRecord);
  }

  async purgeStatuses(now: number): Promise<number> {
    return this.#connection.run({
      text: 'DELETE FROM statuses WHERE expires_at < $1',
      values: [now],
    });
  }

  async createUser(user: UserRecord): Promise<UserRecord> {
    if (!ROLES.includes(user.role)) {
      throw new TypeError(`invalid role "${String(user.role)}" for user "${user.name}"`);
    }
    try {
      await this.#connection.run({
        text: `INSERT INTO users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`,
        values: [user.id, user.name, user.organisationId, user.role, user.createdAt, user.disabled],
      });
    } catch (error) {
      const kind = constraintKind(error);
      if (kind === 'foreign-key') {
        throw new StoreConflictError(`organisation "${user.organisationId}" not found`);
      }
      if (kind !== 'unique') throw error;
      if (constraintName(error) === 'users_name_key') {
        throw new StoreConflictError(`user name "${user.name}" is already taken`);
      }
      throw new StoreConflictError(`user id "${user.id}" already exists`);
    }
    return { ...user };
  }

  async updateUser(
    id: string,
    change: Partial<Pick<UserRecord, 'role' | 'disabled'>>,
  ): Promise<UserRecord | undefined> {
    if (change.role !== undefined && !ROLES.includes(change.role)) {
      throw new TypeError(`invalid role "${String(change.role)}" for user "${id}"`);
    }
    const [row] = await this.#connection.query<UserRow>({
      text:
        'UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled)' +
        ` WHERE id = $1 RETURNING ${USER_COLUMNS}`,
      values: [id, change.role ?? null, change.disabled ?? null],
    });
    return row === undefined ? undefined : toUser(row);
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const [row] = await this.#connection.query<UserRow>({
      name: 'cairn_user',
      text: `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`,
      values: [id],
    });
    return row === undefined ? undefined : toUser(row);
  }

  async getUserByName(name: string): Promise<UserRecord | undefined> {
    const [row] = await this.#connection.query<UserRow>({
      name: 'cairn_user_by_name',
      text: `SELECT ${USER_COLUMNS} FROM users WHERE name = $1`,
      values: [name],
    });
    return row === undefined ? undefined : toUser(row);
  }

  async listUsers(organisationId?: string): Promise<UserRecord[]> {
    const rows =
      organisationId === undefined
        ? await this.#connection.query<UserRow>({
            text: `SELECT ${USER_COLUMNS} FROM users ORDER BY name`,
          })
        : await this.#connection.query<UserRow>({
            text: `SELECT ${USER_COLUMNS} FROM users WHERE organisation_id = $1 ORDER BY name`,
            values: [organisationId],
          });
    return rows.map(toUser);
  }

  async createToken(token: TokenRecord): Promise<TokenRecord> {
    try {
      await this.#connection.run({
        text: `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        values: [
          token.id,
          token.userId,
          token.label,
          token.secretHash,
          token.scopes,
          token.createdAt,
          token.expiresAt ?? null,
          token.lastUsedAt ?? null,
          token.revokedAt ?? null,
        ],
      });
    } catch (error) {
      const kind = constraintKind(error);
      if (kind === 'foreign-key') throw new StoreConflictError(`user "${token.userId}" not found`);
      if (kind === 'unique') throw new StoreConflictError(`token id "${token.id}" already exists`);
      throw error;
    }
    return { ...token, scopes: [...token.scopes] };
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const [row] = await this.#connection.query<TokenRow>({
      name: 'cairn_token',
      text: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = $1`,
      values: [id],
    });
    return row === undefined ? undefined : toToken(row);
  }

  async listTokens(userId?: string): Promise<TokenRecord[]> {
    const rows =
      userId === undefined
        ? await this.#connection.query<TokenRow>({
            text: `SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id`,
          })
        : await this.#connection.query<TokenRow>({
            text: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE user_id = $1 ORDER BY created_at, id`,
            values: [userId],
          });
    return rows.map(toToken);
  }

  /** Keeps the first revocation time when a token is revoked twice. */
  async revokeToken(id: string, at: number): Promise<boolean> {
    const changed = await this.#connection.run({
      text: 'UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1',
      values: [id, at],
    });
    return changed > 0;
  }

  /** Never moves lastUsedAt back, so requests that finish out of order keep the latest use. */
  async touchToken(id: string, at: number): Promise<void> {
    await this.#connection.run({
      name: 'cairn_touch_token',
      text:
        'UPDATE tokens SET last_used_at = $2 WHERE id = $1' +
        ' AND (last_used_at IS NULL OR last_used_at < $2)',
      values: [id, at],
    });
  }

  async createOrganisation(organisation: OrganisationRecord): Promise<OrganisationRecord> {
    return this.#sharing.createOrganisation(organisation);
  }

  async getOrganisation(id: string): Promise<OrganisationRecord | undefined> {
    return this.#sharing.getOrganisation('id', id);
  }

  async getOrganisationByName(name: string): Promise<OrganisationRecord | undefined> {
    return this.#sharing.getOrganisation('name', name);
  }

  async listOrganisations(): Promise<OrganisationRecord[]> {
    return this.#sharing.listOrganisations();
  }

  async addClient(providerId: string, clientId: string): Promise<void> {
    return this.#sharing.addClient(providerId, clientId);
  }

  async removeClient(providerId: string, clientId: string): Promise<boolean> {
    return this.#sharing.removeClient(providerId, clientId);
  }

  async listClients(providerId: string): Promise<string[]> {
    return this.#sharing.listClients(providerId);
  }

  async createCommunity(
    community: CommunityRecord,
    memberId: string,
    moderatorId: string | undefined,
  ): Promise<CommunityRecord> {
    await this.#sharing.createCommunity(community, memberId, moderatorId);
    return { ...community };
  }

  async getCommunity(id: string): Promise<CommunityRecord | undefined> {
    return this.#sharing.getCommunity('id', id);
  }

  async getCommunityByName(name: string): Promise<CommunityRecord | undefined> {
    return this.#sharing.getCommunity('name', name);
  }

  async listCommunities(memberId?: string): Promise<CommunityRecord[]> {
    return this.#sharing.listCommunities(memberId);
  }

  async updateCharter(id: string, change: Partial<Charter>): Promise<CommunityRecord | undefined> {
    return this.#sharing.updateCharter(id, change);
  }

  async listMembers(communityId: string): Promise<string[]> {
    return this.#sharing.listMembers(communityId);
  }

  async addMember(communityId: string, organisationId: string): Promise<void> {
    return this.#sharing.addMember(communityId, organisationId);
  }

  async removeMember(communityId: string, organisationId: string): Promise<boolean> {
    return this.#sharing.removeMember(communityId, organisationId);
  }

  async listModerators(communityId: string): Promise<string[]> {
    return this.#sharing.listModerators(communityId);
  }

  async addModerator(communityId: string, userId: string): Promise<void> {
    return this.#sharing.addModerator(communityId, userId);
  }

  async removeModerator(communityId: string, userId: string): Promise<boolean> {
    return this.#sharing.removeModerator(communityId, userId);
  }

  async communityRelation(communityId: string, organisationId: string): Promise<CommunityRelation> {
    return this.#sharing.communityRelation(communityId, organisationId);
  }

  async createInvitation(invitation: InvitationRecord): Promise<InvitationRecord> {
    return this.#sharing.createInvitation(invitation);
  }

  async getInvitation(id: string): Promise<InvitationRecord | undefined> {
    return this.#sharing.getInvitation(id);
  }

  async listInvitations(filter: {
    communityIds?: string[];
    organisationId?: string;
    state?: InvitationRecord['state'];
  }): Promise<InvitationRecord[]> {
    return this.#sharing.listInvitations(filter);
  }

  async answerInvitation(
    id: string,
    state: 'accepted' | 'declined',
    by: string,
    at: number,
  ): Promise<InvitationRecord | undefined> {
    return this.#sharing.answerInvitation(id, state, by, at);
  }

  async appendAudit(entry: NewAuditRecord): Promise<AuditRecord> {
    return this.#sharing.appendAudit(entry);
  }

  async queryAudit(filter: AuditFilter): Promise<AuditRecord[]> {
    return this.#sharing.queryAudit(filter);
  }

  async putDocument(document: NewDocument, expectRevision?: number): Promise<DocumentRecord> {
    return this.#documents.put(document, expectRevision);
  }

  async putDocuments(writes: readonly DocumentWrite[]): Promise<DocumentRecord[]> {
    return this.#documents.putAll(writes);
  }

  async getDocument(kind: string, id: string): Promise<DocumentRecord | undefined> {
    return this.#documents.get(kind, id);
  }

  async getDocumentByKey(kind: string, key: string): Promise<DocumentRecord | undefined> {
    return this.#documents.getByKey(kind, key);
  }

  async listDocuments(query: DocumentQuery): Promise<DocumentRecord[]> {
    return this.#documents.list(query);
  }

  async deleteDocument(kind: string, id: string): Promise<boolean> {
    return this.#documents.delete(kind, id);
  }

  async claimDocuments(
    kind: string,
    now: number,
    leaseUntil: number,
    limit: number,
  ): Promise<DocumentRecord[]> {
    return this.#documents.claim(kind, now, leaseUntil, limit);
  }

  async addObservableRefs(refs: readonly ObservableRef[], capPerValue: number): Promise<number> {
    return this.#correlation.addRefs(refs, capPerValue);
  }

  async removeObjectRefs(collectionId: string, objectId: string): Promise<number> {
    return this.#correlation.removeObjectRefs(collectionId, objectId);
  }

  async findObservableRefs(value: string, limit: number): Promise<ObservableRef[]> {
    return this.#correlation.findRefs(value, limit);
  }

  async objectRefs(objectIds: readonly string[]): Promise<ObservableRef[]> {
    return this.#correlation.objectRefs(objectIds);
  }

  async observableStats(values: readonly string[]): Promise<ObservableStats[]> {
    return this.#correlation.stats(values);
  }

  async addFeedback(change: FeedbackChange): Promise<FeedbackReport> {
    return this.#correlation.addFeedback(change);
  }

  async getFeedback(
    objectIds: readonly string[],
    scopes: readonly string[],
  ): Promise<FeedbackReport[]> {
    return this.#correlation.getFeedback(objectIds, scopes);
  }

  async addHuntKeys(collectionId: string, keys: readonly HuntKey[], upTo: number): Promise<number> {
    return this.#huntKeys.add(collectionId, keys, upTo);
  }

  async huntKeyMark(collectionId: string): Promise<number> {
    return this.#huntKeys.mark(collectionId);
  }

  async findHuntKeys(query: HuntKeyQuery): Promise<HuntKey[]> {
    return this.#huntKeys.find(query);
  }

  async setObjectHuntKeys(
    collectionId: string,
    objects: readonly ObjectHuntKeys[],
  ): Promise<string[]> {
    return this.#huntKeys.setObjectKeys(collectionId, objects);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const [row] = await this.#connection.query<{ value: string }>({
      name: 'cairn_setting',
      text: 'SELECT value FROM settings WHERE key = $1',
      values: [key],
    });
    return row?.value;
  }

  /**
   * Inserts, then reads in a second statement when the key was taken: a concurrent insert
   * that this one waited for is committed by then, and the new statement sees it.
   */
  async setSettingIfAbsent(key: string, value: string): Promise<string> {
    const [inserted] = await this.#connection.query<{ value: string }>({
      text:
        'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING' +
        ' RETURNING value',
      values: [key, value],
    });
    if (inserted) return inserted.value;
    const stored = await this.getSetting(key);
    if (stored === undefined) throw new Error(`setting "${key}" vanished while it was set`);
    return stored;
  }
}

function collectionConflict(error: unknown, row: CollectionRow): unknown {
  const kind = constraintKind(error);
  if (kind === 'foreign-key') {
    return new StoreConflictError(
      `API root "${row.api_root}" or community "${row.community_id}" not found`,
    );
  }
  if (kind === 'unique' && constraintName(error) === 'collections_alias_key') {
    return new StoreConflictError(
      `collection alias "${row.alias}" is already used in API root "${row.api_root}"`,
    );
  }
  if (kind === 'unique') return new StoreConflictError(`collection id "${row.id}" already exists`);
  return error;
}
