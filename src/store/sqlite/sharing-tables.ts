/**
 * Organisations, communities, invitations and the audit log on SQLite. The schema is
 * described in schema.ts; the rules that use these tables are in src/sharing/.
 */
import type Database from 'better-sqlite3';

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
import { constraintKind } from './constraints.ts';
import {
  fromCommunity,
  toAudit,
  toCommunity,
  toInvitation,
  toOrganisation,
  type AuditRow,
  type CommunityRow,
  type InvitationRow,
  type OrganisationRow,
} from './records.ts';
import type { StatementCache } from './statements.ts';

const COMMUNITY_COLUMNS =
  'id, name, description, default_tlp, allow_anonymous, publish_clear, identity, created_at';

export class SharingTables {
  readonly #db: Database.Database;
  readonly #statements: StatementCache;

  constructor(db: Database.Database, statements: StatementCache) {
    this.#db = db;
    this.#statements = statements;
  }

  createOrganisation(organisation: OrganisationRecord): OrganisationRecord {
    try {
      this.#statements
        .get('INSERT INTO organisations (id, name, identity, created_at) VALUES (?, ?, ?, ?)')
        .run(organisation.id, organisation.name, organisation.identity, organisation.createdAt);
    } catch (error) {
      if (constraintKind(error) !== 'unique') throw error;
      throw new StoreConflictError(
        `an organisation named "${organisation.name}" or with id "${organisation.id}" already exists`,
      );
    }
    return { ...organisation };
  }

  getOrganisation(column: 'id' | 'name', value: string): OrganisationRecord | undefined {
    const row = this.#statements.get(`SELECT * FROM organisations WHERE ${column} = ?`).get(value);
    return row === undefined ? undefined : toOrganisation(row as OrganisationRow);
  }

  listOrganisations(): OrganisationRecord[] {
    const rows = this.#statements.get('SELECT * FROM organisations ORDER BY name, id').all();
    return (rows as OrganisationRow[]).map(toOrganisation);
  }

  addClient(providerId: string, clientId: string): void {
    if (providerId === clientId) {
      throw new StoreConflictError(`organisation "${providerId}" cannot be its own client`);
    }
    try {
      this.#statements
        .get('INSERT OR IGNORE INTO organisation_clients (provider_id, client_id) VALUES (?, ?)')
        .run(providerId, clientId);
    } catch (error) {
      if (constraintKind(error) !== 'foreign-key') throw error;
      throw new StoreConflictError(`organisation "${providerId}" or "${clientId}" not found`);
    }
  }

  removeClient(providerId: string, clientId: string): boolean {
    const sql = 'DELETE FROM organisation_clients WHERE provider_id = ? AND client_id = ?';
    return this.#statements.get(sql).run(providerId, clientId).changes > 0;
  }

  listClients(providerId: string): string[] {
    const sql =
      'SELECT client_id FROM organisation_clients WHERE provider_id = ? ORDER BY client_id';
    return this.#statements.get(sql).pluck().all(providerId) as string[];
  }

  createCommunity(
    community: CommunityRecord,
    memberId: string,
    moderatorId: string | undefined,
  ): void {
    const s = this.#statements;
    this.#db
      .transaction(() => {
        try {
          s.get(
            `INSERT INTO communities (${COMMUNITY_COLUMNS}) VALUES (@id, @name, @description,` +
              ' @default_tlp, @allow_anonymous, @publish_clear, @identity, @created_at)',
          ).run(fromCommunity(community));
        } catch (error) {
          if (constraintKind(error) !== 'unique') throw error;
          throw new StoreConflictError(
            `a community named "${community.name}" or with id "${community.id}" already exists`,
          );
        }
        this.#insertMember(community.id, memberId);
        if (moderatorId !== undefined) this.#insertModerator(community.id, moderatorId);
      })
      .immediate();
  }

  getCommunity(column: 'id' | 'name', value: string): CommunityRecord | undefined {
    const sql = `SELECT ${COMMUNITY_COLUMNS} FROM communities WHERE ${column} = ?`;
    const row = this.#statements.get(sql).get(value);
    return row === undefined ? undefined : toCommunity(row as CommunityRow);
  }

  listCommunities(memberId: string | undefined): CommunityRecord[] {
    const rows =
      memberId === undefined
        ? this.#statements.get(`SELECT ${COMMUNITY_COLUMNS} FROM communities ORDER BY name`).all()
        : this.#statements
            .get(
              `SELECT ${COMMUNITY_COLUMNS} FROM communities WHERE id IN` +
                ' (SELECT community_id FROM community_members WHERE organisation_id = ?)' +
                ' ORDER BY name',
            )
            .all(memberId);
    return (rows as CommunityRow[]).map(toCommunity);
  }

  updateCharter(id: string, change: Partial<Charter>): CommunityRecord | undefined {
    return this.#db
      .transaction(() => {
        const current = this.getCommunity('id', id);
        if (current === undefined) return undefined;

        const next: CommunityRecord = { ...current, ...definedOnly(change) };
        this.#statements
          .get(
            'UPDATE communities SET description = @description, default_tlp = @default_tlp,' +
              ' allow_anonymous = @allow_anonymous, publish_clear = @publish_clear WHERE id = @id',
          )
          .run(fromCommunity(next));
        return next;
      })
      .immediate();
  }

  listMembers(communityId: string): string[] {
    const sql = 'SELECT organisation_id FROM community_members WHERE community_id = ? ORDER BY 1';
    return this.#statements.get(sql).pluck().all(communityId) as string[];
  }

  addMember(communityId: string, organisationId: string): void {
    this.#insertMember(communityId, organisationId);
  }

  #insertMember(communityId: string, organisationId: string): void {
    try {
      this.#statements
        .get('INSERT OR IGNORE INTO community_members VALUES (?, ?)')
        .run(communityId, organisationId);
    } catch (error) {
      if (constraintKind(error) !== 'foreign-key') throw error;
      throw new StoreConflictError(
        `community "${communityId}" or organisation "${organisationId}" not found`,
      );
    }
  }

  /**
   * Removes a member organisation and its users' moderator roles in one transaction, so
   * a community never ends without a member or a moderator.
   */
  removeMember(communityId: string, organisationId: string): boolean {
    const s = this.#statements;
    return this.#db
      .transaction(() => {
        const members = this.listMembers(communityId);
        if (!members.includes(organisationId)) return false;
        if (members.length === 1) {
          throw new StoreConflictError(
            `organisation "${organisationId}" is the last member of community "${communityId}"`,
          );
        }
        const remaining = s
          .get(
            'SELECT count(*) FROM community_moderators AS m JOIN users AS u ON u.id = m.user_id' +
              ' WHERE m.community_id = ? AND u.organisation_id <> ?',
          )
          .pluck()
          .get(communityId, organisationId) as number;
        if (remaining === 0) {
          throw new StoreConflictError(
            `the moderators of community "${communityId}" all belong to organisation ` +
              `"${organisationId}": add a moderator from another member first`,
          );
        }
        s.get(
          'DELETE FROM community_moderators WHERE community_id = ?' +
            ' AND user_id IN (SELECT id FROM users WHERE organisation_id = ?)',
        ).run(communityId, organisationId);
        s.get('DELETE FROM community_members WHERE community_id = ? AND organisation_id = ?').run(
          communityId,
          organisationId,
        );
        return true;
      })
      .immediate();
  }

  listModerators(communityId: string): string[] {
    const sql = 'SELECT user_id FROM community_moderators WHERE community_id = ? ORDER BY 1';
    return this.#statements.get(sql).pluck().all(communityId) as string[];
  }

  addModerator(communityId: string, userId: string): void {
    this.#insertModerator(communityId, userId);
  }

  #insertModerator(communityId: string, userId: string): void {
    try {
      this.#statements
        .get('INSERT OR IGNORE INTO community_moderators VALUES (?, ?)')
        .run(communityId, userId);
    } catch (error) {
      if (constraintKind(error) !== 'foreign-key') throw error;
      throw new StoreConflictError(`community "${communityId}" or user "${userId}" not found`);
    }
  }

  removeModerator(communityId: string, userId: string): boolean {
    return this.#db
      .transaction(() => {
        const moderators = this.listModerators(communityId);
        if (!moderators.includes(userId)) return false;
        if (moderators.length === 1) {
          throw new StoreConflictError(
            `user "${userId}" is the last moderator of community "${communityId}"`,
          );
        }
        this.#statements
          .get('DELETE FROM community_moderators WHERE community_id = ? AND user_id = ?')
          .run(communityId, userId);
        return true;
      })
      .immediate();
  }

  communityRelation(communityId: string, organisationId: string): CommunityRelation {
    const s = this.#statements;
    const member =
      s
        .get('SELECT 1 FROM community_members WHERE community_id = ? AND organisation_id = ?')
        .get(communityId, organisationId) !== undefined;
    if (member) return { member: true, client: false };

    const client =
      s
        .get(
          'SELECT 1 FROM organisation_clients AS c JOIN community_members AS m' +
            ' ON m.organisation_id = c.provider_id AND m.community_id = ?' +
            ' WHERE c.client_id = ? LIMIT 1',
        )
        .get(communityId, organisationId) !== undefined;
    return { member: false, client };
  }

  createInvitation(invitation: InvitationRecord): InvitationRecord {
    try {
      this.#statements
        .get(
          'INSERT INTO invitations (id, kind, community_id, organisation_id, state,' +
            ' created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          invitation.id,
          invitation.kind,
          invitation.communityId,
          invitation.organisationId,
          invitation.state,
          invitation.createdBy,
          invitation.createdAt,
        );
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

  getInvitation(id: string): InvitationRecord | undefined {
    const row = this.#statements.get('SELECT * FROM invitations WHERE id = ?').get(id);
    return row === undefined ? undefined : toInvitation(row as InvitationRow);
  }

  listInvitations(filter: {
    communityIds?: string[];
    organisationId?: string;
    state?: InvitationRecord['state'];
  }): InvitationRecord[] {
    const conditions: string[] = [];
    const parameters: Record<string, string> = {};
    if (filter.communityIds !== undefined) {
      conditions.push('community_id IN (SELECT value FROM json_each(@communities))');
      parameters.communities = JSON.stringify(filter.communityIds);
    }
    if (filter.organisationId !== undefined) {
      conditions.push('organisation_id = @organisation');
      parameters.organisation = filter.organisationId;
    }
    if (filter.state !== undefined) {
      conditions.push('state = @state');
      parameters.state = filter.state;
    }
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    const rows = this.#statements
      .get(`SELECT * FROM invitations${where} ORDER BY created_at, id`)
      .all(parameters);
    return (rows as InvitationRow[]).map(toInvitation);
  }

  answerInvitation(
    id: string,
    state: 'accepted' | 'declined',
    by: string,
    at: number,
  ): InvitationRecord | undefined {
    return this.#db
      .transaction(() => {
        const invitation = this.getInvitation(id);
        if (invitation === undefined || invitation.state !== 'pending') return undefined;

        this.#statements
          .get('UPDATE invitations SET state = ?, answered_by = ?, answered_at = ? WHERE id = ?')
          .run(state, by, at, id);
        if (state === 'accepted')
          this.#insertMember(invitation.communityId, invitation.organisationId);
        return { ...invitation, state, answeredBy: by, answeredAt: at };
      })
      .immediate();
  }

  appendAudit(entry: NewAuditRecord): AuditRecord {
    const result = this.#statements
      .get(
        'INSERT INTO audit_log (at, action, actor_id, actor_name, organisation_id,' +
          ' source_address, target, details, anonymous) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        entry.at,
        entry.action,
        entry.actorId ?? null,
        entry.actorName ?? null,
        entry.organisationId ?? null,
        entry.sourceAddress ?? null,
        entry.target ?? null,
        JSON.stringify(entry.details),
        +entry.anonymous,
      );
    return { ...entry, seq: Number(result.lastInsertRowid) };
  }

  queryAudit(filter: AuditFilter): AuditRecord[] {
    const conditions: string[] = [];
    const parameters: Record<string, string | number> = { limit: filter.limit };
    const add = (condition: string, name: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      conditions.push(condition);
      parameters[name] = value;
    };
    add('organisation_id = @organisation', 'organisation', filter.organisationId);
    add('action = @action', 'action', filter.action);
    add('actor_id = @actor', 'actor', filter.actorId);
    add('at >= @after', 'after', filter.after);
    add('at < @before', 'before', filter.before);
    add('seq < @beforeSeq', 'beforeSeq', filter.beforeSeq);
    if (filter.withoutAnonymous) conditions.push('anonymous = 0');

    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    const rows = this.#statements
      .get(`SELECT * FROM audit_log${where} ORDER BY seq DESC LIMIT @limit`)
      .all(parameters);
    return (rows as AuditRow[]).map(toAudit);
  }
}

/** Drops the properties whose value is undefined, so a spread does not erase values. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}
