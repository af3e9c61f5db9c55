/**
 * Communities, their charter, members, moderators, collections and the joining steps
 * (docs/sharing.md, "Communities").
 */
import { randomUUID } from 'node:crypto';

import { CairnError } from '../errors.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { buildIdentity } from '../store/identity.ts';
import type {
  Charter,
  CollectionRecord,
  CommunityRecord,
  InvitationRecord,
} from '../store/store.ts';
import {
  checkAlias,
  checkName,
  conflictsAs409,
  forbidden,
  invalid,
  notFound,
  type Acting,
  type Guard,
} from './guard.ts';
import type {
  Actor,
  CommunityCollectionView,
  CommunityDetail,
  CommunityView,
  InvitationView,
  NewCommunity,
  NewCommunityCollection,
} from './service.ts';

const DEFAULT_TLPS: readonly Charter['defaultTlp'][] = ['clear', 'green', 'amber', 'amber+strict'];

const DEFAULT_CHARTER: Charter = {
  description: '',
  defaultTlp: 'green',
  allowAnonymous: false,
  publishClear: false,
};

function conflict(message: string): CairnError {
  return new CairnError('conflict', message);
}

/** Checks the charter properties that are present; unknown values are rejected. */
function checkCharter(change: Partial<Charter>): Partial<Charter> {
  const checked: Partial<Charter> = {};
  if (change.description !== undefined) {
    if (typeof change.description !== 'string' || change.description.length > 10_000) {
      throw invalid('description must be a string of at most 10,000 characters');
    }
    checked.description = change.description;
  }
  if (change.defaultTlp !== undefined) {
    if (!DEFAULT_TLPS.includes(change.defaultTlp)) {
      throw invalid(
        `defaultTlp ${JSON.stringify(change.defaultTlp)} is not valid: use one of ${DEFAULT_TLPS.join(', ')} (never red)`,
      );
    }
    checked.defaultTlp = change.defaultTlp;
  }
  for (const flag of ['allowAnonymous', 'publishClear'] as const) {
    const value = change[flag];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw invalid(`${flag} must be true or false`);
    checked[flag] = value;
  }
  return checked;
}

function collectionView(collection: CollectionRecord): CommunityCollectionView {
  return {
    id: collection.id,
    apiRoot: collection.apiRoot,
    title: collection.title,
    ...(collection.alias !== undefined ? { alias: collection.alias } : {}),
    ...(collection.description !== undefined ? { description: collection.description } : {}),
  };
}

function invitationView(invitation: InvitationRecord): InvitationView {
  return { ...invitation };
}

export function communityView(community: CommunityRecord): CommunityView {
  return {
    id: community.id,
    name: community.name,
    charter: {
      description: community.description,
      defaultTlp: community.defaultTlp,
      allowAnonymous: community.allowAnonymous,
      publishClear: community.publishClear,
    },
    identity: JSON.parse(community.identity) as Record<string, unknown>,
    createdAt: community.createdAt,
  };
}

export class CommunityServices {
  constructor(
    readonly guard: Guard,
    readonly defaultApiRoot: string,
  ) {}

  get store() {
    return this.guard.store;
  }

  async #detail(community: CommunityRecord): Promise<CommunityDetail> {
    const [members, moderators, collections] = await Promise.all([
      this.store.listMembers(community.id),
      this.store.listModerators(community.id),
      this.store.listCommunityCollections(community.id),
    ]);
    return {
      ...communityView(community),
      members,
      moderators,
      collections: collections.map(collectionView),
    };
  }

  /** Finds a community the acting user may see: as a member, or any for platform admins. */
  async #visible(acting: Acting, id: string): Promise<CommunityRecord> {
    const community = await this.store.getCommunity(id);
    const visible =
      community !== undefined &&
      (this.guard.isPlatformAdmin(acting) ||
        (await this.store.communityRelation(community.id, acting.user.organisationId)).member);
    if (!community || !visible) throw notFound(`community "${id}" not found`);
    return community;
  }

  async #isModerator(acting: Acting, communityId: string): Promise<boolean> {
    return (await this.store.listModerators(communityId)).includes(acting.user.id);
  }

  /** Finds a community the acting user moderates (or any, for platform admins). */
  async #moderated(acting: Acting, id: string, what: string): Promise<CommunityRecord> {
    const community = await this.#visible(acting, id);
    if (!this.guard.isPlatformAdmin(acting) && !(await this.#isModerator(acting, id))) {
      throw forbidden(`only moderators of community "${community.name}" may ${what}`);
    }
    return community;
  }

  async createCommunity(actor: Actor, input: NewCommunity): Promise<CommunityDetail> {
    const acting = await this.guard.resolve(actor, 'admin');
    if (!this.guard.isPlatformAdmin(acting) && acting.user.role !== 'org-admin') {
      throw forbidden('only platform admins and organisation admins may create communities');
    }
    const name = checkName(input.name, 'community name');
    const charter = { ...DEFAULT_CHARTER, ...checkCharter(input) };
    if (await this.store.getCommunityByName(name)) {
      throw conflict(`a community named "${name}" already exists`);
    }
    const identity = buildIdentity({
      name,
      identityClass: 'group',
      ...(charter.description ? { description: charter.description } : {}),
    });
    const community = await conflictsAs409(
      this.store.createCommunity(
        {
          id: randomUUID(),
          name,
          ...charter,
          identity: JSON.stringify(identity),
          createdAt: nowMicros(),
        },
        acting.user.organisationId,
        acting.user.id,
      ),
    );
    await this.guard.audit(acting, 'community.create', community.id, { name, ...charter });
    return this.#detail(community);
  }

  async listCommunities(actor: Actor): Promise<CommunityView[]> {
    const acting = await this.guard.resolve(actor, 'read');
    const communities = this.guard.isPlatformAdmin(acting)
      ? await this.store.listCommunities()
      : await this.store.listCommunities(acting.user.organisationId);
    return communities.map(communityView);
  }

  async getCommunity(actor: Actor, id: string): Promise<CommunityDetail> {
    const acting = await this.guard.resolve(actor, 'read');
    return this.#detail(await this.#visible(acting, id));
  }

  async updateCharter(
    actor: Actor,
    id: string,
    change: Partial<Charter>,
  ): Promise<CommunityDetail> {
    const acting = await this.guard.resolve(actor, 'admin');
    await this.#moderated(acting, id, 'change its charter');
    const checked = checkCharter(change);
    const updated = await this.store.updateCharter(id, checked);
    if (!updated) throw notFound(`community "${id}" not found`);
    await this.guard.audit(acting, 'community.charter', id, { ...checked });
    return this.#detail(updated);
  }

  async createCollection(
    actor: Actor,
    communityId: string,
    input: NewCommunityCollection,
  ): Promise<CommunityCollectionView> {
    const acting = await this.guard.resolve(actor, 'admin');
    await this.#moderated(acting, communityId, 'create its collections');
    const title = checkName(input.title, 'collection title');
    if (input.alias !== undefined) checkAlias(input.alias);
    if (input.description !== undefined && typeof input.description !== 'string') {
      throw invalid('description must be a string');
    }
    const collection = await conflictsAs409(
      this.store.createCollection({
        apiRoot: this.defaultApiRoot,
        title,
        communityId,
        ...(input.alias !== undefined ? { alias: input.alias } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
      }),
    );
    await this.guard.audit(acting, 'collection.create', collection.id, { communityId, title });
    return collectionView(collection);
  }

  async addModerator(actor: Actor, communityId: string, userId: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'admin');
    const community = await this.#moderated(acting, communityId, 'add moderators');
    const user = await this.store.getUser(userId);
    if (!user) throw notFound(`user "${userId}" not found`);
    const members = await this.store.listMembers(communityId);
    if (!members.includes(user.organisationId)) {
      throw new CairnError(
        'rule-broken',
        `user "${user.name}" cannot moderate community "${community.name}": moderators must belong to a member organisation`,
      );
    }
    await conflictsAs409(this.store.addModerator(communityId, user.id));
    await this.guard.audit(acting, 'community.moderator.add', communityId, { userId });
  }

  async removeModerator(actor: Actor, communityId: string, userId: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'admin');
    await this.#moderated(acting, communityId, 'remove moderators');
    const removed = await conflictsAs409(this.store.removeModerator(communityId, userId));
    if (!removed)
      throw notFound(`user "${userId}" is not a moderator of community "${communityId}"`);
    await this.guard.audit(acting, 'community.moderator.remove', communityId, { userId });
  }

  async removeMember(actor: Actor, communityId: string, organisationId: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'admin');
    const community = await this.#visible(acting, communityId);
    const leaving =
      acting.user.role === 'org-admin' && acting.user.organisationId === organisationId;
    const mayRemove =
      leaving ||
      this.guard.isPlatformAdmin(acting) ||
      (await this.#isModerator(acting, communityId));
    if (!mayRemove) {
      throw forbidden(`only moderators of community "${community.name}" may remove members`);
    }
    const removed = await conflictsAs409(this.store.removeMember(communityId, organisationId));
    if (!removed) {
      throw notFound(
        `organisation "${organisationId}" is not a member of community "${community.name}"`,
      );
    }
    await this.guard.audit(acting, 'community.member.remove', communityId, { organisationId });
  }

  async #checkJoinable(communityId: string, organisationId: string): Promise<void> {
    if ((await this.store.listMembers(communityId)).includes(organisationId)) {
      throw conflict(`organisation "${organisationId}" is already a member`);
    }
    const pending = await this.store.listInvitations({
      communityIds: [communityId],
      organisationId,
      state: 'pending',
    });
    if (pending.length > 0) {
      throw conflict(
        `organisation "${organisationId}" already has a pending ${pending[0]!.kind} (${pending[0]!.id})`,
      );
    }
  }

  async invite(actor: Actor, communityId: string, organisationId: string): Promise<InvitationView> {
    const acting = await this.guard.resolve(actor, 'admin');
    await this.#moderated(acting, communityId, 'invite organisations');
    if (!(await this.store.getOrganisation(organisationId))) {
      throw notFound(`organisation "${organisationId}" not found`);
    }
    await this.#checkJoinable(communityId, organisationId);
    const invitation = await this.#create(acting, 'invitation', communityId, organisationId);
    await this.guard.audit(acting, 'community.invite', communityId, {
      organisationId,
      invitationId: invitation.id,
    });
    return invitationView(invitation);
  }

  async requestToJoin(actor: Actor, communityId: string): Promise<InvitationView> {
    const acting = await this.guard.resolve(actor, 'admin');
    if (acting.user.role !== 'org-admin') {
      throw forbidden('only organisation admins may ask to join a community');
    }
    const community = await this.store.getCommunity(communityId);
    if (!community) throw notFound(`community "${communityId}" not found`);
    const organisationId = acting.user.organisationId;
    await this.#checkJoinable(communityId, organisationId);
    const request = await this.#create(acting, 'request', communityId, organisationId);
    await this.guard.audit(acting, 'community.request', communityId, { invitationId: request.id });
    return invitationView(request);
  }

  #create(
    acting: Acting,
    kind: InvitationRecord['kind'],
    communityId: string,
    organisationId: string,
  ): Promise<InvitationRecord> {
    return conflictsAs409(
      this.store.createInvitation({
        id: randomUUID(),
        kind,
        communityId,
        organisationId,
        state: 'pending',
        createdBy: acting.user.id,
        createdAt: nowMicros(),
      }),
    );
  }

  /** Whether the acting user may answer: invitations by the invited organisation's admins, requests by moderators. */
  async #mayAnswer(acting: Acting, invitation: InvitationRecord): Promise<boolean> {
    if (this.guard.isPlatformAdmin(acting)) return true;
    if (invitation.kind === 'invitation') {
      return (
        acting.user.role === 'org-admin' && acting.user.organisationId === invitation.organisationId
      );
    }
    return this.#isModerator(acting, invitation.communityId);
  }

  async listInvitations(actor: Actor): Promise<InvitationView[]> {
    const acting = await this.guard.resolve(actor, 'read');
    const pending = await this.store.listInvitations({ state: 'pending' });
    const visible: InvitationView[] = [];
    for (const invitation of pending) {
      const own = invitation.createdBy === acting.user.id;
      if (own || (await this.#mayAnswer(acting, invitation)))
        visible.push(invitationView(invitation));
    }
    return visible;
  }

  async #answer(actor: Actor, id: string, state: 'accepted' | 'declined'): Promise<InvitationView> {
    const acting = await this.guard.resolve(actor, 'admin');
    const invitation = await this.store.getInvitation(id);
    const mayKnow =
      invitation !== undefined &&
      (invitation.createdBy === acting.user.id || (await this.#mayAnswer(acting, invitation)));
    if (!invitation || !mayKnow) throw notFound(`invitation "${id}" not found`);
    if (!(await this.#mayAnswer(acting, invitation))) {
      throw forbidden(`invitation "${id}" can only be accepted or declined by the other side`);
    }
    if (invitation.state !== 'pending')
      throw conflict(`invitation "${id}" is already ${invitation.state}`);

    const answered = await conflictsAs409(
      this.store.answerInvitation(id, state, acting.user.id, nowMicros()),
    );
    if (!answered) throw conflict(`invitation "${id}" was accepted or declined in the meantime`);
    await this.guard.audit(
      acting,
      `community.${invitation.kind}.${state}`,
      invitation.communityId,
      {
        organisationId: invitation.organisationId,
        invitationId: id,
      },
    );
    return invitationView(answered);
  }

  acceptInvitation(actor: Actor, id: string): Promise<InvitationView> {
    return this.#answer(actor, id, 'accepted');
  }

  declineInvitation(actor: Actor, id: string): Promise<InvitationView> {
    return this.#answer(actor, id, 'declined');
  }
}
