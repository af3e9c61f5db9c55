/**
 * Starts the Cairn HTTP server: configuration, store, first-start setup, the TAXII
 * application, and a clean stop on SIGINT and SIGTERM.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { createApiApp } from './api/app.ts';
import { authenticateWith } from './api/auth.ts';
import { API_BASE } from './api/context.ts';
import { HttpAuthenticator } from './auth/http.ts';
import type { BootstrapResult } from './bootstrap.ts';
import {
  bootstrapNode,
  createFailureCounter,
  createNotifier,
  startHousekeeping,
} from './cluster/index.ts';
import { HEALTH_PATH, healthCheck } from './cluster/health.ts';
import type { CairnConfig } from './config/config.ts';
import { ConnectorScheduler } from './connectors/scheduler.ts';
import { secretBoxFrom } from './connectors/secrets.ts';
import { sourceFor } from './connectors/sources.ts';
import { configuredWarninglists } from './connectors/warninglists.ts';
import { EventIndexer } from './correlation/event-indexer.ts';
import { CairnError } from './errors.ts';
import { AccessChanges, announcingStore } from './events/announcing-store.ts';
import { CursorCodec } from './events/cursor.ts';
import { EventFeed } from './events/feed.ts';
import { BackgroundPacer } from './events/pacing.ts';
import type { EventNotifier } from './events/notifier.ts';
import { createEventPruneTask } from './events/retention.ts';
import type { Logger } from './log/logger.ts';
import { createSharingServices } from './sharing/service.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/store.ts';
import { createTaxiiApp } from './taxii/app.ts';
import { EnvelopePool } from './taxii/envelope-pool.ts';
import { CursorSigner } from './taxii/cursor.ts';
import { createStreamApp, STREAMS_BASE } from './stream/app.ts';
import { StreamHub, type StreamSettings } from './stream/hub.ts';
import { TAXII_MEDIA_TYPE } from './taxii/media.ts';
import { WatchRuntime } from './watch/runtime.ts';
import { WebhookService } from './webhooks/service.ts';

export interface RunningServer {
  url: string;
  port: number;
  store: Store;
  setup: BootstrapResult;
  /** Tells this node's followers of the event log, and the other nodes', of new events. */
  notifier: EventNotifier;
  /** The event streams of this node. */
  streams: StreamHub;
  /** Watch lists, alerts and the bulk look-up of this node. */
  watch: WatchRuntime;
  close(): Promise<void>;
}

export async function startServer(config: CairnConfig, logger: Logger): Promise<RunningServer> {
  const opened = await openStore(config.store, { migrate: config.migrateOnStart });
  const accessChanges = new AccessChanges();
  const notifier = await createNotifier(config, opened, logger, accessChanges);
  // Every write through this store announces its events, or signals an access change. Its
  // readers of the event log share the events this process wrote, held in memory once.
  const feed = new EventFeed(opened, logger);
  feed.start();
  const store = feed.wrap(announcingStore(opened, notifier, accessChanges, logger));
  const setup = await bootstrapNode(store, config, logger).catch(async (error: unknown) => {
    // A NATS notifier reconnects forever: stop it, so a failed start leaves nothing running.
    await notifier.close();
    feed.stop();
    await opened.close();
    throw error;
  });
  // One authenticator, so every transport counts failed attempts against the same limits.
  const failures = createFailureCounter(config, store);
  const authenticator = new HttpAuthenticator(store, logger, failures);
  const envelopes =
    config.taxii.envelopeWorkers > 0
      ? new EnvelopePool({
          workers: config.taxii.envelopeWorkers,
          minBytes: config.taxii.envelopeWorkerMinBytes,
          logger,
        })
      : undefined;
  const taxii = createTaxiiApp({
    store,
    config,
    logger,
    signer: new CursorSigner(setup.signingKey),
    authenticator,
    ...(envelopes ? { envelopes } : {}),
  });
  const services = createSharingServices(store, { defaultApiRoot: config.taxii.defaultApiRoot });
  const webhooks = new WebhookService(store, logger, webhookSettings(config), notifier);
  // The value index, the correlation indexer and the retro-hunt key indexer give way to
  // writes; see src/events/pacing.ts.
  const pacer = new BackgroundPacer(feed);
  const watch = new WatchRuntime(store, logger, notifier, {
    valueIndexStore: pacer.wrap(store, 'value index'),
    huntIndexPacer: pacer,
  });
  const warninglists = await configuredWarninglists(config, logger);
  const api = createApiApp(
    { store, config, logger, services, webhooks, watch, ...(warninglists ? { warninglists } : {}) },
    authenticateWith(authenticator),
  );
  const streams = new StreamHub(
    { store, notifier, accessChanges, logger, codec: await CursorCodec.load(store) },
    streamSettings(config),
  );
  await streams.start();
  const app = routeByPath(
    api,
    taxii,
    createStreamApp({
      hub: streams,
      authenticator,
      logger,
      store,
      defaultApiRoot: config.taxii.defaultApiRoot,
    }),
    healthCheck(store, notifier, logger),
  );

  const server: ServerType = await new Promise((resolve, reject) => {
    const websocket = { server: new WebSocketServer({ noServer: true }) };
    const created = serve(
      { fetch: app.fetch, hostname: config.host, port: config.port, websocket },
      () => resolve(created),
    );
    created.once('error', reject);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    answerClientError(error, socket, logger);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  const housekeeping = startHousekeeping(store, logger, failures);
  const eventPrune = createEventPruneTask(store, logger, config.events);
  eventPrune.start();

  const secrets = secretBoxFrom(config);
  const connectors = new ConnectorScheduler(
    {
      store,
      logger,
      sourceFor,
      ...(warninglists ? { warninglists } : {}),
      ...(secrets ? { secrets } : {}),
      allowPrivateTargets: config.connectors.allowPrivateTargets,
    },
    {
      pollMs: config.connectors.pollSeconds * 1000,
      leaseMs: config.connectors.maxRunMinutes * 60_000,
      concurrency: config.connectors.concurrency,
    },
  );
  if (config.connectors.scheduler) connectors.start();
  // Indexes every write for correlation; nodes take turns through a claimed cursor.
  const correlation = new EventIndexer(store, logger, {}, pacer);
  correlation.start();
  if (config.webhooks.deliver) await webhooks.start();
  await watch.start();

  logger.info({ url, store: describeStore(config.store) }, 'server started');
  return {
    url,
    port,
    store,
    setup,
    notifier,
    streams,
    watch,
    async close() {
      // Readers waiting for their turn go on at once, so they stop without delay.
      pacer.stop();
      await housekeeping.stop();
      await eventPrune.stop();
      // Streams end first, so their clients get a final message with their cursor.
      await streams.close();
      await connectors.stop();
      await correlation.stop();
      await webhooks.stop();
      await watch.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open; end them.
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      await envelopes?.close();
      await notifier.close();
      feed.stop();
      await store.close();
      logger.info('server stopped');
    },
  };
}

/** The stream settings of the configuration, in the units the hub takes. */
function streamSettings(config: CairnConfig): Partial<StreamSettings> {
  const settings = config.streams;
  return {
    heartbeatMs: settings.heartbeatSeconds * 1000,
    recheckMs: settings.recheckSeconds * 1000,
    maxPerToken: settings.maxPerToken,
    maxPerAddress: settings.maxPerAddress,
    maxBufferBytes: settings.bufferKiB * 1024,
    stallMs: settings.stallSeconds * 1000,
    pollMs: settings.pollSeconds * 1000,
  };
}

/** The webhook settings of the configuration, in the units the service takes. */
function webhookSettings(config: CairnConfig) {
  const settings = config.webhooks;
  return {
    timeoutMs: settings.timeoutSeconds * 1000,
    maxAttempts: settings.maxAttempts,
    baseDelayMs: settings.retryBaseSeconds * 1000,
    maxDelayMs: settings.retryMaxSeconds * 1000,
    concurrencyPerEndpoint: settings.concurrencyPerEndpoint,
    maxPerOrganisation: settings.maxPerOrganisation,
    allowPrivateTargets: settings.allowPrivateTargets,
    maxDeadLetters: settings.maxDeadLetters,
    fallbackMs: settings.dispatchPollSeconds * 1000,
  };
}

interface FetchApp {
  fetch(request: Request, env: unknown): Response | Promise<Response>;
}

/**
 * Answers the health path, which needs no credentials. Sends `/api/v1/streams` and
 * everything under it to the event streams, the rest of `/api/v1` to the JSON API and every
 * other path to TAXII. Each application keeps its own logging and error format; the
 * environment is passed on so all see the client connection (and the streams can upgrade
 * it to a WebSocket).
 */
function routeByPath(
  api: FetchApp,
  taxii: FetchApp,
  streams: FetchApp,
  health: () => Promise<Response>,
): Hono {
  const root = new Hono();
  root.get(HEALTH_PATH, () => health());
  root.all(STREAMS_BASE, (c) => streams.fetch(c.req.raw, c.env));
  root.all(`${STREAMS_BASE}/*`, (c) => streams.fetch(c.req.raw, c.env));
  root.all(API_BASE, (c) => api.fetch(c.req.raw, c.env));
  root.all(`${API_BASE}/*`, (c) => api.fetch(c.req.raw, c.env));
  root.all('*', (c) => taxii.fetch(c.req.raw, c.env));
  return root;
}

/**
 * Responds to a request that Node.js rejected before Cairn saw it (a malformed request line,
 * headers over the 16 KiB limit, a timeout) with a TAXII error message, because TAXII 2.1
 * section 3.1 gives every response the TAXII media type.
 */
/** The start of a request line whose path is under /api/v1. */
const JSON_API_REQUEST = /^[A-Z]+ \/api\/v1(?:[/?# ]|$)/;

/**
 * Returns the first bytes of the data the HTTP parser failed on, or an empty string. They
 * start with the request line only when the request arrived in one piece.
 */
function requestLineStart(error: NodeJS.ErrnoException): string {
  const raw = (error as { rawPacket?: unknown }).rawPacket;
  return Buffer.isBuffer(raw) ? raw.subarray(0, 64).toString('latin1') : '';
}

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, logger: Logger): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const failure =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new CairnError(
          'headers-too-large',
          'the request headers are larger than 16 KiB: shorten the query or the Authorization header',
        )
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new CairnError('request-timeout', 'the request was not received in time')
        : new CairnError(
            'bad-request',
            `the HTTP request could not be parsed (${error.code ?? 'unknown error'})`,
          );
  // Paths under /api/v1 (the JSON API and the streams) get the JSON API error format. Other
  // paths get TAXII's, and so does a request whose path is not in the bytes the parser had.
  const jsonApi = JSON_API_REQUEST.test(requestLineStart(error));
  const body = JSON.stringify(
    jsonApi
      ? { error: { code: failure.code, message: failure.message } }
      : {
          title: failure.title,
          description: failure.message,
          error_code: failure.code,
          http_status: String(failure.status),
        },
  );
  logger.info({ code: error.code, status: failure.status }, 'malformed request rejected');
  socket.end(
    `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? ''}\r\n` +
      `Content-Type: ${jsonApi ? 'application/json' : TAXII_MEDIA_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/**
 * The store location without credentials, for logs: the user information of a URL and any
 * password, sslpassword or sslkey parameter (which pg accepts in the query) are left out.
 */
export function describeStore(location: string): string {
  const withoutUser = location.replace(/\/\/[^@/]*@/, '//');
  return withoutUser.replace(/([?&](?:password|sslpassword|sslkey)=)[^&#]*/gi, '$1***');
}
