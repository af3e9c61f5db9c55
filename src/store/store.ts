/**
 * The storage contract every Cairn store implements (SQLite now, PostgreSQL later).
 *
 * Callers only see this interface, so a new backend is added without changing them.
 * Every method is async even where SQLite could answer synchronously, because a networked
 * store cannot. Times in the store are integers of microseconds since the Unix epoch;
 * they fit in a double until the year 2255.
 */

/** One TAXII API root (TAXII 2.1 section 4.2). `name` is its single URL path segment. */
export interface ApiRootRecord {
  name: string;
  title: string;
  description?: string;
  /** Largest request body accepted, in octets. */
  maxContentLength: number;
}

/** One TAXII collection (TAXII 2.1 section 5.2). Access is decided outside the store. */
export interface CollectionRecord {
  /** A UUIDv4 string, without prefix. */
  id: string;
  apiRoot: string;
  title: string;
  description?: string;
  /** Unique within the API root when present. */
  alias?: string;
  mediaTypes: string[];
  createdAt: number;
}

export interface NewCollection {
  id?: string;
  apiRoot: string;
  title: string;
  description?: string;
  alias?: string;
  mediaTypes?: string[];
}

/**
 * An object version ready to store: checked by the STIX validator, with the values the
 * store indexes taken out of it.
 */
export interface PreparedObject {
  id: string;
  type: string;
  specVersion: string;
  /** The version as the object writes it: `modified`, else `created`. */
  version: string;
  /** `version` as a fixed-width UTC string that sorts in time order; see stix/timestamp. */
  versionKey: string;
  /** The object serialised as JSON, exactly as it will be served. */
  json: string;
}

export type AddOutcome = 'added' | 'duplicate';

export interface AddResult {
  id: string;
  version: string;
  outcome: AddOutcome;
  /** The collection's date_added for this version; for a duplicate, the original one. */
  dateAdded: number;
}

/**
 * Which versions of each object a query returns (TAXII `match[version]`).
 * `all` returns every version; otherwise a version passes when any of the set flags or
 * exact keys selects it.
 */
export type VersionSelector =
  { all: true } | { all?: false; first: boolean; last: boolean; exact: string[] };

export const LATEST_VERSION: VersionSelector = { first: false, last: true, exact: [] };

/** A query over one collection's object versions, in date_added order. */
export interface VersionQuery {
  collectionId: string;
  /** Only these STIX ids (ORed). */
  ids?: string[];
  /** Only these STIX types (ORed). */
  types?: string[];
  /** Only these spec versions (ORed). */
  specVersions?: string[];
  /** Defaults to the latest version of each object. */
  versions?: VersionSelector;
  /** Only versions whose date_added is strictly greater than this (microseconds). */
  addedAfter?: number;
  /** Maximum number of items to return; the store reports whether more remain. */
  limit: number;
}

export interface StoredVersion {
  id: string;
  type: string;
  specVersion: string;
  version: string;
  versionKey: string;
  dateAdded: number;
  mediaType: string;
}

export interface StoredVersionWithJson extends StoredVersion {
  json: string;
}

export interface Page<T> {
  items: T[];
  /** True when at least one more item matches after the last one returned. */
  more: boolean;
}

/** A TAXII status resource (TAXII 2.1 section 4.3), kept for later polling. */
export interface StatusDetail {
  id: string;
  version: string;
  message?: string;
}

export interface StatusRecord {
  id: string;
  apiRoot: string;
  /** The user who made the request; only they (or an admin) may read it. */
  ownerId: string;
  status: 'complete' | 'pending';
  requestTimestamp: number;
  totalCount: number;
  successCount: number;
  failureCount: number;
  pendingCount: number;
  successes: StatusDetail[];
  failures: StatusDetail[];
  pendings: StatusDetail[];
  /** The status may be purged after this time (microseconds). */
  expiresAt: number;
}

export type Role = 'admin' | 'user';

export interface UserRecord {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  disabled: boolean;
}

export type TokenScope = 'read' | 'write' | 'admin';

export interface TokenRecord {
  id: string;
  userId: string;
  label: string;
  /** SHA-256 of the secret, hex. The secret itself is never stored. */
  secretHash: string;
  scopes: TokenScope[];
  createdAt: number;
  expiresAt?: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

/** Per-user rights on one collection. Admins may read and write every collection. */
export interface CollectionGrant {
  collectionId: string;
  userId: string;
  canRead: boolean;
  canWrite: boolean;
}

export interface Store {
  /** Creates or upgrades the schema. Safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  createApiRoot(root: ApiRootRecord): Promise<ApiRootRecord>;
  listApiRoots(): Promise<ApiRootRecord[]>;
  getApiRoot(name: string): Promise<ApiRootRecord | undefined>;

  /** Throws StoreConflictError when the id or the alias is taken in the API root. */
  createCollection(collection: NewCollection): Promise<CollectionRecord>;
  /** Collections of one API root, sorted by id. */
  listCollections(apiRoot: string): Promise<CollectionRecord[]>;
  /** Finds a collection of the API root by id or by alias. */
  getCollection(apiRoot: string, idOrAlias: string): Promise<CollectionRecord | undefined>;

  /**
   * Adds object versions to a collection in one transaction. A version already in the
   * collection (same id and versionKey) is reported as a duplicate and left unchanged.
   * Each added version gets a date_added unique and strictly increasing in the collection.
   */
  addObjects(collectionId: string, objects: PreparedObject[]): Promise<AddResult[]>;

  /** Versions with their JSON, for the objects and get-an-object endpoints. */
  queryObjects(query: VersionQuery): Promise<Page<StoredVersionWithJson>>;
  /** Versions without their JSON, for the manifest and versions endpoints. */
  queryManifest(query: VersionQuery): Promise<Page<StoredVersion>>;
  /** Whether any version of the object is in the collection. */
  hasObject(collectionId: string, id: string): Promise<boolean>;
  /**
   * Removes the selected versions of one object from the collection and returns how many
   * went. Without a selector every version goes.
   */
  deleteObject(
    collectionId: string,
    id: string,
    versions?: VersionSelector,
    specVersions?: string[],
  ): Promise<number>;
  /** Number of distinct objects and of versions in a collection. */
  countCollection(collectionId: string): Promise<{ objects: number; versions: number }>;

  saveStatus(status: StatusRecord): Promise<void>;
  getStatus(apiRoot: string, id: string): Promise<StatusRecord | undefined>;
  /** Deletes statuses whose expiresAt is before `now`; returns how many. */
  purgeStatuses(now: number): Promise<number>;

  /** Throws StoreConflictError when the name is taken. */
  createUser(user: UserRecord): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | undefined>;
  getUserByName(name: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;

  createToken(token: TokenRecord): Promise<TokenRecord>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(userId?: string): Promise<TokenRecord[]>;
  /** Marks the token revoked; returns false when there is no such token. */
  revokeToken(id: string, at: number): Promise<boolean>;
  touchToken(id: string, at: number): Promise<void>;

  setGrant(grant: CollectionGrant): Promise<void>;
  getGrant(collectionId: string, userId: string): Promise<CollectionGrant | undefined>;
  listGrants(collectionId: string): Promise<CollectionGrant[]>;

  /** A small key-value table for server-wide settings such as the cursor signing key. */
  getSetting(key: string): Promise<string | undefined>;
  /** Sets the value only when the key is absent; returns the value now stored. */
  setSettingIfAbsent(key: string, value: string): Promise<string>;
}

/** A unique constraint would be broken: a duplicate name, id or alias. */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}
