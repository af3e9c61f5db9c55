/**
 * Sharing objects into a collection, the caller's own view, and audit queries.
 */
import { CairnError } from '../errors.ts';
import { submitObjects, type SubmitResult } from '../ingest/submit.ts';
import type { AuditFilter, AuditRecord } from '../store/store.ts';
import { collectionRights, isVisible, loadCollectionContext } from './access.ts';
import { writeDetails } from './audit.ts';
import { communityView } from './community-services.ts';
import { forbidden, invalid, notFound, type Acting, type Guard } from './guard.ts';
import { userView, type OrganisationServices } from './organisation-services.ts';
import type {
  Actor,
  AuditEntryView,
  AuditPage,
  AuditQuery,
  MeView,
  ShareOptions,
} from './service.ts';

/** Most objects in one share, as in one TAXII POST of the default size. */
const MAX_SHARE_OBJECTS = 10_000;
const AUDIT_PAGE_DEFAULT = 100;
const AUDIT_PAGE_MAX = 1000;

function auditView(record: AuditRecord): AuditEntryView {
  return {
    id: record.seq,
    at: record.at,
    action: record.action,
    ...(record.actorId !== undefined ? { actorId: record.actorId } : {}),
    ...(record.actorName !== undefined ? { actorName: record.actorName } : {}),
    ...(record.organisationId !== undefined ? { organisationId: record.organisationId } : {}),
    ...(record.sourceAddress !== undefined ? { sourceAddress: record.sourceAddress } : {}),
    ...(record.target !== undefined ? { target: record.target } : {}),
    details: record.details,
  };
}

/** Audit cursors name the seq of the last entry of the previous page. */
function parseCursor(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(seq) || seq < 1)
    throw invalid(`cursor ${JSON.stringify(cursor)} is not valid`);
  return seq;
}

function formatCursor(seq: number): string {
  return Buffer.from(String(seq), 'utf8').toString('base64url');
}

export class ShareServices {
  constructor(
    readonly guard: Guard,
    readonly organisations: OrganisationServices,
  ) {}

  get store() {
    return this.guard.store;
  }

  async me(actor: Actor): Promise<MeView> {
    const acting = await this.guard.resolve(actor, 'read');
    const organisation = await this.store.getOrganisation(acting.user.organisationId);
    if (!organisation) throw notFound(`organisation "${acting.user.organisationId}" not found`);
    const communities = await this.store.listCommunities(organisation.id);
    return {
      user: userView(acting.user),
      organisation: await this.organisations.view(organisation),
      communities: communities.map(communityView),
    };
  }

  async share(
    actor: Actor,
    collectionId: string,
    objects: readonly unknown[],
    options: ShareOptions = {},
  ): Promise<SubmitResult> {
    const acting = await this.guard.resolve(actor, 'write');
    const caller = this.guard.caller(acting);
    const collection = await this.store.getCollectionById(collectionId);
    const context = collection && (await loadCollectionContext(this.store, caller, collection));
    const rights = context && collectionRights(caller, context);
    if (!collection || !context || !rights || !isVisible(rights)) {
      throw notFound(`collection "${collectionId}" not found`);
    }
    if (!rights.canWrite) throw forbidden(`you may not share into collection "${collectionId}"`);
    this.#checkOptions(objects, options);

    const anonymous = options.anonymous === true;
    const { community } = context;
    if (anonymous && !community?.allowAnonymous) {
      throw new CairnError(
        'rule-broken',
        `the charter of ${community ? `community "${community.name}"` : 'this collection'} does not allow anonymous sharing`,
      );
    }
    const result = await submitObjects(this.store, collection.id, objects, 0, {
      contributor: { userId: acting.user.id, organisationId: acting.user.organisationId },
      anonymous,
      recipients: options.recipients ?? [],
      ...(community ? { community } : {}),
    });
    await this.#auditShare(acting, collection.id, result, options, anonymous);
    return result;
  }

  #checkOptions(objects: readonly unknown[], options: ShareOptions): void {
    if (!Array.isArray(objects) || objects.length === 0) {
      throw invalid('objects must be a non-empty list of STIX objects');
    }
    if (objects.length > MAX_SHARE_OBJECTS) {
      throw invalid(
        `a share may contain at most ${MAX_SHARE_OBJECTS} objects, got ${objects.length}: split it`,
      );
    }
    if (options.anonymous !== undefined && typeof options.anonymous !== 'boolean') {
      throw invalid('anonymous must be true or false');
    }
    const recipients = options.recipients;
    if (
      recipients !== undefined &&
      (!Array.isArray(recipients) || !recipients.every((id) => typeof id === 'string'))
    ) {
      throw invalid('recipients must be a list of user ids');
    }
  }

  /**
   * Records a share. For an anonymous share the entry is marked anonymous, so that only
   * platform admins read who made it.
   */
  async #auditShare(
    acting: Acting,
    collectionId: string,
    result: SubmitResult,
    options: ShareOptions,
    anonymous: boolean,
  ): Promise<void> {
    const details = {
      ...writeDetails(result),
      anonymous,
      recipients: options.recipients ?? [],
    };
    await this.guard.audit(acting, 'share', collectionId, details, anonymous);
  }

  async #auditFilter(acting: Acting, query: AuditQuery): Promise<Omit<AuditFilter, 'limit'>> {
    const filter: Omit<AuditFilter, 'limit'> = {};
    if (!this.guard.isPlatformAdmin(acting)) {
      if (acting.user.role !== 'org-admin') {
        throw forbidden('only platform admins and organisation admins may read the audit log');
      }
      filter.organisationId = acting.user.organisationId;
      filter.withoutAnonymous = true;
    }
    for (const key of ['after', 'before'] as const) {
      const value = query[key];
      if (value === undefined) continue;
      if (!Number.isSafeInteger(value))
        throw invalid(`${key} must be microseconds since the epoch`);
      filter[key] = value;
    }
    if (query.action !== undefined) filter.action = query.action;
    if (query.actor !== undefined) filter.actorId = query.actor;
    return filter;
  }

  async queryAudit(actor: Actor, query: AuditQuery): Promise<AuditPage> {
    const acting = await this.guard.resolve(actor, 'admin');
    const filter = await this.#auditFilter(acting, query);
    const limit = query.limit ?? AUDIT_PAGE_DEFAULT;
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX) {
      throw invalid(
        `limit ${JSON.stringify(limit)} must be a whole number from 1 to ${AUDIT_PAGE_MAX}`,
      );
    }
    const beforeSeq = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    const records = await this.store.queryAudit({
      ...filter,
      ...(beforeSeq !== undefined ? { beforeSeq } : {}),
      limit: limit + 1,
    });
    const more = records.length > limit;
    if (more) records.length = limit;
    const last = records.at(-1);
    return {
      entries: records.map(auditView),
      ...(more && last ? { next: formatCursor(last.seq) } : {}),
    };
  }

  async *exportAudit(
    actor: Actor,
    query: Omit<AuditQuery, 'limit' | 'cursor'>,
  ): AsyncIterable<AuditEntryView> {
    let cursor: string | undefined;
    do {
      const page = await this.queryAudit(actor, {
        ...query,
        limit: AUDIT_PAGE_MAX,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      yield* page.entries;
      cursor = page.next;
    } while (cursor !== undefined);
  }
}
