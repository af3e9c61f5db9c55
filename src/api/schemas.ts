/**
 * Request and response schemas of the JSON API. The same zod schemas validate requests
 * and produce the OpenAPI 3.1 document, so the two cannot drift apart. Request objects
 * are strict: an unknown field is rejected, which also catches misspelt optional fields.
 */
import { z } from '@hono/zod-openapi';
import { timestampToMicros } from '../stix/timestamp.ts';

/** Longest name of an organisation, user or community, in characters. */
const MAX_NAME = 200;
/** Longest free text (descriptions, contact information, labels), in characters. */
const MAX_TEXT = 10_000;

export const Id = z.uuid({ error: 'must be a UUID' });

/** Token ids are 32 lowercase hex digits (a UUID without its dashes). */
export const TokenId = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits');

export const UserRole = z.enum(['platform-admin', 'org-admin', 'analyst', 'read-only']);
export const DefaultTlp = z.enum(['clear', 'green', 'amber', 'amber+strict']);
export const TokenScope = z.enum(['read', 'write', 'admin']);

/** RFC 3339 UTC timestamp, as every time in this API is written. */
const Timestamp = z
  .string()
  .openapi({ format: 'date-time', example: '2026-01-02T03:04:05.678901Z' });

const Name = z.string().trim().min(1, 'must not be empty').max(MAX_NAME);
const Text = z.string().max(MAX_TEXT);
const StixIdentity = z
  .record(z.string(), z.unknown())
  .openapi({ description: 'STIX 2.1 identity object' });

// Path parameters.

export const IdParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });
export const TokenIdParam = z.object({
  id: TokenId.openapi({ param: { name: 'id', in: 'path' } }),
});
export const ClientParams = z.object({
  id: Id.openapi({ param: { name: 'id', in: 'path' } }),
  clientId: Id.openapi({ param: { name: 'clientId', in: 'path' } }),
});
export const ModeratorParams = z.object({
  id: Id.openapi({ param: { name: 'id', in: 'path' } }),
  userId: Id.openapi({ param: { name: 'userId', in: 'path' } }),
});
export const MemberParams = z.object({
  id: Id.openapi({ param: { name: 'id', in: 'path' } }),
  organisationId: Id.openapi({ param: { name: 'organisationId', in: 'path' } }),
});

// Request bodies.

export const NewOrganisation = z
  .strictObject({
    name: Name,
    sectors: z.array(z.string().min(1).max(MAX_NAME)).max(100).optional(),
    contact: Text.optional().openapi({ description: 'STIX contact_information' }),
  })
  .openapi('NewOrganisation');

export const NewClient = z.strictObject({ clientId: Id }).openapi('NewClient');

export const NewUser = z.strictObject({ name: Name, role: UserRole }).openapi('NewUser');

export const UserChange = z
  .strictObject({ role: UserRole.optional(), disabled: z.boolean().optional() })
  .openapi('UserChange');

export const NewToken = z
  .strictObject({
    label: z.string().max(MAX_NAME).optional(),
    scopes: z.array(TokenScope).max(3).optional(),
    expiresInDays: z.number().positive().max(36_500).optional(),
  })
  .openapi('NewToken');

const charterFields = {
  description: Text.optional(),
  defaultTlp: DefaultTlp.optional(),
  allowAnonymous: z.boolean().optional(),
  publishClear: z.boolean().optional(),
};

export const NewCommunity = z
  .strictObject({ name: Name, ...charterFields })
  .openapi('NewCommunity');

export const CharterChange = z.strictObject(charterFields).openapi('CharterChange');

export const NewCollection = z
  .strictObject({
    title: Name,
    alias: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"')
      .optional(),
    description: Text.optional(),
  })
  .openapi('NewCollection');

export const NewModerator = z.strictObject({ userId: Id }).openapi('NewModerator');

export const NewInvitation = z.strictObject({ organisationId: Id }).openapi('NewInvitation');

export const NewShare = z
  .strictObject({
    objects: z
      // z.unknown passes each object through as parsed. z.record would copy it, and the copy
      // loses a "__proto__" key, which the STIX validator must see to reject the object.
      .array(
        z
          .unknown()
          .refine((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
            message: 'must be a JSON object (a STIX object)',
          })
          .openapi({ type: 'object', description: 'STIX 2.1 object' }),
      )
      .min(1, 'must contain at least one STIX object'),
    anonymous: z.boolean().optional(),
    recipients: z.array(Id).max(1000).optional().openapi({
      description: 'user ids allowed to read RED objects of this share',
    }),
  })
  .openapi('NewShare');

/** An RFC 3339 query parameter turned into microseconds since the epoch. */
export const TimeParam = z
  .string()
  .transform((value, context) => {
    const micros = timestampToMicros(value);
    if (micros === undefined) {
      context.addIssue({ code: 'custom', message: 'must be an RFC 3339 UTC timestamp' });
      return z.NEVER;
    }
    return micros;
  })
  .openapi({ type: 'string', format: 'date-time' });

const auditFilters = {
  after: TimeParam.optional(),
  before: TimeParam.optional(),
  action: z.string().min(1).max(MAX_NAME).optional(),
  actor: Id.optional(),
};

export const AuditExportQuery = z.strictObject(auditFilters);

export const AuditQuery = z.strictObject({
  ...auditFilters,
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().min(1).max(1000).optional(),
});

// Responses.

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not-found' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi('Error');

export const Organisation = z
  .object({
    id: Id,
    name: z.string(),
    sectors: z.array(z.string()),
    contact: z.string().optional(),
    identity: StixIdentity,
    clients: z.array(Id),
    createdAt: Timestamp,
  })
  .openapi('Organisation');

export const User = z
  .object({
    id: Id,
    name: z.string(),
    organisationId: Id,
    role: UserRole,
    disabled: z.boolean(),
    createdAt: Timestamp,
  })
  .openapi('User');

export const Token = z
  .object({
    id: TokenId,
    userId: Id,
    label: z.string(),
    scopes: z.array(TokenScope),
    createdAt: Timestamp,
    expiresAt: Timestamp.optional(),
    lastUsedAt: Timestamp.optional(),
    revokedAt: Timestamp.optional(),
  })
  .openapi('Token');

export const IssuedToken = z
  .object({
    token: z.string().openapi({ description: 'the secret token, shown only in this response' }),
    record: Token,
  })
  .openapi('IssuedToken');

export const Community = z
  .object({
    id: Id,
    name: z.string(),
    description: z.string(),
    defaultTlp: DefaultTlp,
    allowAnonymous: z.boolean(),
    publishClear: z.boolean(),
    identity: StixIdentity,
    createdAt: Timestamp,
  })
  .openapi('Community');

export const CommunityCollection = z
  .object({
    id: z.string(),
    apiRoot: z.string(),
    title: z.string(),
    alias: z.string().optional(),
    description: z.string().optional(),
  })
  .openapi('CommunityCollection');

export const CommunityDetail = Community.extend({
  members: z.array(Id),
  moderators: z.array(Id),
  collections: z.array(CommunityCollection),
}).openapi('CommunityDetail');

export const Invitation = z
  .object({
    id: Id,
    kind: z.enum(['invitation', 'request']),
    communityId: Id,
    organisationId: Id,
    state: z.enum(['pending', 'accepted', 'declined']),
    createdBy: Id,
    createdAt: Timestamp,
    answeredBy: Id.optional(),
    answeredAt: Timestamp.optional(),
  })
  .openapi('Invitation');

export const ShareResult = z
  .object({
    successes: z.array(
      z.object({
        id: z.string(),
        version: z.string(),
        outcome: z.enum(['added', 'duplicate']),
        dateAdded: Timestamp,
      }),
    ),
    failures: z.array(z.object({ id: z.string(), version: z.string(), message: z.string() })),
  })
  .openapi('ShareResult');

export const AuditEntry = z
  .object({
    id: z.number().int(),
    at: Timestamp,
    action: z.string(),
    actorId: Id.optional(),
    actorName: z.string().optional(),
    organisationId: Id.optional(),
    sourceAddress: z.string().optional(),
    target: z.string().optional(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi('AuditEntry');

export const AuditPage = z
  .object({ entries: z.array(AuditEntry), next: z.string().optional() })
  .openapi('AuditPage');

export const Me = z
  .object({ user: User, organisation: Organisation, communities: z.array(Community) })
  .openapi('Me');
