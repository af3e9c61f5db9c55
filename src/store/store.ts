/**
 * The storage contract every Cairn store implements (SQLite now, PostgreSQL later).
 *
 * Callers only see this interface, so a new backend is added without changing them.
 * Every method is async even where SQLite could return synchronously, because a networked
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
  /**
   * The community that owns the collection. A collection without one is readable and
   * writable by platform admins only.
   */
  communityId?: string;
}

export interface NewCollection {
  id?: string;
  apiRoot: string;
  title: string;
  description?: string;
  alias?: string;
  mediaTypes?: string[];
  communityId?: string;
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
  /** The sharing facts that decide its readers in the collection; see EntrySharing. */
  sharing?: EntrySharing;
}

/** TLP 2.0 levels; TLP 1.0 markings are mapped to them (white is clear). */
export type TlpLevel = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red';

/**
 * The readers of a version in its collection, widest first: everyone who may read the
 * collection, users of member organisations and their clients, users of member
 * organisations, or only the named recipients. The contributor always reads it.
 */
export type Audience = 'everyone' | 'members-and-clients' | 'members' | 'recipients';

export const AUDIENCES: readonly Audience[] = [
  'everyone',
  'members-and-clients',
  'members',
  'recipients',
];

/** The sharing facts of one version in one collection, fixed when it is added. */
export interface EntrySharing {
  /** The user who contributed it; absent for versions added by the operator's CLI. */
  contributorId?: string;
  contributorOrganisationId?: string;
  /** The TLP levels that applied, from its markings or the community default. */
  tlp: TlpLevel[];
  audience: Audience;
  /** User ids that may read a `recipients` version besides the contributor. */
  recipients: string[];
  /**
   * The audience that recipients must also belong to, from the version's TLP levels other
   * than RED (the audience is their intersection); `everyone` when absent.
   */
  recipientsWithin?: Audience;
  /** Whether the version has granular markings, so reads must check its properties. */
  granularMarkings: boolean;
}

/**
 * A reader's view of a collection's versions. It admits the versions whose audience is at
 * most `widest` in AUDIENCES order (`none` admits no audience), the versions the reader
 * contributed, and the `recipients` versions that name the reader.
 */
export interface AccessFilter {
  widest: Audience | 'none';
  userId: string;
}

export type AddOutcome = 'added' | 'duplicate';

export interface AddResult {
  id: string;
  version: string;
  outcome: AddOutcome;
  /** The collection's date_added for this version; for a duplicate, the original one. */
  dateAdded: number;
}

/** A version that addConverted left out, with its position in the input. */
export interface ConvertedRejection {
  /** The index of the version in the array given to addConverted. */
  index: number;
  id: string;
  version: string;
  message: string;
}

export interface ConvertedAddResult {
  /** One result per added or duplicate version, in input order; rejected ones have none. */
  results: AddResult[];
  /** Versions that the re-share rule keeps out (see addConverted), in input order. */
  rejected: ConvertedRejection[];
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
  /** Only versions this reader may see; without it every version matches. */
  access?: AccessFilter;
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
  /** Whether the version has granular markings (see EntrySharing). */
  granularMarkings: boolean;
  /** Whether the reader contributed the version, so every granular marking is satisfied. */
  contributed: boolean;
  /** Whether the reader is a named recipient, so granular RED markings are satisfied. */
  recipient: boolean;
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

export type Role = 'platform-admin' | 'org-admin' | 'analyst' | 'read-only';

export const ROLES: readonly Role[] = ['platform-admin', 'org-admin', 'analyst', 'read-only'];

export interface UserRecord {
  id: string;
  name: string;
  organisationId: string;
  role: Role;
  createdAt: number;
  disabled: boolean;
}

/** An organisation; every user belongs to exactly one. */
export interface OrganisationRecord {
  id: string;
  /** Unique, compared without regard to case. */
  name: string;
  /** The organisation's STIX 2.1 identity (`identity_class: "organization"`) as JSON. */
  identity: string;
  createdAt: number;
}

export type DefaultTlp = Exclude<TlpLevel, 'red'>;

export interface Charter {
  description: string;
  defaultTlp: DefaultTlp;
  allowAnonymous: boolean;
  publishClear: boolean;
}

/** A community (trust group) with its charter. */
export interface CommunityRecord extends Charter {
  id: string;
  /** Unique, compared without regard to case. */
  name: string;
  /** The community's STIX 2.1 identity (`identity_class: "group"`) as JSON. */
  identity: string;
  createdAt: number;
}

/** The relation of an organisation to a community, for the access rules. */
export interface CommunityRelation {
  member: boolean;
  /** A client of at least one member organisation. */
  client: boolean;
}

export interface InvitationRecord {
  id: string;
  /** `invitation`: a moderator invites the organisation; `request`: it requests to join. */
  kind: 'invitation' | 'request';
  communityId: string;
  organisationId: string;
  state: 'pending' | 'accepted' | 'declined';
  createdBy: string;
  createdAt: number;
  answeredBy?: string;
  answeredAt?: number;
}

export interface AuditRecord {
  /** Increasing; assigned by the store. */
  seq: number;
  at: number;
  action: string;
  actorId?: string;
  actorName?: string;
  organisationId?: string;
  sourceAddress?: string;
  target?: string;
  details: Record<string, unknown>;
  /**
   * Set on entries that name the real contributor of an anonymous share; only platform
   * admins read them.
   */
  anonymous: boolean;
}

export type NewAuditRecord = Omit<AuditRecord, 'seq'>;

export interface AuditFilter {
  /** Only entries of this organisation. */
  organisationId?: string;
  /** Leave out entries marked anonymous. */
  withoutAnonymous?: boolean;
  action?: string;
  actorId?: string;
  /** Only entries at or after this time (microseconds). */
  after?: number;
  /** Only entries before this time (microseconds). */
  before?: number;
  /** Only entries with a seq below this, for paging newest first. */
  beforeSeq?: number;
  limit: number;
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

/**
 * The kind of change to an object version in a collection. `created` is the first version of the
 * object in the collection, `updated` a later one, `revoked` a version with `revoked: true`,
 * `deleted` a version removed from the collection.
 */
export type EventKind = 'created' | 'updated' | 'revoked' | 'deleted';

/**
 * One entry of the event log. The store appends events in the same transaction as the change
 * they describe, so the log and the collections never disagree, and within one collection
 * events follow date_added order: a TAXII poll and a stream see the same order.
 */
export interface EventRecord {
  /** Strictly increasing over the whole store; assigned by the store, never reused. */
  seq: number;
  /** When the change was committed (microseconds). */
  at: number;
  kind: EventKind;
  collectionId: string;
  /** The community that owns the collection, when one does. */
  communityId?: string;
  objectId: string;
  objectType: string;
  specVersion: string;
  version: string;
  versionKey: string;
  /** The date_added of the version in the collection (of the removed entry for deletes). */
  dateAdded: number;
  /** The version as JSON; absent for deletes. */
  json?: string;
  /** The sharing facts of the version, so each subscriber's access is checked per event. */
  sharing: EntrySharing;
}

/**
 * The events that one write transaction appended, handed to listeners of this process right
 * after the commit. `afterSeq` was the newest seq of the log when the transaction appended
 * its first event, so a reader positioned at `afterSeq` has read the whole log up to the last
 * of `events` once it has read them.
 */
export interface CommittedEvents {
  afterSeq: number;
  /** In seq order, with `json` set as readEvents sets it. */
  events: readonly EventRecord[];
}

export interface EventQuery {
  /** Only events with a seq strictly greater than this. */
  afterSeq: number;
  limit: number;
  /** Only events of these collections (ORed). */
  collectionIds?: string[];
  /**
   * Only events of these kinds (ORed). The other events are still scanned in seq order,
   * but their JSON is not read.
   */
  kinds?: readonly EventKind[];
}

/** The retention policy of the event log: events outside it are pruned. */
export interface EventRetention {
  /** Prune events committed before this time (microseconds). */
  before?: number;
  /** Keep at most this many of the newest events. */
  maxEvents?: number;
}

/**
 * A small JSON document of a feature that needs no tables of its own: webhooks and their
 * deliveries, watch lists and alerts, connectors and their checkpoints. Documents are
 * grouped by `kind`; `id` is unique within a kind, and so is `key` when present.
 */
export interface DocumentRecord {
  kind: string;
  id: string;
  /** The owner, a user or organisation id; list queries filter on it. */
  owner?: string;
  /** A second unique name within the kind, such as a de-duplication key. */
  key?: string;
  /** When the document next needs work (microseconds); see claimDocuments. */
  due?: number;
  /** The document body as JSON. */
  body: string;
  /** Increased by the store on every write, starting at 1; see putDocument. */
  revision: number;
  /** When it was last written (microseconds). */
  updatedAt: number;
}

export type NewDocument = Omit<DocumentRecord, 'revision' | 'updatedAt'>;

/** One write of putDocuments. */
export interface DocumentWrite {
  document: NewDocument;
  /** The revision the document must be at, as in putDocument. */
  expectRevision?: number;
}

export interface DocumentQuery {
  kind: string;
  owner?: string;
  /** Only documents whose id sorts after this one, for paging by id. */
  afterId?: string;
  limit: number;
}

/**
 * One mention of an observable value by an object in a collection, from one source; the
 * correlation index is made of them (see src/correlation).
 */
export interface ObservableRef {
  /** `type:value`, such as `domain:example.com`; see correlation/observables.ts. */
  value: string;
  objectId: string;
  collectionId: string;
  /** The supplier of the object: `connector:<id>`, `org:<id>` or `operator`. */
  source: string;
}

/** How many references a value has, and whether it reached the cap and stopped growing. */
export interface ObservableStats {
  value: string;
  refs: number;
  capped: boolean;
}

/**
 * One look-up key of an object in a collection, in the retro-hunt key index (see
 * src/watch/hunt-keys.ts for what a key is made of).
 */
export interface HuntKey {
  key: string;
  objectId: string;
}

/** Rows of the retro-hunt key index of one collection: give `keys` or `prefix`, not both. */
export interface HuntKeyQuery {
  collectionId: string;
  /** Rows whose key is one of these. */
  keys?: readonly string[];
  /** Rows whose key starts with this text; its last character must be ASCII (below U+007F). */
  prefix?: string;
  /** Only rows after this one, in (key, objectId) order by code point. */
  after?: HuntKey;
  limit: number;
}

/** The key rows one object in a collection is to have (see Store.setObjectHuntKeys). */
export interface ObjectHuntKeys {
  objectId: string;
  keys: readonly string[];
  /** The newest date_added among the versions the keys come from (microseconds), 0 for none. */
  readUpTo: number;
}

/**
 * The sightings and false-positive report of one organisation on one object, within one
 * feedback scope (see src/scoring/feedback.ts): the community of the collection through
 * which the organisation read the object, or `collection:<id>` for a collection that no
 * community owns.
 */
export interface FeedbackReport {
  objectId: string;
  scope: string;
  organisationId: string;
  /** Sightings reported so far, capped at Number.MAX_SAFE_INTEGER. */
  sightings: number;
  falsePositive: boolean;
  /** The last reported sighting (microseconds). */
  lastSightingAt?: number;
}

/** The change one report makes to a FeedbackReport. */
export interface FeedbackChange {
  objectId: string;
  scope: string;
  organisationId: string;
  /** A non-negative integer. */
  sightings?: number;
  falsePositive?: boolean;
  at: number;
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
  /** Collections owned by a community, in every API root, sorted by id. */
  listCommunityCollections(communityId: string): Promise<CollectionRecord[]>;
  /** Finds a collection by id, in any API root. */
  getCollectionById(id: string): Promise<CollectionRecord | undefined>;
  /** Finds a collection of the API root by id or by alias. */
  getCollection(apiRoot: string, idOrAlias: string): Promise<CollectionRecord | undefined>;

  /**
   * Adds object versions to a collection in one transaction. A version already in the
   * collection (same id and versionKey) is reported as a duplicate and left unchanged.
   * Each added version gets a date_added unique and strictly increasing in the collection.
   */
  addObjects(collectionId: string, objects: PreparedObject[]): Promise<AddResult[]>;

  /**
   * Adds object versions that Cairn's own converters built from normalised values (plain
   * text and CSV lists), in one transaction: the bulk path of imports and list connectors.
   * Callers check what is cheap to check and set `sharing` on every version; the store
   * does not validate the STIX content (see src/ingest/converted.ts for why).
   *
   * It keeps every rule of addObjects. A version already in the collection, or earlier in
   * the same call, is a duplicate. Each added version gets a strictly increasing
   * date_added and its event. The JSON of a version is shared with other collections only
   * when byte-identical. It also applies the re-share rule that the sharing step applies
   * before addObjects: a version whose object isHeldRestricted for the collection's
   * community and the version's contributor organisation is rejected, not stored.
   *
   * Throws TypeError, and stores nothing of the call, when a version's id does not start
   * with its type or its JSON cannot be stored; throws StoreConflictError for an unknown
   * collection.
   */
  addConverted(collectionId: string, objects: PreparedObject[]): Promise<ConvertedAddResult>;

  /** Versions with their JSON, for the objects and get-an-object endpoints. */
  queryObjects(query: VersionQuery): Promise<Page<StoredVersionWithJson>>;
  /** Versions without their JSON, for the manifest and versions endpoints. */
  queryManifest(query: VersionQuery): Promise<Page<StoredVersion>>;
  /** Whether any version of the object is in the collection, and visible through `access`. */
  hasObject(collectionId: string, id: string, access?: AccessFilter): Promise<boolean>;
  /**
   * Whether a collection of another community than `communityId` contains a version of the
   * object marked AMBER, AMBER+STRICT or RED (by its markings or its community's default),
   * contributed by another organisation than `organisationId`. The version counts only when
   * users of `organisationId` may read it through its memberships: as members, as clients of
   * a member (AMBER), or as named recipients (RED). Such objects may not be re-shared. Versions the
   * organisation cannot read never count, so the answer reveals nothing about them, and an
   * empty `organisationId` (an operator import) finds none.
   */
  isHeldRestricted(id: string, communityId: string, organisationId: string): Promise<boolean>;
  /**
   * The ids among `ids` for which isHeldRestricted is true, found with one query, so that
   * the sharing step checks a whole batch at the cost of one look-up.
   */
  findHeldRestricted(
    ids: readonly string[],
    communityId: string,
    organisationId: string,
  ): Promise<Set<string>>;
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

  /** Events in seq order. */
  readEvents(query: EventQuery): Promise<EventRecord[]>;
  /**
   * Calls `listener` after each commit through this store object that appended events, with
   * those events, before the write call returns. Writes of other processes or nodes are not
   * reported. Optional: a store without it leaves readers to readEvents. Returns a function
   * that stops the calls.
   */
  listenCommittedEvents?(listener: (committed: CommittedEvents) => void): () => void;
  /**
   * The oldest retained and the newest seq; both 0 when the log is empty. A reader whose
   * cursor is below `first - 1` missed pruned events and must re-sync.
   */
  eventBounds(): Promise<{ first: number; last: number }>;
  /** The seq of the last event committed before `at` (microseconds), or 0. */
  eventSeqBefore(at: number): Promise<number>;
  /** Deletes events outside the retention; returns how many. The newest event always stays. */
  pruneEvents(retention: EventRetention): Promise<number>;

  saveStatus(status: StatusRecord): Promise<void>;
  getStatus(apiRoot: string, id: string): Promise<StatusRecord | undefined>;
  /** Deletes statuses whose expiresAt is before `now`; returns how many. */
  purgeStatuses(now: number): Promise<number>;

  /** Throws StoreConflictError when the name is taken. */
  createUser(user: UserRecord): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | undefined>;
  getUserByName(name: string): Promise<UserRecord | undefined>;
  /** Users sorted by name; of one organisation when given. */
  listUsers(organisationId?: string): Promise<UserRecord[]>;
  /** Returns the changed user, or undefined when there is no such user. */
  updateUser(
    id: string,
    change: Partial<Pick<UserRecord, 'role' | 'disabled'>>,
  ): Promise<UserRecord | undefined>;

  /** Throws StoreConflictError when the name is taken. */
  createOrganisation(organisation: OrganisationRecord): Promise<OrganisationRecord>;
  getOrganisation(id: string): Promise<OrganisationRecord | undefined>;
  getOrganisationByName(name: string): Promise<OrganisationRecord | undefined>;
  /** Organisations sorted by name. */
  listOrganisations(): Promise<OrganisationRecord[]>;
  /** Makes `clientId` a client of `providerId`; throws StoreConflictError for an unknown id. */
  addClient(providerId: string, clientId: string): Promise<void>;
  /** Returns false when there was no such relation. */
  removeClient(providerId: string, clientId: string): Promise<boolean>;
  listClients(providerId: string): Promise<string[]>;

  /**
   * Creates a community with its first member organisation and first moderator, in one
   * transaction. Throws StoreConflictError when the name is taken. Only first-start setup
   * leaves out the moderator, when no user exists yet.
   */
  createCommunity(
    community: CommunityRecord,
    memberId: string,
    moderatorId: string | undefined,
  ): Promise<CommunityRecord>;
  getCommunity(id: string): Promise<CommunityRecord | undefined>;
  getCommunityByName(name: string): Promise<CommunityRecord | undefined>;
  /** Communities sorted by name; those the organisation is a member of when given. */
  listCommunities(memberId?: string): Promise<CommunityRecord[]>;
  updateCharter(id: string, change: Partial<Charter>): Promise<CommunityRecord | undefined>;
  /** Organisation ids, sorted. */
  listMembers(communityId: string): Promise<string[]>;
  /** Adds a member; adding one twice changes nothing. */
  addMember(communityId: string, organisationId: string): Promise<void>;
  /**
   * Removes a member and its users' moderator roles; throws StoreConflictError when it is
   * the last member, or when its users are the only moderators. Returns false when it was
   * no member.
   */
  removeMember(communityId: string, organisationId: string): Promise<boolean>;
  /** User ids, sorted. */
  listModerators(communityId: string): Promise<string[]>;
  addModerator(communityId: string, userId: string): Promise<void>;
  /** Throws StoreConflictError for the last moderator; returns false when it was none. */
  removeModerator(communityId: string, userId: string): Promise<boolean>;
  communityRelation(communityId: string, organisationId: string): Promise<CommunityRelation>;

  createInvitation(invitation: InvitationRecord): Promise<InvitationRecord>;
  getInvitation(id: string): Promise<InvitationRecord | undefined>;
  /** Invitations sorted by creation time; filtered by community, organisation and state. */
  listInvitations(filter: {
    communityIds?: string[];
    organisationId?: string;
    state?: InvitationRecord['state'];
  }): Promise<InvitationRecord[]>;
  /**
   * Records the answer to a pending invitation. Accepting adds the member in the same transaction.
   * Returns undefined when there is no pending invitation with this id.
   */
  answerInvitation(
    id: string,
    state: 'accepted' | 'declined',
    by: string,
    at: number,
  ): Promise<InvitationRecord | undefined>;

  appendAudit(entry: NewAuditRecord): Promise<AuditRecord>;
  /** Entries newest first. */
  queryAudit(filter: AuditFilter): Promise<AuditRecord[]>;

  createToken(token: TokenRecord): Promise<TokenRecord>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(userId?: string): Promise<TokenRecord[]>;
  /** Marks the token revoked; returns false when there is no such token. */
  revokeToken(id: string, at: number): Promise<boolean>;
  touchToken(id: string, at: number): Promise<void>;

  /**
   * Creates or replaces a document. With `expectRevision`, the write happens only when the
   * stored revision is that number (0: only when absent) and otherwise throws
   * StoreConflictError, so two nodes never both apply a change. Throws StoreConflictError
   * when `key` is taken by another document of the kind. Returns the stored document.
   */
  putDocument(document: NewDocument, expectRevision?: number): Promise<DocumentRecord>;
  /**
   * Applies several putDocument writes in one transaction, in order: when one of them
   * throws (StoreConflictError for a revision or key conflict), none is stored. Returns
   * the stored documents in the order of `writes`.
   */
  putDocuments(writes: readonly DocumentWrite[]): Promise<DocumentRecord[]>;
  getDocument(kind: string, id: string): Promise<DocumentRecord | undefined>;
  getDocumentByKey(kind: string, key: string): Promise<DocumentRecord | undefined>;
  /** Documents sorted by id. */
  listDocuments(query: DocumentQuery): Promise<DocumentRecord[]>;
  /** Returns false when there was no such document. */
  deleteDocument(kind: string, id: string): Promise<boolean>;
  /**
   * Claims up to `limit` documents of the kind whose `due` is at or before `now`, by setting
   * their `due` to `leaseUntil` in the same step, and returns them with the new due. Two
   * callers (on any node) never claim the same document for the same due time, so work such
   * as a webhook delivery or a scheduled run happens once. A claimer that dies leaves the
   * document due again at `leaseUntil`.
   */
  claimDocuments(
    kind: string,
    now: number,
    leaseUntil: number,
    limit: number,
  ): Promise<DocumentRecord[]>;

  /**
   * Adds correlation references in one transaction; a reference already stored is left
   * alone. A value that has `capPerValue` references takes no more and is marked capped.
   * Returns how many references were added.
   */
  addObservableRefs(refs: readonly ObservableRef[], capPerValue: number): Promise<number>;
  /** Removes every reference of an object in a collection; returns how many went. */
  removeObjectRefs(collectionId: string, objectId: string): Promise<number>;
  /** References of one value, sorted by collection id, object id and source. */
  findObservableRefs(value: string, limit: number): Promise<ObservableRef[]>;
  /** References of these objects, sorted by object id, collection id, value and source. */
  objectRefs(objectIds: readonly string[]): Promise<ObservableRef[]>;
  /** Counts of the values that have references, sorted by value; unknown values are left out. */
  observableStats(values: readonly string[]): Promise<ObservableStats[]>;
  /** Adds to the report of an organisation in a scope and returns the new report. */
  addFeedback(change: FeedbackChange): Promise<FeedbackReport>;
  /**
   * Reports on these objects within these scopes, sorted by object id, scope and
   * organisation id. Reports in other scopes are left out.
   */
  getFeedback(objectIds: readonly string[], scopes: readonly string[]): Promise<FeedbackReport[]>;

  /**
   * Adds retro-hunt look-up keys of objects in a collection, in one transaction; a key
   * already stored is left alone. In the same transaction it raises the collection's
   * indexed mark to `upTo` (a date_added, microseconds); the mark never goes down. The
   * caller promises that the keys of every version up to the mark are stored. Throws
   * StoreConflictError for an unknown collection and TypeError for a key that is empty, not
   * well-formed UTF-16 or contains U+0000. Returns how many keys were new.
   */
  addHuntKeys(collectionId: string, keys: readonly HuntKey[], upTo: number): Promise<number>;
  /** The indexed mark of a collection (see addHuntKeys); 0 when none is set. */
  huntKeyMark(collectionId: string): Promise<number>;
  /** Key rows of a collection, sorted by key and then object id, by code point. */
  findHuntKeys(query: HuntKeyQuery): Promise<HuntKey[]>;
  /**
   * Sets the key rows of objects in a collection to their `keys`, in one transaction: rows
   * with other keys go and missing ones are added, so an object that lost versions keeps
   * only the keys of those that remain. An object that got a version after its `readUpTo`
   * is left as it is, because its keys may lack that version's. Returns the ids of such
   * objects: read their versions again and retry. The indexed mark stays as it is. Costs
   * one scan of the collection's key rows, so pass many objects at once. Throws TypeError
   * for a key that addHuntKeys rejects.
   */
  setObjectHuntKeys(collectionId: string, objects: readonly ObjectHuntKeys[]): Promise<string[]>;

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

/**
 * The store cannot be reached: its database server is down, restarting or refusing
 * connections. Nothing was changed by the failed call, or it cannot be known whether the
 * change was committed; the same call may succeed once the server is back.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
