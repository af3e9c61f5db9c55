/**
 * The sharing services that transports (the JSON API, the CLI) call: organisations, users,
 * communities, invitations, sharing and the audit log. Each method takes the acting caller
 * explicitly, checks the rules of docs/sharing.md, writes an audit entry for every change,
 * and throws CairnError with a catalog code on failure:
 *
 * - `invalid-parameter` (400) for malformed input,
 * - `forbidden` (403) when the caller may know the resource but may not act on it,
 * - `not-found` (404) for what does not exist or the caller may not see,
 * - `conflict` (409) for a duplicate name or removing the last moderator or member,
 * - `rule-broken` (422) for a sharing rule: RED without recipients, re-sharing AMBER,
 *   anonymous sharing that the charter does not allow.
 *
 * Ids are UUID strings. Times are microseconds since the Unix epoch, as in the store.
 */
import type { SubmitResult } from '../ingest/submit.ts';
import type { Store } from '../store/store.ts';
import { CommunityServices } from './community-services.ts';
import { Guard } from './guard.ts';
import { OrganisationServices } from './organisation-services.ts';
import { ShareServices } from './share-services.ts';

/** Roles a user holds within their organisation (see docs/sharing.md). */
export type UserRole = 'platform-admin' | 'org-admin' | 'analyst' | 'read-only';

/** TLP levels a community may take as its default; RED is never a default. */
export type DefaultTlp = 'clear' | 'green' | 'amber' | 'amber+strict';

export type TokenScope = 'read' | 'write' | 'admin';

/** Who acts: an authenticated user, the token used, and the request's source address. */
export interface Actor {
  userId: string;
  /** The token the request carried; its scopes narrow the user's rights. Absent for the CLI. */
  tokenId?: string;
  /** The client address as the server saw it; absent for the CLI. */
  sourceAddress?: string;
}

export interface OrganisationView {
  id: string;
  name: string;
  sectors: string[];
  contactInformation?: string;
  /** The organisation's STIX 2.1 identity (`identity_class: "organization"`). */
  identity: Record<string, unknown>;
  /** Ids of its client organisations (provider → client). */
  clients: string[];
  createdAt: number;
}

export interface NewOrganisation {
  name: string;
  sectors?: string[];
  contactInformation?: string;
}

export interface UserView {
  id: string;
  name: string;
  organisationId: string;
  role: UserRole;
  disabled: boolean;
  createdAt: number;
}

export interface UserChange {
  role?: UserRole;
  disabled?: boolean;
}

export interface TokenView {
  id: string;
  userId: string;
  label: string;
  scopes: TokenScope[];
  createdAt: number;
  expiresAt?: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

export interface NewToken {
  label?: string;
  scopes?: TokenScope[];
  expiresInDays?: number;
}

export interface Charter {
  description: string;
  defaultTlp: DefaultTlp;
  allowAnonymous: boolean;
  /** Whether the community's CLEAR objects are readable by every authenticated user. */
  publishClear: boolean;
}

export interface NewCommunity extends Partial<Charter> {
  name: string;
}

export interface CommunityCollectionView {
  id: string;
  apiRoot: string;
  title: string;
  alias?: string;
  description?: string;
}

export interface CommunityView {
  id: string;
  name: string;
  charter: Charter;
  /** The community's STIX 2.1 identity (`identity_class: "group"`). */
  identity: Record<string, unknown>;
  createdAt: number;
}

export interface CommunityDetail extends CommunityView {
  /** Organisation ids. */
  members: string[];
  /** User ids. */
  moderators: string[];
  collections: CommunityCollectionView[];
}

export interface NewCommunityCollection {
  title: string;
  alias?: string;
  description?: string;
}

export type InvitationKind = 'invitation' | 'request';
export type InvitationState = 'pending' | 'accepted' | 'declined';

/** An invitation (moderator → organisation) or a join request (organisation → community). */
export interface InvitationView {
  id: string;
  kind: InvitationKind;
  communityId: string;
  organisationId: string;
  state: InvitationState;
  createdBy: string;
  createdAt: number;
  answeredBy?: string;
  answeredAt?: number;
}

export interface ShareOptions {
  /** Replace `created_by_ref` with the community identity; the charter must allow it. */
  anonymous?: boolean;
  /** User ids who may read RED objects of this share, besides the contributor. */
  recipients?: string[];
}

export interface MeView {
  user: UserView;
  organisation: OrganisationView;
  communities: CommunityView[];
}

export interface AuditEntryView {
  id: number;
  at: number;
  action: string;
  /** User id; absent for failed authentication of an unknown user. */
  actorId?: string;
  actorName?: string;
  organisationId?: string;
  sourceAddress?: string;
  /** What was acted on: an id or name, by action. */
  target?: string;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  /** Only entries at or after this time (microseconds). */
  after?: number;
  /** Only entries before this time (microseconds). */
  before?: number;
  action?: string;
  /** A user id. */
  actor?: string;
  /** At most this many entries; defaults to 100, capped at 1,000. */
  limit?: number;
  /** The `next` value of the previous page. */
  cursor?: string;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntryView[];
  next?: string;
}

/** The services, one object per server; `createSharingServices` builds them. */
export interface SharingServices {
  me(actor: Actor): Promise<MeView>;

  createOrganisation(actor: Actor, input: NewOrganisation): Promise<OrganisationView>;
  /** Platform admins: all; others: their own organisation. */
  listOrganisations(actor: Actor): Promise<OrganisationView[]>;
  getOrganisation(actor: Actor, id: string): Promise<OrganisationView>;
  addClient(actor: Actor, providerId: string, clientId: string): Promise<void>;
  removeClient(actor: Actor, providerId: string, clientId: string): Promise<void>;

  createUser(
    actor: Actor,
    organisationId: string,
    input: { name: string; role: UserRole },
  ): Promise<UserView>;
  listUsers(actor: Actor, organisationId: string): Promise<UserView[]>;
  updateUser(actor: Actor, userId: string, change: UserChange): Promise<UserView>;
  /** Returns the token once; only its hash is stored. */
  createToken(
    actor: Actor,
    userId: string,
    input: NewToken,
  ): Promise<{ token: string; record: TokenView }>;
  listTokens(actor: Actor, userId: string): Promise<TokenView[]>;
  revokeToken(actor: Actor, tokenId: string): Promise<void>;

  createCommunity(actor: Actor, input: NewCommunity): Promise<CommunityDetail>;
  /** Communities of the caller's organisation; platform admins: all. */
  listCommunities(actor: Actor): Promise<CommunityView[]>;
  getCommunity(actor: Actor, id: string): Promise<CommunityDetail>;
  updateCharter(actor: Actor, id: string, change: Partial<Charter>): Promise<CommunityDetail>;
  createCollection(
    actor: Actor,
    communityId: string,
    input: NewCommunityCollection,
  ): Promise<CommunityCollectionView>;
  addModerator(actor: Actor, communityId: string, userId: string): Promise<void>;
  removeModerator(actor: Actor, communityId: string, userId: string): Promise<void>;
  removeMember(actor: Actor, communityId: string, organisationId: string): Promise<void>;

  invite(actor: Actor, communityId: string, organisationId: string): Promise<InvitationView>;
  requestToJoin(actor: Actor, communityId: string): Promise<InvitationView>;
  /** Pending invitations and requests the caller may answer or has sent. */
  listInvitations(actor: Actor): Promise<InvitationView[]>;
  acceptInvitation(actor: Actor, id: string): Promise<InvitationView>;
  declineInvitation(actor: Actor, id: string): Promise<InvitationView>;

  /** Shares objects into a collection; failures are per object, like a TAXII status. */
  share(
    actor: Actor,
    collectionId: string,
    objects: readonly unknown[],
    options?: ShareOptions,
  ): Promise<SubmitResult>;

  /** Platform admins: every entry; org admins: their organisation's, without anonymous contributors. */
  queryAudit(actor: Actor, query: AuditQuery): Promise<AuditPage>;
  exportAudit(
    actor: Actor,
    query: Omit<AuditQuery, 'limit' | 'cursor'>,
  ): AsyncIterable<AuditEntryView>;
}

export interface SharingServiceOptions {
  /** API root of the collections that communities create; `default` when absent. */
  defaultApiRoot?: string;
}

/** Builds the sharing services over a migrated store. */
export function createSharingServices(
  store: Store,
  options: SharingServiceOptions = {},
): SharingServices {
  const guard = new Guard(store);
  const organisations = new OrganisationServices(guard);
  const communities = new CommunityServices(guard, options.defaultApiRoot ?? 'default');
  const shares = new ShareServices(guard, organisations);
  return {
    me: (actor) => shares.me(actor),
    createOrganisation: (actor, input) => organisations.createOrganisation(actor, input),
    listOrganisations: (actor) => organisations.listOrganisations(actor),
    getOrganisation: (actor, id) => organisations.getOrganisation(actor, id),
    addClient: (actor, providerId, clientId) =>
      organisations.addClient(actor, providerId, clientId),
    removeClient: (actor, providerId, clientId) =>
      organisations.removeClient(actor, providerId, clientId),
    createUser: (actor, organisationId, input) =>
      organisations.createUser(actor, organisationId, input),
    listUsers: (actor, organisationId) => organisations.listUsers(actor, organisationId),
    updateUser: (actor, userId, change) => organisations.updateUser(actor, userId, change),
    createToken: (actor, userId, input) => organisations.createToken(actor, userId, input),
    listTokens: (actor, userId) => organisations.listTokens(actor, userId),
    revokeToken: (actor, tokenId) => organisations.revokeToken(actor, tokenId),
    createCommunity: (actor, input) => communities.createCommunity(actor, input),
    listCommunities: (actor) => communities.listCommunities(actor),
    getCommunity: (actor, id) => communities.getCommunity(actor, id),
    updateCharter: (actor, id, change) => communities.updateCharter(actor, id, change),
    createCollection: (actor, communityId, input) =>
      communities.createCollection(actor, communityId, input),
    addModerator: (actor, communityId, userId) =>
      communities.addModerator(actor, communityId, userId),
    removeModerator: (actor, communityId, userId) =>
      communities.removeModerator(actor, communityId, userId),
    removeMember: (actor, communityId, organisationId) =>
      communities.removeMember(actor, communityId, organisationId),
    invite: (actor, communityId, organisationId) =>
      communities.invite(actor, communityId, organisationId),
    requestToJoin: (actor, communityId) => communities.requestToJoin(actor, communityId),
    listInvitations: (actor) => communities.listInvitations(actor),
    acceptInvitation: (actor, id) => communities.acceptInvitation(actor, id),
    declineInvitation: (actor, id) => communities.declineInvitation(actor, id),
    share: (actor, collectionId, objects, shareOptions) =>
      shares.share(actor, collectionId, objects, shareOptions),
    queryAudit: (actor, query) => shares.queryAudit(actor, query),
    exportAudit: (actor, query) => shares.exportAudit(actor, query),
  };
}
