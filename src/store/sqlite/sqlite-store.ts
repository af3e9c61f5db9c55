/**
 * The Store on SQLite through better-sqlite3 12, for one server or several processes that
 * share a database file.
 *
 * better-sqlite3 is synchronous: each async method runs its statements to completion before
 * it returns its promise. A write waits for another connection's write lock for at most
 * `busyTimeoutMs`, then fails with SQLITE_BUSY, so no call blocks forever.
 *
 * NOTE: SQLite's busy handler sleeps between retries, so a process that writes back to back
 * can hold off another process's writes until that one times out with SQLITE_BUSY.
 */
import { randomUUID } from 'node:crypto';

import Database from 'better-sqlite3';

import { nowMicros } from '../../stix/timestamp.ts';
import {
  StoreConflictError,
  type AddResult,
  type ApiRootRecord,
  type AccessFilter,
  type AuditFilter,
  type AuditRecord,
  type Charter,
  type CollectionRecord,
  type CommittedEvents,
  type CommunityRecord,
  type CommunityRelation,
  type ConvertedAddResult,
  type EventQuery,
  type EventRecord,
  type EventRetention,
  type DocumentQuery,
  type DocumentRecord,
  type DocumentWrite,
  type HuntKey,
  type HuntKeyQuery,
  type ObjectHuntKeys,
  type InvitationRecord,
  type NewDocument,
  type FeedbackChange,
  type FeedbackReport,
  type ObservableRef,
  type ObservableStats,
  type NewAuditRecord,
  type OrganisationRecord,
  ROLES,
  type NewCollection,
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
import { checkStorable } from '../checks.ts';
import { constraintKind, uniqueErrorNames } from './constraints.ts';
import { EventLog } from './event-log.ts';
import { CorrelationTables } from './correlation.ts';
import { DocumentTable } from './documents.ts';
import { HuntKeyTables } from './hunt-keys.ts';
import { ObjectVersions } from './object-versions.ts';
import {
  toApiRoot,
  toCollection,
  toToken,
  toUser,
  type ApiRootRow,
  type CollectionRow,
  type TokenRow,
  type UserRow,
} from './records.ts';
import { migrateSchema } from './schema.ts';
import { SharingTables } from './sharing-tables.ts';
import { StatementCache } from './statements.ts';

export interface SqliteStoreOptions {
  /** How long a write waits for another connection's lock before failing, in milliseconds. */
  busyTimeoutMs?: number;
  /** Page cache of this connection, in KiB; SQLite's own default is 2,000 KiB. */
  cacheSizeKiB?: number;
  /**
   * WAL size, in database pages (4 KiB by default), at which a commit also checkpoints.
   * SQLite's default is 1,000. Each checkpoint syncs the file, and on a collection of 300,000
   * objects a batch of 1,000 new ones writes about 1,000 pages.
   */
  walAutocheckpointPages?: number;
}

const DEFAULTS: Required<SqliteStoreOptions> = {
  busyTimeoutMs: 5_000,
  cacheSizeKiB: 65_536,
  walAutocheckpointPages: 8_192,
};

/** Media types of a collection created without any: STIX 2.1 objects only. */
const DEFAULT_MEDIA_TYPES = ['application/stix+json;version=2.1'];

const COLLECTION_COLUMNS =
  'id, api_root, title, description, alias, media_types, created_at, community_id';
const TOKEN_COLUMNS =
  'id, user_id, label, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at';

/**
 * Returns whether a string is well-formed UTF-16. SQLite stores text as UTF-8, which cannot encode a
 * lone surrogate, so such a string would come back altered. `isWellFormed` is in Node 20
 * (V8 11.3) but not in the ES2023 library that TypeScript is configured with here.
 */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

function checkQuery(query: VersionQuery): void {
  if (!Number.isSafeInteger(query.limit) || query.limit < 0) {
    throw new RangeError(`invalid limit ${query.limit}: expected an integer of 0 or more`);
  }
  if (query.addedAfter !== undefined && !Number.isFinite(query.addedAfter)) {
    throw new RangeError(
      `invalid addedAfter ${query.addedAfter}: expected microseconds since the epoch`,
    );
  }
}

/** Sets the connection's pragmas; fails when the file is not a SQLite database. */
function configure(db: Database.Database, settings: Required<SqliteStoreOptions>): void {
  // WAL lets readers run while one connection writes. NORMAL syncs at checkpoints only, so a
  // power cut may roll back the last commits but leaves the file consistent.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = ${-Math.trunc(settings.cacheSizeKiB)}`);

  const checkpointPages = Math.trunc(settings.walAutocheckpointPages);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma(`wal_autocheckpoint = ${checkpointPages}`);
  // After a checkpoint, a WAL file grown past this many bytes is truncated back to it.
  db.pragma(`journal_size_limit = ${checkpointPages * pageSize}`);
}

export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #statements: StatementCache;
  readonly #objects: ObjectVersions;
  readonly #sharing: SharingTables;
  readonly #events: EventLog;
  readonly #documents: DocumentTable;
  readonly #correlation: CorrelationTables;
  readonly #huntKeys: HuntKeyTables;

  /** Opens (or creates) the database file; ':memory:' gives a private in-memory database. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    const settings = { ...DEFAULTS, ...options };
    this.#db = new Database(path, { timeout: settings.busyTimeoutMs });
    try {
      configure(this.#db, settings);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#statements = new StatementCache(this.#db);
    this.#objects = new ObjectVersions(this.#db, this.#statements);
    this.#sharing = new SharingTables(this.#db, this.#statements);
    this.#events = new EventLog(this.#db, this.#statements);
    this.#documents = new DocumentTable(this.#statements);
    this.#correlation = new CorrelationTables(this.#db, this.#statements);
    this.#huntKeys = new HuntKeyTables(this.#db, this.#statements);
  }

  /** The underlying connection, for SQLite-specific checks such as tests of pragmas. */
  get database(): Database.Database {
    return this.#db;
  }

  async migrate(): Promise<void> {
    migrateSchema(this.#db);
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  async createApiRoot(root: ApiRootRecord): Promise<ApiRootRecord> {
    try {
      this.#statements
        .get(
          'INSERT INTO api_roots (name, title, description, max_content_length)' +
            ' VALUES (?, ?, ?, ?)',
        )
        .run(root.name, root.title, root.description ?? null, root.maxContentLength);
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
    const rows = this.#statements.get('SELECT * FROM api_roots ORDER BY name').all();
    return (rows as ApiRootRow[]).map(toApiRoot);
  }

  async getApiRoot(name: string): Promise<ApiRootRecord | undefined> {
    const row = this.#statements.get('SELECT * FROM api_roots WHERE name = ?').get(name);
    return row === undefined ? undefined : toApiRoot(row as ApiRootRow);
  }

  async createCollection(collection: NewCollection): Promise<CollectionRecord> {
    const row: CollectionRow = {
      id: collection.id ?? randomUUID(),
      api_root: collection.apiRoot,
      title: collection.title,
      description: collection.description ?? null,
      alias: collection.alias ?? null,
      media_types: JSON.stringify(collection.mediaTypes ?? DEFAULT_MEDIA_TYPES),
      created_at: nowMicros(),
      community_id: collection.communityId ?? null,
    };
    try {
      this.#statements
        .get(
          `INSERT INTO collections (${COLLECTION_COLUMNS}) VALUES (@id, @api_root, @title,` +
            ' @description, @alias, @media_types, @created_at, @community_id)',
        )
        .run(row);
    } catch (error) {
      throw this.#collectionConflict(error, row);
    }
    return toCollection(row);
  }

  #collectionConflict(error: unknown, row: CollectionRow): unknown {
    const kind = constraintKind(error);
    if (kind === 'foreign-key') {
      return new StoreConflictError(
        `API root "${row.api_root}" or community "${row.community_id}" not found`,
      );
    }
    if (kind === 'unique' && uniqueErrorNames(error, 'collections.alias')) {
      return new StoreConflictError(
        `collection alias "${row.alias}" is already used in API root "${row.api_root}"`,
      );
    }
    if (kind === 'unique')
      return new StoreConflictError(`collection id "${row.id}" already exists`);
    return error;
  }

  async listCollections(apiRoot: string): Promise<CollectionRecord[]> {
    const rows = this.#statements
      .get(`SELECT ${COLLECTION_COLUMNS} FROM collections WHERE api_root = ? ORDER BY id`)
      .all(apiRoot);
    return (rows as CollectionRow[]).map(toCollection);
  }

  async listCommunityCollections(communityId: string): Promise<CollectionRecord[]> {
    const rows = this.#statements
      .get(`SELECT ${COLLECTION_COLUMNS} FROM collections WHERE community_id = ? ORDER BY id`)
      .all(communityId);
    return (rows as CollectionRow[]).map(toCollection);
  }

  async getCollectionById(id: string): Promise<CollectionRecord | undefined> {
    const row = this.#statements
      .get(`SELECT ${COLLECTION_COLUMNS} FROM collections WHERE id = ?`)
      .get(id);
    return row === undefined ? undefined : toCollection(row as CollectionRow);
  }

  async getCollection(apiRoot: string, idOrAlias: string): Promise<CollectionRecord | undefined> {
    // An id match wins over an alias match, in case an alias equals another collection's id.
    const row = this.#statements
      .get(
        `SELECT ${COLLECTION_COLUMNS} FROM collections` +
          ' WHERE api_root = @apiRoot AND (id = @key OR alias = @key)' +
          ' ORDER BY id = @key DESC LIMIT 1',
      )
      .get({ apiRoot, key: idOrAlias });
    return row === undefined ? undefined : toCollection(row as CollectionRow);
  }

  async addObjects(collectionId: string, objects: PreparedObject[]): Promise<AddResult[]> {
    for (const object of objects) {
      if (!isWellFormed(object.json)) {
        throw new TypeError(
          `invalid JSON text for ${object.id} version ${object.version}: it contains a lone ` +
            'UTF-16 surrogate, which cannot be stored; escape it as \\uXXXX',
        );
      }
    }
    const committed = this.#events.committed;
    const results = committed.publishAfter(() => this.#objects.add(collectionId, objects));
    if (results === undefined)
      throw new StoreConflictError(`collection "${collectionId}" not found`);

    return results;
  }

  async addConverted(collectionId: string, objects: PreparedObject[]): Promise<ConvertedAddResult> {
    checkStorable(objects, true);
    const committed = this.#events.committed;
    const result = committed.publishAfter(() => this.#objects.addConverted(collectionId, objects));
    if (result === undefined) {
      throw new StoreConflictError(`collection "${collectionId}" not found`);
    }
    return result;
  }

  async queryObjects(query: VersionQuery): Promise<Page<StoredVersionWithJson>> {
    checkQuery(query);
    return this.#objects.query(query, true);
  }

  async queryManifest(query: VersionQuery): Promise<Page<StoredVersion>> {
    checkQuery(query);
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
    return this.#objects.findHeldRestricted([id], communityId, organisationId).has(id);
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
    const committed = this.#events.committed;
    return committed.publishAfter(() =>
      this.#objects.delete(collectionId, id, versions, specVersions),
    );
  }

  async countCollection(collectionId: string): Promise<{ objects: number; versions: number }> {
    return this.#objects.count(collectionId);
  }

  async readEvents(query: EventQuery): Promise<EventRecord[]> {
    return this.#events.read(query);
  }

  listenCommittedEvents(listener: (committed: CommittedEvents) => void): () => void {
    return this.#events.committed.listen(listener);
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
      this.#statements
        .get(
          'INSERT INTO statuses (api_root, id, owner_id, expires_at, record)' +
            ' VALUES (?, ?, ?, ?, ?) ON CONFLICT (api_root, id) DO UPDATE SET' +
            ' owner_id = excluded.owner_id, expires_at = excluded.expires_at,' +
            ' record = excluded.record',
        )
        .run(status.apiRoot, status.id, status.ownerId, status.expiresAt, JSON.stringify(status));
    } catch (error) {
      if (constraintKind(error) === 'foreign-key') {
        throw new StoreConflictError(`API root "${status.apiRoot}" not found`);
      }
      throw error;
    }
  }

  async getStatus(apiRoot: string, id: string): Promise<StatusRecord | undefined> {
    const record = this.#statements
      .get('SELECT record FROM statuses WHERE api_root = ? AND id = ?')
      .pluck()
      .get(apiRoot, id) as string | undefined;
    return record === undefined ? undefined : (JSON.parse(record) as StatusRecord);
  }

  async purgeStatuses(now: number): Promise<number> {
    return this.#statements.get('DELETE FROM statuses WHERE expires_at < ?').run(now).changes;
  }

  async createUser(user: UserRecord): Promise<UserRecord> {
    if (!ROLES.includes(user.role)) {
      throw new TypeError(`invalid role "${String(user.role)}" for user "${user.name}"`);
    }
    try {
      this.#statements
        .get(
          'INSERT INTO users (id, name, organisation_id, role, created_at, disabled)' +
            ' VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(user.id, user.name, user.organisationId, user.role, user.createdAt, +user.disabled);
    } catch (error) {
      const kind = constraintKind(error);
      if (kind === 'foreign-key') {
        throw new StoreConflictError(`organisation "${user.organisationId}" not found`);
      }
      if (kind !== 'unique') throw error;
      if (uniqueErrorNames(error, 'users.name')) {
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
    this.#statements
      .get(
        'UPDATE users SET role = ifnull(@role, role), disabled = ifnull(@disabled, disabled)' +
          ' WHERE id = @id',
      )
      .run({
        id,
        role: change.role ?? null,
        disabled: change.disabled === undefined ? null : +change.disabled,
      });
    return this.getUser(id);
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.#statements.get('SELECT * FROM users WHERE id = ?').get(id);
    return row === undefined ? undefined : toUser(row as UserRow);
  }

  async getUserByName(name: string): Promise<UserRecord | undefined> {
    const row = this.#statements.get('SELECT * FROM users WHERE name = ?').get(name);
    return row === undefined ? undefined : toUser(row as UserRow);
  }

  async listUsers(organisationId?: string): Promise<UserRecord[]> {
    const rows =
      organisationId === undefined
        ? this.#statements.get('SELECT * FROM users ORDER BY name').all()
        : this.#statements
            .get('SELECT * FROM users WHERE organisation_id = ? ORDER BY name')
            .all(organisationId);
    return (rows as UserRow[]).map(toUser);
  }

  async createToken(token: TokenRecord): Promise<TokenRecord> {
    try {
      this.#statements
        .get(`INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(
          token.id,
          token.userId,
          token.label,
          token.secretHash,
          JSON.stringify(token.scopes),
          token.createdAt,
          token.expiresAt ?? null,
          token.lastUsedAt ?? null,
          token.revokedAt ?? null,
        );
    } catch (error) {
      const kind = constraintKind(error);
      if (kind === 'foreign-key') throw new StoreConflictError(`user "${token.userId}" not found`);
      if (kind === 'unique') throw new StoreConflictError(`token id "${token.id}" already exists`);
      throw error;
    }
    return { ...token, scopes: [...token.scopes] };
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const row = this.#statements.get(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = ?`).get(id);
    return row === undefined ? undefined : toToken(row as TokenRow);
  }

  async listTokens(userId?: string): Promise<TokenRecord[]> {
    const rows =
      userId === undefined
        ? this.#statements.get(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id`).all()
        : this.#statements
            .get(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE user_id = ? ORDER BY created_at, id`)
            .all(userId);
    return (rows as TokenRow[]).map(toToken);
  }

  /** Keeps the first revocation time when a token is revoked twice. */
  async revokeToken(id: string, at: number): Promise<boolean> {
    const result = this.#statements
      .get('UPDATE tokens SET revoked_at = ifnull(revoked_at, ?) WHERE id = ?')
      .run(at, id);
    return result.changes > 0;
  }

  /** Never moves lastUsedAt back, so requests that finish out of order keep the latest use. */
  async touchToken(id: string, at: number): Promise<void> {
    this.#statements
      .get('UPDATE tokens SET last_used_at = max(ifnull(last_used_at, @at), @at) WHERE id = @id')
      .run({ id, at });
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
    this.#sharing.addClient(providerId, clientId);
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
    this.#sharing.createCommunity(community, memberId, moderatorId);
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
    this.#sharing.addMember(communityId, organisationId);
  }

  async removeMember(communityId: string, organisationId: string): Promise<boolean> {
    return this.#sharing.removeMember(communityId, organisationId);
  }

  async listModerators(communityId: string): Promise<string[]> {
    return this.#sharing.listModerators(communityId);
  }

  async addModerator(communityId: string, userId: string): Promise<void> {
    this.#sharing.addModerator(communityId, userId);
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
    const put = () =>
      writes.map((write) => this.#documents.put(write.document, write.expectRevision));
    return this.#db.transaction(put).immediate();
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
    return this.#statements.get('SELECT value FROM settings WHERE key = ?').pluck().get(key) as
      string | undefined;
  }

  async setSettingIfAbsent(key: string, value: string): Promise<string> {
    const insert = this.#statements.get(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING',
    );
    const select = this.#statements.get('SELECT value FROM settings WHERE key = ?').pluck();
    return this.#db
      .transaction(() => {
        insert.run(key, value);
        return select.get(key) as string;
      })
      .immediate();
  }
}
