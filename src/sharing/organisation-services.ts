/**
 * Organisations, their clients, users and tokens (docs/sharing.md, "People and
 * organisations").
 */
import { randomUUID } from 'node:crypto';

import { issueToken } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import { addUser } from '../auth/users.ts';
import { nowMicros } from '../stix/timestamp.ts';
import { buildIdentity } from '../store/identity.ts';
import {
  ROLES,
  type OrganisationRecord,
  type Role,
  type TokenRecord,
  type TokenScope,
  type UserRecord,
} from '../store/store.ts';
import {
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
  NewOrganisation,
  NewToken,
  OrganisationView,
  TokenView,
  UserChange,
  UserView,
} from './service.ts';

const SCOPES: readonly TokenScope[] = ['read', 'write', 'admin'];
/** STIX 2.1 open vocabularies use lowercase words joined by hyphens (section 10.14). */
const SECTOR = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const MAX_TOKEN_DAYS = 3650;
const DAY_MICROS = 86_400 * 1_000_000;

export function userView(user: UserRecord): UserView {
  return {
    id: user.id,
    name: user.name,
    organisationId: user.organisationId,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt,
  };
}

function tokenView(token: TokenRecord): TokenView {
  const { secretHash: _secret, ...view } = token;
  return view;
}

export class OrganisationServices {
  constructor(readonly guard: Guard) {}

  get store() {
    return this.guard.store;
  }

  async view(organisation: OrganisationRecord): Promise<OrganisationView> {
    const identity = JSON.parse(organisation.identity) as Record<string, unknown>;
    return {
      id: organisation.id,
      name: organisation.name,
      sectors: Array.isArray(identity.sectors) ? (identity.sectors as string[]) : [],
      ...(typeof identity.contact_information === 'string'
        ? { contactInformation: identity.contact_information }
        : {}),
      identity,
      clients: await this.store.listClients(organisation.id),
      createdAt: organisation.createdAt,
    };
  }

  async createOrganisation(actor: Actor, input: NewOrganisation): Promise<OrganisationView> {
    const acting = await this.guard.resolve(actor, 'admin');
    this.guard.requirePlatformAdmin(acting, 'create organisations');
    const name = checkName(input.name, 'organisation name');
    const sectors = input.sectors ?? [];
    if (!Array.isArray(sectors) || !sectors.every((s) => typeof s === 'string' && SECTOR.test(s))) {
      throw invalid(
        `sectors ${JSON.stringify(sectors)} must be a list of words such as "financial-services"`,
      );
    }
    if (input.contactInformation !== undefined && typeof input.contactInformation !== 'string') {
      throw invalid('contactInformation must be a string');
    }
    if (await this.store.getOrganisationByName(name)) {
      throw new CairnError('conflict', `an organisation named "${name}" already exists`);
    }

    const identity = buildIdentity({
      name,
      identityClass: 'organization',
      sectors,
      ...(input.contactInformation ? { contactInformation: input.contactInformation } : {}),
    });
    const organisation = await conflictsAs409(
      this.store.createOrganisation({
        id: randomUUID(),
        name,
        identity: JSON.stringify(identity),
        createdAt: nowMicros(),
      }),
    );
    await this.guard.audit(acting, 'organisation.create', organisation.id, { name });
    return this.view(organisation);
  }

  async listOrganisations(actor: Actor): Promise<OrganisationView[]> {
    const acting = await this.guard.resolve(actor, 'read');
    const organisations = this.guard.isPlatformAdmin(acting)
      ? await this.store.listOrganisations()
      : [await this.store.getOrganisation(acting.user.organisationId)].filter(
          (o) => o !== undefined,
        );
    return Promise.all(organisations.map((organisation) => this.view(organisation)));
  }

  /** Finds an organisation the acting user may see: their own, or any for platform admins. */
  async visibleOrganisation(acting: Acting, id: string): Promise<OrganisationRecord> {
    const mayKnow = this.guard.isPlatformAdmin(acting) || acting.user.organisationId === id;
    const organisation = mayKnow ? await this.store.getOrganisation(id) : undefined;
    if (!organisation) throw notFound(`organisation "${id}" not found`);
    return organisation;
  }

  async getOrganisation(actor: Actor, id: string): Promise<OrganisationView> {
    const acting = await this.guard.resolve(actor, 'read');
    return this.view(await this.visibleOrganisation(acting, id));
  }

  async addClient(actor: Actor, providerId: string, clientId: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'admin');
    this.guard.requirePlatformAdmin(acting, 'manage client organisations');
    await this.visibleOrganisation(acting, providerId);
    await this.visibleOrganisation(acting, clientId);
    if (providerId === clientId) throw invalid('an organisation cannot be its own client');
    await conflictsAs409(this.store.addClient(providerId, clientId));
    await this.guard.audit(acting, 'organisation.client.add', providerId, { clientId });
  }

  async removeClient(actor: Actor, providerId: string, clientId: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'admin');
    this.guard.requirePlatformAdmin(acting, 'manage client organisations');
    if (!(await this.store.removeClient(providerId, clientId))) {
      throw notFound(`organisation "${clientId}" is not a client of "${providerId}"`);
    }
    await this.guard.audit(acting, 'organisation.client.remove', providerId, { clientId });
  }

  #checkRole(acting: Acting, role: unknown): Role {
    if (typeof role !== 'string' || !ROLES.includes(role as Role)) {
      throw invalid(`role ${JSON.stringify(role)} is not valid: use one of ${ROLES.join(', ')}`);
    }
    if (role === 'platform-admin' && !this.guard.isPlatformAdmin(acting)) {
      throw forbidden('only platform admins may give the platform-admin role');
    }
    return role as Role;
  }

  async createUser(
    actor: Actor,
    organisationId: string,
    input: { name: string; role: Role },
  ): Promise<UserView> {
    const acting = await this.guard.resolve(actor, 'admin');
    const organisation = await this.visibleOrganisation(acting, organisationId);
    if (!this.guard.administers(acting, organisation.id)) {
      throw forbidden(`only admins of organisation "${organisation.name}" may add its users`);
    }
    const role = this.#checkRole(acting, input.role);
    const user = await addUser(this.store, input.name, role, organisation.id);
    await this.guard.audit(acting, 'user.create', user.id, { name: user.name, role });
    return userView(user);
  }

  async listUsers(actor: Actor, organisationId: string): Promise<UserView[]> {
    const acting = await this.guard.resolve(actor, 'read');
    const organisation = await this.visibleOrganisation(acting, organisationId);
    if (!this.guard.administers(acting, organisation.id)) {
      throw forbidden(`only admins of organisation "${organisation.name}" may list its users`);
    }
    return (await this.store.listUsers(organisation.id)).map(userView);
  }

  /** Finds a user the acting user may manage: themselves, or as org or platform admin. */
  async #managedUser(acting: Acting, userId: string, allowSelf: boolean): Promise<UserRecord> {
    const user = await this.store.getUser(userId);
    const visible =
      user !== undefined &&
      (this.guard.isPlatformAdmin(acting) || user.organisationId === acting.user.organisationId);
    if (!user || !visible) throw notFound(`user "${userId}" not found`);
    if (allowSelf && user.id === acting.user.id) return user;
    if (!this.guard.administers(acting, user.organisationId)) {
      throw forbidden(`only admins of the user's organisation may manage user "${user.name}"`);
    }
    if (user.role === 'platform-admin' && !this.guard.isPlatformAdmin(acting)) {
      throw forbidden(`only platform admins may manage platform admin "${user.name}"`);
    }
    return user;
  }

  async updateUser(actor: Actor, userId: string, change: UserChange): Promise<UserView> {
    const acting = await this.guard.resolve(actor, 'admin');
    const user = await this.#managedUser(acting, userId, false);
    const role = change.role === undefined ? undefined : this.#checkRole(acting, change.role);
    if (change.disabled !== undefined && typeof change.disabled !== 'boolean') {
      throw invalid('disabled must be true or false');
    }
    const updated = await this.store.updateUser(user.id, {
      ...(role !== undefined ? { role } : {}),
      ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
    });
    if (!updated) throw notFound(`user "${userId}" not found`);
    await this.guard.audit(acting, 'user.update', user.id, { ...change });
    return userView(updated);
  }

  async createToken(
    actor: Actor,
    userId: string,
    input: NewToken,
  ): Promise<{ token: string; record: TokenView }> {
    const acting = await this.guard.resolve(actor, 'admin');
    const user = await this.#managedUser(acting, userId, true);
    const scopes = input.scopes ?? [];
    if (!Array.isArray(scopes) || !scopes.every((scope) => SCOPES.includes(scope))) {
      throw invalid(`scopes ${JSON.stringify(scopes)} must be a list of read, write and admin`);
    }
    const days = input.expiresInDays;
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS)) {
      throw invalid(
        `expiresInDays ${JSON.stringify(days)} must be a whole number from 1 to ${MAX_TOKEN_DAYS}`,
      );
    }
    if (
      input.label !== undefined &&
      (typeof input.label !== 'string' || input.label.length > 200)
    ) {
      throw invalid('label must be a string of at most 200 characters');
    }
    const issued = await issueToken(this.store, user, {
      scopes: [...new Set(scopes)],
      ...(input.label !== undefined ? { label: input.label } : {}),
      ...(days !== undefined ? { expiresAt: nowMicros() + days * DAY_MICROS } : {}),
    });
    await this.guard.audit(acting, 'token.create', issued.record.id, { userId: user.id, scopes });
    return { token: issued.token, record: tokenView(issued.record) };
  }

  async listTokens(actor: Actor, userId: string): Promise<TokenView[]> {
    const acting = await this.guard.resolve(actor, 'read');
    const user = await this.#managedUser(acting, userId, true);
    return (await this.store.listTokens(user.id)).map(tokenView);
  }

  async revokeToken(actor: Actor, tokenId: string): Promise<void> {
    const acting = await this.guard.resolve(actor, 'admin');
    const token = await this.store.getToken(tokenId);
    if (!token) throw notFound(`token ${describeTokenId(tokenId)} not found`);
    try {
      await this.#managedUser(acting, token.userId, true);
    } catch (error) {
      // A token of a user the caller may not see is reported as absent, not as its user.
      if (error instanceof CairnError && error.code === 'not-found')
        throw notFound(`token ${describeTokenId(tokenId)} not found`);
      throw error;
    }
    await this.store.revokeToken(token.id, nowMicros());
    await this.guard.audit(acting, 'token.revoke', token.id, { userId: token.userId });
  }
}

/**
 * Names a token id in a message. A value that is not an id may be a pasted secret, so it is
 * not repeated.
 */
function describeTokenId(tokenId: string): string {
  return /^[0-9a-f]{32}$/.test(tokenId) ? `"${tokenId}"` : '(the given value is not a token id)';
}
