/**
 * Maps service views to the JSON the API returns: times become RFC 3339 UTC strings and
 * charters are flattened into the community, as docs/api.md describes.
 */
import type { z } from '@hono/zod-openapi';
import type { SubmitResult } from '../ingest/submit.ts';
import type {
  AuditEntryView,
  CommunityDetail as CommunityDetailView,
  CommunityView,
  InvitationView,
  MeView,
  OrganisationView,
  TokenView,
  UserView,
} from '../sharing/service.ts';
import { microsToTaxii } from '../stix/timestamp.ts';
import type * as schemas from './schemas.ts';

function time(micros: number): string;
function time(micros: number | undefined): string | undefined;
function time(micros: number | undefined): string | undefined {
  return micros === undefined ? undefined : microsToTaxii(micros);
}

/** Copies the defined entries only, so absent optional fields stay absent in the JSON. */
function defined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}

export function organisationJson(view: OrganisationView): z.infer<typeof schemas.Organisation> {
  return defined({
    id: view.id,
    name: view.name,
    sectors: view.sectors,
    contact: view.contactInformation,
    identity: view.identity,
    clients: view.clients,
    createdAt: time(view.createdAt),
  });
}

export function userJson(view: UserView): z.infer<typeof schemas.User> {
  return {
    id: view.id,
    name: view.name,
    organisationId: view.organisationId,
    role: view.role,
    disabled: view.disabled,
    createdAt: time(view.createdAt),
  };
}

export function tokenJson(view: TokenView): z.infer<typeof schemas.Token> {
  return defined({
    id: view.id,
    userId: view.userId,
    label: view.label,
    scopes: view.scopes,
    createdAt: time(view.createdAt),
    expiresAt: time(view.expiresAt),
    lastUsedAt: time(view.lastUsedAt),
    revokedAt: time(view.revokedAt),
  });
}

export function communityJson(view: CommunityView): z.infer<typeof schemas.Community> {
  return {
    id: view.id,
    name: view.name,
    description: view.charter.description,
    defaultTlp: view.charter.defaultTlp,
    allowAnonymous: view.charter.allowAnonymous,
    publishClear: view.charter.publishClear,
    identity: view.identity,
    createdAt: time(view.createdAt),
  };
}

export function communityDetailJson(
  view: CommunityDetailView,
): z.infer<typeof schemas.CommunityDetail> {
  return {
    ...communityJson(view),
    members: view.members,
    moderators: view.moderators,
    collections: view.collections.map((collection) => defined({ ...collection })),
  };
}

export function invitationJson(view: InvitationView): z.infer<typeof schemas.Invitation> {
  return defined({
    id: view.id,
    kind: view.kind,
    communityId: view.communityId,
    organisationId: view.organisationId,
    state: view.state,
    createdBy: view.createdBy,
    createdAt: time(view.createdAt),
    answeredBy: view.answeredBy,
    answeredAt: time(view.answeredAt),
  });
}

export function shareResultJson(result: SubmitResult): z.infer<typeof schemas.ShareResult> {
  return {
    successes: result.successes.map((success) => ({
      id: success.id,
      version: success.version,
      outcome: success.outcome,
      dateAdded: time(success.dateAdded),
    })),
    failures: result.failures.map((failure) => ({
      id: failure.id,
      version: failure.version,
      message: failure.message,
    })),
  };
}

export function auditEntryJson(view: AuditEntryView): z.infer<typeof schemas.AuditEntry> {
  return defined({
    id: view.id,
    at: time(view.at),
    action: view.action,
    actorId: view.actorId,
    actorName: view.actorName,
    organisationId: view.organisationId,
    sourceAddress: view.sourceAddress,
    target: view.target,
    details: view.details,
  });
}

export function meJson(view: MeView): z.infer<typeof schemas.Me> {
  return {
    user: userJson(view.user),
    organisation: organisationJson(view.organisation),
    communities: view.communities.map(communityJson),
  };
}
