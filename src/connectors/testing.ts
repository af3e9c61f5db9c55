/**
 * Test helpers for connectors: a second Cairn as the remote TAXII server, a recording proxy
 * in front of it that can misbehave on purpose, and synthetic indicators.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { call, TAXII, type TestServer } from '../testing/server.ts';
import type { Connector, NewConnector } from './definition.ts';
import type { RunnerDeps } from './runner.ts';
import { secretBoxFrom } from './secrets.ts';
import { ConnectorService } from './service.ts';
import type { ConnectorSource } from './source.ts';

/** Returns `count` indicators of distinct IPv4 addresses from 198.18.0.0/15. */
export function indicators(count: number, offset = 0): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, index) => {
    const n = index + offset;
    return {
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--${randomUUID()}`,
      created: '2024-05-01T10:00:00.000Z',
      modified: '2024-05-01T10:00:00.000Z',
      name: `address ${n}`,
      pattern_type: 'stix',
      pattern: `[ipv4-addr:value = '198.18.${Math.floor(n / 250)}.${(n % 250) + 1}']`,
      valid_from: '2024-05-01T10:00:00Z',
    };
  });
}

/** Posts objects to the default collection of a test server over TAXII. */
export async function postObjects(server: TestServer, objects: unknown[]): Promise<void> {
  const result = await call(server, 'collections/default/objects/', {
    method: 'POST',
    body: { objects },
  });
  if (result.status !== 202 || result.json?.failure_count !== 0) {
    throw new Error(`posting test objects failed: ${result.status} ${result.text.slice(0, 300)}`);
  }
}

/** The id of a server's default collection. */
export async function defaultCollectionId(server: TestServer): Promise<string> {
  const collection = await server.server.store.getCollection('default', 'default');
  if (!collection) throw new Error('the test server has no default collection');
  return collection.id;
}

export interface ProxiedRequest {
  url: URL;
  authorization?: string;
  status: number;
}

/**
 * Action of the proxy on one request: forward it, respond with a status and a body (a
 * string, or chunks streamed as the client reads them), or forward it and rewrite the
 * JSON envelope of the response.
 */
export type ProxyAction =
  | { forward: true; rewrite?: (envelope: Record<string, unknown>) => Record<string, unknown> }
  | {
      status: number;
      headers?: Record<string, string>;
      body?: string | (() => AsyncIterable<Uint8Array>);
    };

export interface TaxiiProxy {
  url: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * Starts an HTTP proxy on 127.0.0.1 in front of `target`, deciding per request with
 * `decide` (given the request number from 1). Every request is recorded.
 */
export async function startProxy(
  target: string,
  decide: (request: URL, number: number) => ProxyAction,
): Promise<TaxiiProxy> {
  const requests: ProxiedRequest[] = [];
  const server: Server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    void handle(incoming, outgoing);
  });
  const handle = async (incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> => {
    const url = new URL(incoming.url ?? '/', 'http://proxy');
    const action = decide(url, requests.length + 1);
    const record: ProxiedRequest = {
      url,
      status: 0,
      ...(incoming.headers.authorization ? { authorization: incoming.headers.authorization } : {}),
    };
    requests.push(record);
    if ('status' in action) {
      record.status = action.status;
      outgoing.writeHead(action.status, { 'Content-Type': TAXII, ...action.headers });
      if (typeof action.body === 'function') {
        // A client that stops reading ends the pipeline with an error, which is expected.
        await pipeline(Readable.from(action.body()), outgoing).catch(() => undefined);
      } else {
        outgoing.end(action.body ?? '{"title":"proxy"}');
      }
      return;
    }
    const response = await fetch(`${target}${url.pathname}${url.search}`, {
      headers: {
        Accept: incoming.headers.accept ?? TAXII,
        ...(incoming.headers.authorization
          ? { Authorization: incoming.headers.authorization }
          : {}),
      },
    });
    record.status = response.status;
    let body = await response.text();
    if (action.rewrite && response.ok) {
      body = JSON.stringify(action.rewrite(JSON.parse(body) as Record<string, unknown>));
    }
    const headers: Record<string, string> = { 'Content-Type': TAXII };
    for (const name of ['x-taxii-date-added-first', 'x-taxii-date-added-last']) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    outgoing.writeHead(response.status, headers);
    outgoing.end(body);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Waits until `check` returns a value other than undefined, polling every 50 ms. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let connectorCount = 0;

/**
 * Creates a connector on a test server as its platform admin, with a unique name unless
 * `definition` gives one, and returns the stored definition, whose secrets are encrypted
 * with the server's key (RunnerDeps.secrets opens them).
 */
export async function createConnector(
  server: TestServer,
  definition: Omit<NewConnector, 'name'> & { name?: string },
): Promise<Connector> {
  const { store } = server.server;
  const admin = (await store.listUsers()).find((user) => user.role === 'platform-admin');
  if (!admin) throw new Error('the test server has no platform admin');
  const service = new ConnectorService(store, secretBoxFrom(server.config), {
    allowPrivateTargets: server.config.connectors.allowPrivateTargets,
  });
  const view = await service.create(
    { userId: admin.id },
    { name: `connector ${++connectorCount}`, ...definition },
  );
  // The service leaves secrets out of what it returns; runs read the stored definition.
  const stored = await store.getDocument('connector', view.connector.id);
  return JSON.parse(stored!.body) as Connector;
}

/**
 * Returns runner dependencies whose sources abort `stop` as they yield a batch, so that a
 * run with `stop.signal` stores its first batch and then stops at the abort.
 */
export function stoppingAfterFirstBatch(deps: RunnerDeps, stop: AbortController): RunnerDeps {
  return {
    ...deps,
    sourceFor: (connector): ConnectorSource => ({
      async *read(context) {
        for await (const batch of deps.sourceFor(connector).read(context)) {
          stop.abort(new Error('test stop'));
          yield batch;
        }
      },
    }),
  };
}
