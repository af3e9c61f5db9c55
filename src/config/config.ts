/**
 * Server configuration: defaults, then a JSON file, then CAIRN_* environment variables,
 * then command-line flags, each layer overriding the one before.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const configSchema = z
  .object({
    /** Address the HTTP server binds to. */
    host: z.string().min(1),
    /** TCP port; 0 picks a free one. */
    port: z.number().int().min(0).max(65535),
    /** Store location: `sqlite:PATH`, a bare file path, or a `postgres://` URL. */
    store: z.string().min(1),
    /**
     * Whether opening the store applies pending schema migrations. When off, a store whose
     * schema is behind is rejected until `cairn migrate` has run.
     */
    migrateOnStart: z.boolean(),
    /** Base URL clients use, when the server sits behind a proxy; printed at start. */
    publicUrl: z.string().url().optional(),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) })
      .strict(),
    taxii: z
      .object({
        title: z.string().min(1),
        description: z.string().optional(),
        contact: z.string().optional(),
        /** Name (URL path segment) of the API root created on first start. */
        defaultApiRoot: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
        /** Most objects one page returns, whatever `limit` the client asks for. */
        pageSize: z.number().int().min(1).max(100_000),
        /** Largest POST body, in octets, for API roots created from this configuration. */
        maxContentLength: z.number().int().min(1024),
        /** Also accept `application/json`, `*\/*` and a missing Accept header. */
        lenientMediaTypes: z.boolean(),
        /** How long status resources are kept after a POST, in hours. */
        statusRetentionHours: z.number().min(24),
        /**
         * Worker threads that parse and validate POSTed envelopes; 0 validates them on the
         * main thread.
         */
        envelopeWorkers: z.number().int().min(0).max(64),
        /** POST bodies smaller than this many octets are validated on the main thread. */
        envelopeWorkerMinBytes: z.number().int().min(0),
      })
      .strict(),
    connectors: z
      .object({
        /** Whether this server runs due connectors; any number of servers may. */
        scheduler: z.boolean(),
        /** Seconds between two looks for due connectors. */
        pollSeconds: z.number().min(0.05).max(3600),
        /** Longest connector run, in minutes; a longer one is stopped and resumed later. */
        maxRunMinutes: z.number().int().min(1).max(1440),
        /** Connector runs at once on this server. */
        concurrency: z.number().int().min(1).max(64),
        /**
         * Folder of MISP warning lists (`<name>/list.json`) that connectors check values
         * against and exports leave out; none when absent.
         */
        warninglists: z.string().min(1).optional(),
        /**
         * AES-256 key that encrypts connector secrets (passwords, tokens, header values) in
         * the store: 64 hex digits. Without it, connector secrets cannot be saved.
         */
        secretKey: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, {
            message: 'must be 64 hex digits (32 random bytes), such as from `openssl rand -hex 32`',
          })
          .optional(),
        /**
         * Whether every connector may fetch from loopback, private and other non-public
         * addresses, such as a TAXII server inside the network. Without it, only connectors
         * whose url a platform admin gave may.
         */
        allowPrivateTargets: z.boolean(),
      })
      .strict(),
    webhooks: z
      .object({
        /** Whether this server dispatches events and sends deliveries; any number may. */
        deliver: z.boolean(),
        /** Deadline of one delivery request, in seconds. */
        timeoutSeconds: z.number().min(0.05).max(300),
        /** Attempts before a delivery becomes a dead letter. */
        maxAttempts: z.number().int().min(1).max(100),
        /** Backoff cap of the first retry, in seconds; doubled on each later retry. */
        retryBaseSeconds: z.number().min(0.01).max(3600),
        /** Largest retry delay, in seconds. */
        retryMaxSeconds: z.number().min(0.01).max(86_400),
        /** Requests in flight to one endpoint at most, per server. */
        concurrencyPerEndpoint: z.number().int().min(1).max(64),
        /** Webhooks one organisation may register. */
        maxPerOrganisation: z.number().int().min(1).max(10_000),
        /** Whether deliveries may go to loopback, private and other non-public addresses. */
        allowPrivateTargets: z.boolean(),
        /** Dead letters kept per webhook; the oldest beyond this are deleted. */
        maxDeadLetters: z.number().int().min(1).max(1_000_000),
        /** Seconds between two reads of the event log and alert logs when no announcement came. */
        dispatchPollSeconds: z.number().min(0.01).max(3600),
      })
      .strict(),
    /** The retention policy of the event log: events outside it are pruned. */
    events: z
      .object({
        /** Days an event is kept. */
        maxAgeDays: z.number().min(0.001).max(36_500),
        /** Events kept at most; the oldest beyond this are pruned. */
        maxEvents: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
        /** Minutes between two prunes anywhere in the cluster. */
        pruneIntervalMinutes: z.number().min(0.001).max(1440),
      })
      .strict(),
    /** Event streams (Server-Sent Events and WebSocket) under /api/v1/streams. */
    streams: z
      .object({
        /** Seconds between heartbeats, which carry the cursor of the last event examined. */
        heartbeatSeconds: z.number().min(0.01).max(3600),
        /** Seconds between two checks of every reader's token and user; rights every sixth. */
        recheckSeconds: z.number().min(0.01).max(3600),
        /** Open streams per token. */
        maxPerToken: z.number().int().min(1).max(100_000),
        /** Open streams per source address. */
        maxPerAddress: z.number().int().min(1).max(1_000_000),
        /** Messages queued for one client at most, in KiB; a client further behind is closed. */
        bufferKiB: z.number().int().min(16).max(1_048_576),
        /** Seconds a client may accept nothing while messages wait for it before it is closed. */
        stallSeconds: z.number().min(0.01).max(3600),
        /** Seconds between two looks at the event log when no announcement came. */
        pollSeconds: z.number().min(0.01).max(60),
      })
      .strict(),
    /** Announcements between nodes that share a store; without a URL, none leave the process. */
    nats: z
      .object({
        /** NATS server URLs, comma-separated: `nats://host:4222` or `tls://host:4222`. */
        url: z
          .string()
          .refine(isNatsServerList, {
            message: 'expected nats://HOST:PORT or tls://HOST:PORT, separated by commas',
          })
          .optional(),
        /** Names the JetStream stream (`<prefix>-events`) and its subject (`<prefix>.events.committed`). */
        prefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, {
          message: 'use 1 to 32 letters, digits, dashes or underscores',
        }),
        /** Seconds between two reads of the store in case announcements were lost. */
        fallbackPollSeconds: z.number().min(0.05).max(3600),
        /** Copies of the stream a NATS cluster keeps when Cairn creates it: 3 on three servers. */
        replicas: z.number().int().min(1).max(5),
      })
      .strict(),
  })
  .strict();

/** Whether every comma-separated entry is a nats:// or tls:// URL with a host. */
function isNatsServerList(value: string): boolean {
  return value.split(',').every((entry) => {
    try {
      const url = new URL(entry.trim());
      return (url.protocol === 'nats:' || url.protocol === 'tls:') && url.hostname !== '';
    } catch {
      return false;
    }
  });
}

export type CairnConfig = z.infer<typeof configSchema>;

/** Envelope workers by default: one core stays for the event loop, and at most 4. */
export function defaultEnvelopeWorkers(cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores - 1, 4));
}

export const DEFAULT_CONFIG: CairnConfig = {
  host: '127.0.0.1',
  port: 8470,
  store: 'sqlite:./data/cairn.db',
  migrateOnStart: true,
  log: { level: 'info' },
  taxii: {
    title: 'Cairn',
    description: 'Cairn threat-intelligence exchange',
    defaultApiRoot: 'default',
    pageSize: 1000,
    maxContentLength: 16 * 1024 * 1024,
    lenientMediaTypes: true,
    statusRetentionHours: 24,
    envelopeWorkers: defaultEnvelopeWorkers(),
    // About 20 indicators: a body of 16 indicators (6 KiB) cost the main thread as much
    // CPU in place as through a worker, larger bodies less through a worker
    // (bench/envelope-pool.ts, docs/benchmarks.md).
    envelopeWorkerMinBytes: 8 * 1024,
  },
  connectors: {
    scheduler: true,
    pollSeconds: 5,
    maxRunMinutes: 60,
    concurrency: 2,
    allowPrivateTargets: false,
  },
  webhooks: {
    deliver: true,
    timeoutSeconds: 10,
    maxAttempts: 8,
    retryBaseSeconds: 2,
    retryMaxSeconds: 3600,
    concurrencyPerEndpoint: 4,
    maxPerOrganisation: 250,
    allowPrivateTargets: false,
    maxDeadLetters: 1000,
    dispatchPollSeconds: 2,
  },
  nats: { prefix: 'cairn', fallbackPollSeconds: 10, replicas: 1 },
  events: { maxAgeDays: 30, maxEvents: 5_000_000, pruneIntervalMinutes: 10 },
  streams: {
    heartbeatSeconds: 15,
    recheckSeconds: 5,
    maxPerToken: 10,
    maxPerAddress: 100,
    bufferKiB: 4096,
    stallSeconds: 30,
    pollSeconds: 1,
  },
};

/** Environment variables and the configuration path each one sets. */
const ENVIRONMENT: Record<string, { path: string[]; kind: 'string' | 'number' | 'boolean' }> = {
  CAIRN_HOST: { path: ['host'], kind: 'string' },
  CAIRN_PORT: { path: ['port'], kind: 'number' },
  CAIRN_STORE: { path: ['store'], kind: 'string' },
  CAIRN_MIGRATE_ON_START: { path: ['migrateOnStart'], kind: 'boolean' },
  CAIRN_PUBLIC_URL: { path: ['publicUrl'], kind: 'string' },
  CAIRN_LOG_LEVEL: { path: ['log', 'level'], kind: 'string' },
  CAIRN_TAXII_TITLE: { path: ['taxii', 'title'], kind: 'string' },
  CAIRN_TAXII_PAGE_SIZE: { path: ['taxii', 'pageSize'], kind: 'number' },
  CAIRN_TAXII_MAX_CONTENT_LENGTH: { path: ['taxii', 'maxContentLength'], kind: 'number' },
  CAIRN_TAXII_LENIENT: { path: ['taxii', 'lenientMediaTypes'], kind: 'boolean' },
  CAIRN_TAXII_ENVELOPE_WORKERS: { path: ['taxii', 'envelopeWorkers'], kind: 'number' },
  CAIRN_CONNECTORS_SCHEDULER: { path: ['connectors', 'scheduler'], kind: 'boolean' },
  CAIRN_WARNINGLISTS: { path: ['connectors', 'warninglists'], kind: 'string' },
  CAIRN_CONNECTOR_SECRET_KEY: { path: ['connectors', 'secretKey'], kind: 'string' },
  CAIRN_CONNECTORS_ALLOW_PRIVATE_TARGETS: {
    path: ['connectors', 'allowPrivateTargets'],
    kind: 'boolean',
  },
  CAIRN_NATS_URL: { path: ['nats', 'url'], kind: 'string' },
  CAIRN_NATS_PREFIX: { path: ['nats', 'prefix'], kind: 'string' },
  CAIRN_NATS_REPLICAS: { path: ['nats', 'replicas'], kind: 'number' },
  CAIRN_WEBHOOKS_DELIVER: { path: ['webhooks', 'deliver'], kind: 'boolean' },
  CAIRN_WEBHOOKS_ALLOW_PRIVATE_TARGETS: {
    path: ['webhooks', 'allowPrivateTargets'],
    kind: 'boolean',
  },
  CAIRN_EVENTS_MAX_AGE: { path: ['events', 'maxAgeDays'], kind: 'number' },
  CAIRN_EVENTS_MAX: { path: ['events', 'maxEvents'], kind: 'number' },
  CAIRN_STREAMS_HEARTBEAT: { path: ['streams', 'heartbeatSeconds'], kind: 'number' },
  CAIRN_STREAMS_MAX_PER_TOKEN: { path: ['streams', 'maxPerToken'], kind: 'number' },
  CAIRN_STREAMS_MAX_PER_ADDRESS: { path: ['streams', 'maxPerAddress'], kind: 'number' },
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Layer = Record<string, unknown>;

function merge(base: Layer, over: Layer): Layer {
  const out: Layer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (isPlainObject(value) && isPlainObject(current)) out[key] = merge(current, value);
    else if (value !== undefined) out[key] = value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Layer {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readEnvironment(env: NodeJS.ProcessEnv): Layer {
  const layer: Layer = {};
  for (const [name, { path, kind }] of Object.entries(ENVIRONMENT)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (kind === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) {
        throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a number`);
      }
    } else if (kind === 'boolean') {
      if (!['true', 'false', '1', '0'].includes(raw)) {
        throw new ConfigError(`${name}=${JSON.stringify(raw)} must be true or false`);
      }
      value = raw === 'true' || raw === '1';
    }
    let node = layer;
    for (const key of path.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Layer;
    }
    node[path[path.length - 1]!] = value;
  }
  return layer;
}

function readFile(path: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isPlainObject(parsed)) throw new Error('the top level must be a JSON object');
    return parsed;
  } catch (error) {
    throw new ConfigError(`configuration file ${path} is not valid: ${(error as Error).message}`);
  }
}

export interface LoadOptions {
  /** A configuration file; otherwise CAIRN_CONFIG, otherwise ./cairn.json when it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, highest precedence. */
  overrides?: Layer;
}

/** Builds the configuration from its layers and rejects unknown keys and bad values. */
export function loadConfig(options: LoadOptions = {}): CairnConfig {
  const env = options.env ?? process.env;
  let merged: Layer = DEFAULT_CONFIG as unknown as Layer;
  const file =
    options.file ?? env.CAIRN_CONFIG ?? (existsSync('cairn.json') ? 'cairn.json' : undefined);
  if (file) merged = merge(merged, readFile(file));
  merged = merge(merged, readEnvironment(env));
  if (options.overrides) merged = merge(merged, options.overrides);

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`)
      .join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return result.data;
}
