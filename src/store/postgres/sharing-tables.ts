/**
 * Organisations, communities, invitations and the audit log on PostgreSQL. The schema is
 * described in schema.ts; the rules that use these tables are in src/sharing/.
 *
 * Changes to a community's members and moderators lock the community row first, so two
 * nodes removing the last two moderators at once cannot both pass the check that one stays.
 */
import {
  StoreConflictError,
  type AuditFilter,
  type AuditRecord,
  type Charter,
  type CommunityRecord,
  type CommunityRelation,
  type InvitationRecord,
  type NewAuditRecord,
  type OrganisationRecord,
} from '../store.ts';
import type { Connection, Queryable } from './connection.ts';
import { constraintKind } from './constraints.ts';
import {
  AUDIT_COLUMNS,
  COMMUNITY_COLUMNS,
  INVITATION_COLUMNS,
  ORGANISATION_COLUMNS,
  toAudit,
  toCommunity,
  toInvitation,
  toOrganisation,
  type AuditRow,
  type CommunityRow,
  type InvitationRow,
  type OrganisationRow,
} from './records.ts';

const SQL = {
  lockCommunity: 'SELECT 1 FROM communities WHERE id = $1 FOR NO KEY UPDATE',
  insertMember:
    'INSERT INTO community_members (community_id, organisation_id) VALUES ($1, $2)' +
    ' ON CONFLICT DO NOTHING',
  insertModerator:
    'INSERT INTO community_moderators (community_id, user_id) VALUES ($1, $2)' +
    ' ON CONFLICT DO NOTHING',
  members:
    'SELECT organisation_id FROM community_members WHERE community_id = $1' +
    ' ORDER BY organisation_id',
  moderators: 'SELECT user_id FROM community_moderators WHERE community_id = $1 ORDER BY user_id',
} as const;

/** Drops the properties whose value is undefined, so a spread does not erase values. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}

export class SharingTables {
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  async createOrganisation(organisation: OrganisationRecord): Promise<OrganisationRecord> {
    try {
      await this.#connection.run({
        text: 'INSERT INTO organisations (id, name, identity, created_at) VALUES ($1, $2, $3, $4)',
        values: [organisation.id, organisation.name, organisation.identity, organisation.createdAt],
      });
    } catch (error) {
      if (constraintKind(error) !== 'unique') throw error;
      throw new StoreConflictError(
        `an organisation named "${organisation.name}" or with id "${organisation.id}" already exists`,
      );
    }
    return { ...organisation };
  }

  async getOrganisation(
    column: 'id' | 'name',
    value: string,
  ): Promise<OrganisationRecord | undefined> {
    const condition = column === 'id' ? 'id = $1' : 'ascii_fold(name) = ascii_fold($1)';
    const [row] = await this.#connection.query<OrganisationRow>({
      name: `cairn_organisation_by_${column}`,
      text: `SELECT ${ORGANISATION_COLUMNS} FROM organisations WHERE ${condition}`,
      values: [value],
    });
    return row === undefined ? undefined : toOrganisation(row);
  }

  async listOrganisations(): Promise<OrganisationRecord[]> {
    const rows = await this.#connection.query<OrganisationRow>({
      text: `SELECT ${ORGANISATION_COLUMNS} FROM organisations ORDER BY ascii_fold(name), id`,
    });
    return rows.map(toOrganisation);
  }

  async addClient(providerId: string, clientId: string): Promise<void> {
    if (providerId === clientId) {
      throw new StoreConflictError(`organisation "${providerId}" cannot be its own client`);
    }
    try {
      await this.#connection.run({
        text:
          'INSERT INTO organisation_clients (provider_id, client_id) VALUES ($1, $2)' +
          ' ON CONFLICT DO NOTHING',
        values: [providerId, clientId],
      });
    } catch (error) {
      if (constraintKind(error) !== 'foreign-key') throw error;
      throw new StoreConflictError(`organisation "${providerId}" or "${clientId}" not found`);
    }
  }

  async removeClient(providerId: string, clientId: string): Promise<boolean> {
    const removed = await this.#connection.run({
      text: 'DELETE FROM organisation_clients WHERE provider_id = $1 AND client_id = $2',
      values: [providerId, clientId],
    });
    return removed > 0;
  }

  async listClients(providerId: string): Promise<string[]> {
    const rows = await this.#connection.query<{ client_id: string }>({
      text: 'SELECT client_id FROM organisation_clients WHERE provider_id = $1 ORDER BY client_id',
      values: [providerId],
    });
    return rows.map((row) => row.client_id);
  }

  async createCommunity(
    community: CommunityRecord,
    memberId: string,
    moderatorId: string | undefined,
  ): Promise<void> {
    await this.#connection.transaction(async (client) => {
      try {
        await client.run({
          text:
            `INSERT INTO communities (${COMMUNITY_COLUMNS})` +
            ' VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          values: [
            community.id,
            community.name,
            community.description,
            community.defaultTlp,
            community.allowAnonymous,
            community.publishClear,
            community.identity,
            community.createdAt,
          ],
        });
      } catch (error) {
        if (constraintKind(error) !== 'unique') throw error;
        throw new StoreConflictError(
          `a community named "${community.name}" or with id "${community.id}" already exists`,
        );
      }
      await insertMember(client, community.id, memberId);
      if (moderatorId !== undefined) await insertModerator(client, community.id, moderatorId);
    });
  }

  async getCommunity(column: 'id' | 'name', value: string): Promise<CommunityRecord | undefined> {
    const condition = column === 'id' ? 'id = $1' : 'ascii_fold(name) = ascii_fold($1)';
    const [row] = await this.#connection.query<CommunityRow>({
      name: `cairn_community_by_${column}`,
      text: `SELECT ${COMMUNITY_COLUMNS} FROM communities WHERE ${condition}`,
      values: [value],
    });
    return row === undefined ? undefined : toCommunity(row);
  }

  async listCommunities(memberId: string | undefined): Promise<CommunityRecord[]> {
    const rows =
      memberId === undefined
        ? await this.#connection.query<CommunityRow>({
            text: `SELECT ${COMMUNITY_COLUMNS} FROM communities ORDER BY ascii_fold(name), id`,
          })
        : await this.#connection.query<CommunityRow>({
            text:
              `SELECT ${COMMUNITY_COLUMNS} FROM communities WHERE id IN` +
              ' (SELECT community_id FROM community_members WHERE organisation_id = $1)' +
              ' ORDER BY ascii_fold(name), id',
            values: [memberId],
          });
    return rows.map(toCommunity);
  }

  /** Changes the given charter fields in one statement; undefined fields keep their value. */
  async updateCharter(id: string, change: Partial<Charter>): Promise<CommunityRecord | undefined> {
    const set = definedOnly(change);
    const [row] = await this.#connection.query<CommunityRow>({
      text:
        'UPDATE communities SET description = coalesce($2, description),' +
        ' default_tlp = coalesce($3, default_tlp),' +
        ' allow_anonymous = coalesce($4, allow_anonymous),' +
        ' publish_clear = coalesce($5, publish_clear)' +
        ` WHERE id = $1 RETURNING ${COMMUNITY_COLUMNS}`,
      values: [
        id,
        set.description ?? null,
        set.defaultTlp ?? null,
        set.allowAnonymous ?? null,
        set.publishClear ?? null,
      ],
    });
    return row === undefined ? undefined : toCommunity(row);
  }

  async listMembers(communityId: string, client: Queryable = this.#connection): Promise<string[]> {
    const rows = await client.query<{ organisation_id: string }>({
      name: 'cairn_members',
      text: SQL.members,
      values: [communityId],
    });
    return rows.map((row) => row.organisation_id);
  }

  async addMember(communityId: string, organisationId: string): Promise<void> {
    await insertMember(this.#connection, communityId, organisationId);
  }

  /**
   * Removes a member organisation and its users' moderator roles in one transaction, so
   * a community never ends without a member or a moderator.
   */
  async removeMember(communityId: string, organisationId: string): Promise<boolean> {
    return this.#connection.transaction(async (client) => {
      await client.query({
        name: 'cairn_lock_community',
        text: SQL.lockCommunity,
        values: [communityId],
      });
      const members = await this.listMembers(communityId, client);
      if (!members.includes(organisationId)) return false;
      if (members.length === 1) {
        throw new StoreConflictError(
          `organisation "${organisationId}" is the last member of community "${communityId}"`,
        );
      }
      const [remaining] = await client.query<{ count: number }>({
        text:
          'SELECT count(*) AS count FROM community_moderators AS m JOIN users AS u' +
          ' ON u.id = m.user_id WHERE m.community_id = $1 AND u.organisation_id <> $2',
        values: [communityId, organisationId],
      });
      if ((remaining?.count ?? 0) === 0) {
        throw new StoreConflictError(
          `the moderators of community "${communityId}" all belong to organisation ` +
            `"${organisationId}": add a moderator from another member first`,
        );
      }
      await client.run({
        text:
          'DELETE FROM community_moderators WHERE community_id = $1' +
          ' AND user_id IN (SELECT id FROM users WHERE organisation_id = $2)',
        values: [communityId, organisationId],
      });
      await client.run({
        text: 'DELETE FROM community_members WHERE community_id = $1 AND organisation_id = $2',
        values: [communityId, organisationId],
      });
      return true;
    });
  }

  async listModerators(
    communityId: string,
    client: Queryable = this.#connection,
  ): Promise<string[]> {
    const rows = await client.query<{ user_id: string }>({
      name: 'cairn_moderators',
      text: SQL.moderators,
      values: [communityId],
    });
    return rows.map((row) => row.user_id);
  }

  async addModerator(communityId: string, userId: string): Promise<void> {
    await insertModerator(this.#connection, communityId, userId);
  }

  async removeModerator(communityId: string, userId: string): Promise<boolean> {
    return this.#connection.transaction(async (client) => {
      await client.query({
        name: 'cairn_lock_community',
        text: SQL.lockCommunity,
        values: [communityId],
      });
      const moderators = await this.listModerators(communityId, client);
      if (!moderators.includes(userId)) return false;
      if (moderators.length === 1) {
        throw new StoreConflictError(
          `user "${userId}" is the last moderator of community "${communityId}"`,
        );
      }
      await client.run({
        text: 'DELETE FROM community_moderators WHERE community_id = $1 AND user_id = $2',
        values: [communityId, userId],
      });
      return true;
    });
  }

  async communityRelation(communityId: string, organisationId: string): Promise<CommunityRelation> {
    const [row] = await this.#connection.query<{ member: boolean; client: boolean }>({
      name: 'cairn_community_relation',
      text:
        'SELECT EXISTS (SELECT 1 FROM community_members WHERE community_id = $1' +
        ' AND organisation_id = $2) AS member,' +
        ' EXISTS (SELECT 1 FROM organisation_clients AS c JOIN community_members AS m' +
        ' ON m.organisation_id = c.provider_id AND m.community_id = $1' +
        ' WHERE c.client_id = $2) AS client',
      values: [communityId, organisationId],
    });
    if (row?.member) return { member: true, client: false };
    return { member: false, client: row?.client ?? false };
  }

  async createInvitation(invitation: InvitationRecord): Promise<InvitationRecord> {
    try {
      await this.#connection.run({
        text:
          'INSERT INTO invitations (id, kind, community_id, organisation_id, state,' +
          ' created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        values: [
          invitation.id,
          invitation.kind,
          invitation.communityId,
          invitation.organisationId,
          invitation.state,
          invitation.createdBy,
          invitation.createdAt,
        ],
      });
    } catch (error) {
      const kind = constraintKind(error);
      if (kind === 'foreign-key') {
        throw new StoreConflictError(
          `community "${invitation.communityId}" or organisation "${invitation.organisationId}" not found`,
        );
      }
      if (kind === 'unique') {
        throw new StoreConflictError(`invitation id "${invitation.id}" already exists`);
      }
      throw error;
    }
    return { ...invitation };
  }

  async getInvitation(id: string): Promise<InvitationRecord | undefined> {
    const [row] = await this.#connection.query<InvitationRow>({
      text: `SELECT ${INVITATION_COLUMNS} FROM invitations WHERE id = $1`,
      values: [id],
    });
    return row === undefined ? undefined : toInvitation(row);
  }

  async listInvitations(filter: {
    communityIds?: string[];
    organisationId?: string;
    state?: InvitationRecord['state'];
  }): Promise<InvitationRecord[]> {
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (filter.communityIds !== undefined) {
      values.push(filter.communityIds);
      conditions.push(`community_id = ANY ($${values.length}::text[])`);
    }
    if (filter.organisationId !== undefined) {
      values.push(filter.organisationId);
      conditions.push(`organisation_id = $${values.length}`);
    }
    if (filter.state !== undefined) {
      values.push(filter.state);
      conditions.push(`state = $${values.length}`);
    }
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    const rows = await this.#connection.query<InvitationRow>({
      text: `SELECT ${INVITATION_COLUMNS} FROM invitations${where} ORDER BY created_at, id`,
      values,
    });
    return rows.map(toInvitation);
  }

  /** Answers only a pending invitation: the state check and the change are one statement. */
  async answerInvitation(
    id: string,
    state: 'accepted' | 'declined',
    by: string,
    at: number,
  ): Promise<InvitationRecord | undefined> {
    return this.#connection.transaction(async (client) => {
      const [row] = await client.query<InvitationRow>({
        text:
          'UPDATE invitations SET state = $2, answered_by = $3, answered_at = $4' +
          ` WHERE id = $1 AND state = 'pending' RETURNING ${INVITATION_COLUMNS}`,
        values: [id, state, by, at],
      });
      if (row === undefined) return undefined;
      if (state === 'accepted') await insertMember(client, row.community_id, row.organisation_id);
      return toInvitation(row);
    });
  }

  async appendAudit(entry: NewAuditRecord): Promise<AuditRecord> {
    const [row] = await this.#connection.query<{ seq: number }>({
      name: 'cairn_append_audit',
      text:
        'INSERT INTO audit_log (at, action, actor_id, actor_name, organisation_id,' +
        ' source_address, target, details, anonymous)' +
        ' VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq',
      values: [
        entry.at,
        entry.action,
        entry.actorId ?? null,
        entry.actorName ?? null,
        entry.organisationId ?? null,
        entry.sourceAddress ?? null,
        entry.target ?? null,
        JSON.stringify(entry.details),
        entry.anonymous,
      ],
    });
    return { ...entry, seq: row!.seq };
  }

  async queryAudit(filter: AuditFilter): Promise<AuditRecord[]> {
    const conditions: string[] = [];
    const values: unknown[] = [];
    const add = (column: string, operator: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      values.push(value);
      conditions.push(`${column} ${operator} $${values.length}`);
    };
    add('organisation_id', '=', filter.organisationId);
    add('action', '=', filter.action);
    add('actor_id', '=', filter.actorId);
    add('at', '>=', filter.after);
    add('at', '<', filter.before);
    add('seq', '<', filter.beforeSeq);
    if (filter.withoutAnonymous) conditions.push('NOT anonymous');

    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    values.push(filter.limit);
    const rows = await this.#connection.query<AuditRow>({
      text: `SELECT ${AUDIT_COLUMNS} FROM audit_log${where} ORDER BY seq DESC LIMIT $${values.length}`,
      values,
    });
    return rows.map(toAudit);
  }
}

async function insertMember(
  client: Queryable,
  communityId: string,
  organisationId: string,
): Promise<void> {
  try {
    await client.run({
      name: 'cairn_insert_member',
      text: SQL.insertMember,
      values: [communityId, organisationId],
    });
  } catch (error) {
    if (constraintKind(error) !== 'foreign-key') throw error;
    throw new StoreConflictError(
      `community "${communityId}" or organisation "${organisationId}" not found`,
    );
  }
}

async function insertModerator(
  client: Queryable,
  communityId: string,
  userId: string,
): Promise<void> {
  try {
    await client.run({
      name: 'cairn_insert_moderator',
      text: SQL.insertModerator,
      values: [communityId, userId],
    });
  } catch (error) {
    if (constraintKind(error) !== 'foreign-key') throw error;
    throw new StoreConflictError(`community "${communityId}" or user "${userId}" not found`);
  }
}
