/**
 * What a connector is: a remote or local source of threat data (a TAXII 2.1 collection, a
 * MISP feed or event, a CSV file or a plain-text list), the collection its objects go to,
 * how often it runs and how it treats warning-listed values. Definitions are stored as
 * documents of kind `connector`; their run state (checkpoint and health) as documents of
 * kind `connector-state` with the same id.
 */
import { z } from 'zod';

export const CONNECTOR_KINDS = ['taxii', 'misp-feed', 'misp-event', 'csv', 'text'] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

export const CONNECTOR_DOCUMENT = 'connector';
export const CONNECTOR_STATE_DOCUMENT = 'connector-state';

/** Shortest and longest run interval, in seconds. */
export const MIN_INTERVAL_SECONDS = 10;
export const MAX_INTERVAL_SECONDS = 366 * 86_400;

/**
 * What to do with an object whose observable value is on a warning list (known-benign
 * values such as public resolvers or top sites): `drop` rejects it with the list's name,
 * `label` stores it and labels its indicator `warninglist:<name>`, `lower` stores it and
 * caps its indicator's confidence. `off` does not check. For objects read from TAXII,
 * stix-warninglists.ts defines which indicators and SCOs count as listed.
 */
export const WARNING_LIST_POLICIES = ['drop', 'label', 'lower', 'off'] as const;
export type WarningListPolicy = (typeof WARNING_LIST_POLICIES)[number];

const Secret = z.string().min(1).max(4096);

export const ConnectorAuth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('basic'),
    username: z.string().min(1).max(256),
    password: Secret,
  }),
  z.strictObject({ type: z.literal('bearer'), token: Secret }),
]);
export type ConnectorAuth = z.infer<typeof ConnectorAuth>;

/** `http://` or `https://` URL, or an absolute file path for local sources. */
const Location = z
  .string()
  .min(1)
  .max(4096)
  .refine((value) => /^https?:\/\//i.test(value) || value.startsWith('/'), {
    message: 'must be an http:// or https:// URL, or an absolute file path',
  });

export const RetryPolicy = z.strictObject({
  /** Attempts per request, the first included. */
  attempts: z.number().int().min(1).max(20),
  /** Delay before the first retry, in milliseconds; each retry doubles it. */
  baseDelayMs: z.number().int().min(1).max(600_000),
  /** Longest delay between two attempts, in milliseconds, Retry-After included. */
  maxDelayMs: z.number().int().min(1).max(3_600_000),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

const DEFAULT_RETRY = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };

/** The fields of a definition, without defaults, so that a change names only what it sets. */
const FIELDS = {
  name: z.string().trim().min(1).max(200),
  kind: z.enum(CONNECTOR_KINDS),
  /** Where the data comes from: see Location. For `taxii`, the collection's URL. */
  url: Location,
  auth: ConnectorAuth,
  /** Target collection id. */
  collection: z.uuid({ error: 'must be a collection id (a UUID)' }),
  /** Seconds between the end of one run and the start of the next. */
  intervalSeconds: z.number().int().min(MIN_INTERVAL_SECONDS).max(MAX_INTERVAL_SECONDS),
  enabled: z.boolean(),
  warningLists: z.enum(WARNING_LIST_POLICIES),
  /** Admiralty reliability of the source, A (completely reliable) to F (cannot be judged). */
  reliability: z.enum(['A', 'B', 'C', 'D', 'E', 'F']),
  /** STIX types to request from a TAXII source (`match[type]`). */
  types: z
    .array(z.string().regex(/^[a-z0-9-]{3,250}$/, 'must be a STIX type name'))
    .min(1)
    .max(50),
  /** TAXII `limit` asked per page; the server may send fewer. */
  pageSize: z.number().int().min(1).max(100_000),
  /** Objects stored per batch, and so per checkpoint. */
  batchSize: z.number().int().min(1).max(10_000),
  retry: RetryPolicy,
  /** Seconds one HTTP request may take to send its headers before it is retried. */
  timeoutSeconds: z.number().int().min(1).max(3600),
  /**
   * How to read a CSV source, in the `key=column,...` form of `cairn import --csv-map`,
   * such as `value=indicator,type=type`.
   */
  csvMapping: z.string().min(1).max(2000),
  /** Labels added to indicators that CSV and text sources produce. */
  labels: z.array(z.string().min(1).max(100)).max(20),
};

export const NewConnector = z.strictObject({
  ...FIELDS,
  auth: FIELDS.auth.default({ type: 'none' }),
  enabled: FIELDS.enabled.default(true),
  warningLists: FIELDS.warningLists.default('drop'),
  reliability: FIELDS.reliability.default('F'),
  types: FIELDS.types.optional(),
  pageSize: FIELDS.pageSize.optional(),
  batchSize: FIELDS.batchSize.default(500),
  retry: FIELDS.retry.default(DEFAULT_RETRY),
  timeoutSeconds: FIELDS.timeoutSeconds.default(60),
  csvMapping: FIELDS.csvMapping.optional(),
  labels: FIELDS.labels.optional(),
});
export type NewConnector = z.input<typeof NewConnector>;

/** A change to a connector: any field but `kind`; absent fields keep their value. */
export const ConnectorChange = z.strictObject(FIELDS).omit({ kind: true }).partial();
export type ConnectorChange = z.input<typeof ConnectorChange>;

/** A stored connector definition. */
export interface Connector extends z.output<typeof NewConnector> {
  id: string;
  /** The organisation that owns it. */
  organisationId: string;
  /** The user whose rights its runs use; objects are contributed as this user. */
  createdBy: string;
  createdAt: number;
}

/** The definition as the API and CLI show it: secrets are replaced by `***`. */
export function redactConnector(connector: Connector): Connector {
  const auth: ConnectorAuth =
    connector.auth.type === 'basic'
      ? { ...connector.auth, password: '***' }
      : connector.auth.type === 'bearer'
        ? { ...connector.auth, token: '***' }
        : connector.auth;
  return { ...connector, auth };
}

/** The source of an object a connector stored, as the correlation index names it. */
export function connectorSource(connectorId: string): string {
  return `connector:${connectorId}`;
}
