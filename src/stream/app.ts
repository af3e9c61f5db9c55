/**
 * The event stream endpoints under /api/v1/streams (docs/streams.md), as Server-Sent Events
 * or, when the request has `Upgrade: websocket`, as a WebSocket carrying the same messages:
 *
 * - `GET /api/v1/streams`: every collection the caller may read, narrowed by the query;
 * - `GET /api/v1/streams/collections/{id}`: one collection;
 * - `GET /api/v1/streams/communities/{id}`: the collections of one community.
 *
 * Errors use the JSON API format, and authentication is the one every transport shares.
 */
import { upgradeWebSocket, type HttpBindings, type WebSocketLike } from '@hono/node-server';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { ServerResponse } from 'node:http';
import { errorJson } from '../api/errors.ts';
import { authenticateWith } from '../api/auth.ts';
import { sourceAddress, type HttpAuthenticator } from '../auth/http.ts';
import type { Caller } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import { filterFromQuery, singleParameter, type EventFilter } from '../events/filter.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import { LIMIT_RETRY_SECONDS, type StreamHub } from './hub.ts';
import type { StreamSink } from './subscription.ts';
import type { WireFormat } from './wire.ts';

export const STREAMS_BASE = '/api/v1/streams';

/** How long an EventSource client waits before reconnecting, in milliseconds. */
const SSE_RETRY_MS = 2_000;

const QUERY_PARAMETERS = new Set([
  'collections',
  'community',
  'types',
  'labels',
  'tlp',
  'min_confidence',
  'from',
]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface StreamAppDeps {
  hub: StreamHub;
  store: Store;
  /** The API root whose collection aliases the collection path takes, as `cairn import` does. */
  defaultApiRoot: string;
  authenticator: HttpAuthenticator;
  logger: Logger;
}

interface StreamEnv {
  Bindings: HttpBindings;
  Variables: { caller: Caller; sourceAddress: string };
}

type StreamContext = Context<StreamEnv>;

function invalid(message: string): CairnError {
  return new CairnError('invalid-parameter', message);
}

/** Builds the filter of a request: its path scope, narrowed by the query parameters. */
function requestFilter(c: StreamContext, scope: EventFilter): EventFilter {
  const params = new URL(c.req.url).searchParams;
  const unknown = [...params.keys()].find((name) => !QUERY_PARAMETERS.has(name));
  if (unknown !== undefined) {
    throw invalid(
      `unknown query parameter ${JSON.stringify(unknown.slice(0, 40))}: use ${[...QUERY_PARAMETERS].join(', ')}`,
    );
  }
  const filter = filterFromQuery(params);
  if (scope.collections) {
    const outside = filter.collections?.find((id) => !scope.collections!.includes(id));
    if (outside !== undefined) {
      throw invalid(`collection "${outside}" is not the collection of this stream`);
    }
    filter.collections = scope.collections;
  }
  if (scope.communityId !== undefined) {
    if (filter.communityId !== undefined && filter.communityId !== scope.communityId) {
      throw invalid(`community "${filter.communityId}" is not the community of this stream`);
    }
    filter.communityId = scope.communityId;
  }
  return filter;
}

/**
 * A Server-Sent Events sink that writes to the Node.js response itself. Hono's streamSSE
 * goes through two WHATWG streams per connection, which cost memory and several promise
 * steps per write; with a thousand subscribers both count. The response's own buffer and
 * `drain` event push back on a slow client just the same.
 */
function sseSink(response: ServerResponse, wire: WireFormat): StreamSink {
  return {
    encode: (message) => wire.sseFrame(message),
    write: (messages) => {
      if (response.destroyed || response.writableEnded) return Promise.resolve();
      const text = messages.length === 1 ? messages[0]! : messages.join('');
      if (response.write(text)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          response.off('drain', done);
          response.off('close', done);
          resolve();
        };
        response.on('drain', done);
        response.on('close', done);
      });
    },
    end: () => response.end(),
    destroy: () => response.destroy(),
  };
}

function webSocketSink(socket: WebSocketLike, wire: WireFormat): StreamSink {
  return {
    encode: (message) => wire.wsFrame(message),
    write: (messages) =>
      new Promise((resolve) => {
        if (socket.readyState !== 1) {
          resolve();
          return;
        }
        const last = messages.length - 1;
        messages.forEach((message, index) => {
          // ws calls back once the frame is written to the socket. After the socket closed it
          // calls back with an error, and the close handler ends the subscription.
          (socket as unknown as { send(data: string, done?: () => void): void }).send(
            message,
            index === last ? () => resolve() : undefined,
          );
        });
      }),
    end: () => socket.close(1000, 'stream closed'),
    destroy: () => (socket as unknown as { terminate(): void }).terminate(),
  };
}

export function createStreamApp(deps: StreamAppDeps): Hono<StreamEnv> {
  const { hub, authenticator, logger, store, defaultApiRoot } = deps;
  const app = new Hono<StreamEnv>({ strict: false });

  app.use('*', async (c, next) => {
    c.set('sourceAddress', sourceAddress(c));
    await next();
  });
  // The JSON API's authentication: the same errors, and it only sets the caller, which
  // both environments have.
  app.use('*', authenticateWith(authenticator) as unknown as MiddlewareHandler<StreamEnv>);

  async function openStream(c: StreamContext, scope: EventFilter): Promise<Response> {
    const filter = requestFilter(c, scope);
    const from = singleParameter(new URL(c.req.url).searchParams, 'from');
    const subscription = await hub.open({
      caller: c.var.caller,
      sourceAddress: c.var.sourceAddress,
      filter,
      ...(from !== undefined ? { from } : {}),
      ...(c.req.header('last-event-id') !== undefined
        ? { lastEventId: c.req.header('last-event-id')! }
        : {}),
    });

    if (c.req.header('upgrade')?.toLowerCase() === 'websocket') {
      return upgradeWebSocket(c, {
        onOpen: (_event, ws) => hub.attach(subscription, webSocketSink(ws.raw!, hub.wire)),
        onClose: () => subscription.stop(),
        onError: () => subscription.stop(),
      });
    }
    const response = c.env.outgoing;
    response.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    response.write(`retry: ${SSE_RETRY_MS}\n\n`);
    response.once('close', () => subscription.stop());
    hub.attach(subscription, sseSink(response, hub.wire));
    return RESPONSE_ALREADY_SENT;
  }

  app.get(STREAMS_BASE, (c) => openStream(c, {}));
  app.get(`${STREAMS_BASE}/collections/:id`, async (c) => {
    const idOrAlias = c.req.param('id');
    const missing = new CairnError('not-found', `collection "${idOrAlias.slice(0, 80)}" not found`);
    if (UUID.test(idOrAlias)) return openStream(c, { collections: [idOrAlias] });
    if (idOrAlias.length > 250) throw missing;
    const collection = await store.getCollection(defaultApiRoot, idOrAlias);
    if (collection === undefined) throw missing;
    try {
      return await openStream(c, { collections: [collection.id] });
    } catch (error) {
      // A collection the caller may not read gets the 404 of a missing one, which names the
      // alias as sent, not the id behind it.
      if (error instanceof CairnError && error.code === 'not-found') throw missing;
      throw error;
    }
  });
  app.get(`${STREAMS_BASE}/communities/:id`, (c) => {
    const id = c.req.param('id');
    if (!UUID.test(id))
      throw new CairnError('not-found', `community "${id.slice(0, 80)}" not found`);
    return openStream(c, { communityId: id });
  });
  app.all('*', (c) =>
    c.req.method === 'GET'
      ? errorJson(new CairnError('not-found', `no stream at ${c.req.path}: see docs/streams.md`))
      : errorJson(new CairnError('method-not-allowed', 'streams support GET only'), {
          Allow: 'GET',
        }),
  );

  app.onError((error, c) => {
    if (error instanceof CairnError) {
      if (error.status >= 400) {
        logger.info(
          { path: c.req.path, status: error.status, user: c.get('caller')?.user.name },
          'stream rejected',
        );
      }
      return errorJson(
        error,
        error.code === 'too-many-requests' ? { 'Retry-After': String(LIMIT_RETRY_SECONDS) } : {},
      );
    }
    logger.error({ err: error, path: c.req.path }, 'stream request failed');
    return errorJson(new CairnError('internal', 'the server could not open the stream'));
  });
  return app;
}
