/**
 * What a connector is: a remote or local source of threat data (a TAXII 2.1 collection, a
 * MISP feed or event, a CSV file or a plain-text list), the collection its objects go to,
 * how often it runs and how it treats warning-listed values. Definitions are stored as
 * documents of kind `connector`; their run state (checkpoint and health) as documents of
 * kind `connector-state` with the same id.
 */
import { z } from 'zod';
import { parseCsvMapping } from '../ingest/formats/index.ts';

export const CONNECTOR_KINDS = ['taxii', 'misp-feed', 'misp-event', 'csv', 'text'] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

export const LIST_MODES = ['snapshot', 'delta'] as const;
export type ListMode = (typeof LIST_MODES)[number];

/** Default of listedValiditySeconds: 30 days. */
export const DEFAULT_LISTED_VALIDITY_SECONDS = 30 * 86_400;

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

/** Header names a connector may not set: HTTP framing, and those its requests set themselves. */
const RESERVED_HEADERS = new Set([
  'accept',
  'connection',
  'content-length',
  'host',
  'if-modified-since',
  'if-none-match',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Extra request headers, such as `Authorization` carrying a MISP auth key or an API-key
 * header. Every value is treated as a secret. Names are RFC 9110 tokens; values may not
 * contain control characters, which could end the header.
 */
/** Returns whether text contains a control character other than tab, which no header value may. */
function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

const RequestHeaders = z
  .record(
    z.string(),
    z
      .string()
      .min(1)
      .max(4096)
      .refine((value) => !hasControlCharacter(value), {
        message: 'must not contain control characters',
      }),
  )
  .superRefine((headers, context) => {
    const names = Object.keys(headers);
    if (names.length > 20) context.addIssue({ code: 'custom', message: 'at most 20 headers' });
    const seen = new Set<string>();
    for (const name of names) {
      const lower = name.toLowerCase();
      // A JSON key `__proto__` would replace the prototype of the parsed record.
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/.test(name) || lower === '__proto__') {
        context.addIssue({ code: 'custom', message: 'is not an HTTP header name', path: [name] });
      } else if (RESERVED_HEADERS.has(lower)) {
        context.addIssue({
          code: 'custom',
          message: 'is set by the connector itself and cannot be given',
          path: [name],
        });
      } else if (seen.has(lower)) {
        context.addIssue({
          code: 'custom',
          message: 'names a header twice (header names ignore case)',
          path: [name],
        });
      }
      seen.add(lower);
    }
  });

/** Checks that an http(s) URL carries no user name or password, which would be no secret there. */
function withoutCredentials(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return true;
  try {
    const url = new URL(value);
    return url.username === '' && url.password === '';
  } catch {
    return true;
  }
}

/**
 * `http://` or `https://` URL, or an absolute file path for local sources. Credentials in
 * the URL are rejected: the API shows the URL to every member of the organisation, and
 * fetch refuses such URLs, while `auth` stores them encrypted.
 */
const Location = z
  .string()
  .min(1)
  .max(4096)
  .refine((value) => /^https?:\/\//i.test(value) || value.startsWith('/'), {
    message: 'must be an http:// or https:// URL, or an absolute file path',
  })
  .refine(withoutCredentials, {
    message:
      'must not contain a user name or password: give them as auth {"type": "basic", "username", "password"}',
  });

/** A CSV column mapping, checked as `cairn import --csv-map` checks it. */
const CsvMappingText = z
  .string()
  .min(1)
  .max(2000)
  .superRefine((value, context) => {
    try {
      parseCsvMapping(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
    }
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
  headers: RequestHeaders,
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
  csvMapping: CsvMappingText,
  /** Labels added to indicators that CSV and text sources produce. */
  labels: z.array(z.string().min(1).max(100)).max(20),
  /**
   * Mode of a CSV or text source. With `snapshot` (default) each read contains every value
   * currently listed, so a value missing from a complete read is expired. With `delta` each
   * read contains only new values, so nothing is expired.
   */
  listMode: z.enum(LIST_MODES),
  /**
   * Seconds a value of a snapshot list stays valid after the run that listed it, unless a
   * later run lists it again (see list-source.ts).
   */
  listedValiditySeconds: z.number().int().min(3600).max(MAX_INTERVAL_SECONDS),
};

export const NewConnector = z
  .strictObject({
    ...FIELDS,
    auth: FIELDS.auth.default({ type: 'none' }),
    headers: FIELDS.headers.optional(),
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
    listMode: FIELDS.listMode.optional(),
    listedValiditySeconds: FIELDS.listedValiditySeconds.optional(),
  })
  .refine(
    (connector) =>
      connector.auth.type === 'none' ||
      !Object.keys(connector.headers ?? {}).some((name) => name.toLowerCase() === 'authorization'),
    {
      message: 'an Authorization header needs auth {"type": "none"}: give one or the other',
      path: ['headers'],
    },
  )
  .refine((connector) => connector.kind === 'csv' || connector.csvMapping === undefined, {
    message: 'applies to csv connectors only',
    path: ['csvMapping'],
  })
  .refine(
    (connector) =>
      connector.kind === 'csv' ||
      connector.kind === 'text' ||
      (connector.listMode === undefined && connector.listedValiditySeconds === undefined),
    {
      message: 'listMode and listedValiditySeconds apply to csv and text connectors only',
      path: ['listMode'],
    },
  );
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
  /**
   * The user who gave the current `url`. Runs reach non-public addresses only when this
   * user is a platform admin or `connectors.allowPrivateTargets` is set. Definitions saved
   * before it was recorded lack it, and `createdBy` counts in its place.
   */
  urlSetBy?: string;
}

/** Whether a secret is set and encrypted in the store, as the API and CLI show it. */
export type SecretStatus = 'set' | 'set, not encrypted';

/**
 * The definition as the API and CLI show it: without secret values. `secrets` lists each
 * secret by field (`auth.token`, `headers.Authorization`) with its status.
 */
export interface PublicConnector extends Omit<Connector, 'auth' | 'headers'> {
  auth: { type: ConnectorAuth['type']; username?: string };
  secrets: Record<string, SecretStatus>;
}

/** The source of an object a connector stored, as the correlation index names it. */
export function connectorSource(connectorId: string): string {
  return `connector:${connectorId}`;
}
