/**
 * Test harness: a real Cairn server on a free loopback port over a temporary SQLite file,
 * with helpers to call it as a TAXII client would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DEFAULT_CONFIG, type CairnConfig } from '../config/config.ts';
import { createLogger } from '../log/logger.ts';
import { startServer, type RunningServer } from '../server.ts';
import { TAXII_MEDIA_TYPE } from '../taxii/media.ts';

export const TAXII = TAXII_MEDIA_TYPE;

/** The connector secret key of test servers, unless a test sets another or none. */
export const TEST_SECRET_KEY = '5e'.repeat(32);

export interface TestServer {
  server: RunningServer;
  url: string;
  /** Base URL of the default API root, with a trailing slash. */
  root: string;
  adminToken: string;
  dataDir: string;
  config: CairnConfig;
  /** Log lines the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Stops the server; the data directory stays until `dispose`. */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

export interface TestServerOptions {
  /** Reuse the data directory of an earlier server (for restart tests). */
  dataDir?: string;
  taxii?: Partial<CairnConfig['taxii']>;
  connectors?: Partial<CairnConfig['connectors']>;
  webhooks?: Partial<CairnConfig['webhooks']>;
  /** A store URL in place of the SQLite file in the data directory, such as postgres://…. */
  store?: string;
  nats?: Partial<CairnConfig['nats']>;
  events?: Partial<CairnConfig['events']>;
  streams?: Partial<CairnConfig['streams']>;
  /** Listen on this port, such as the port of a stopped server that restarts; else a free one. */
  port?: number;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'cairn-test-'));
  const config: CairnConfig = {
    ...DEFAULT_CONFIG,
    port: options.port ?? 0,
    store: options.store ?? `sqlite:${join(dataDir, 'cairn.db')}`,
    log: { level: 'info' },
    taxii: { ...DEFAULT_CONFIG.taxii, ...options.taxii },
    connectors: { ...DEFAULT_CONFIG.connectors, secretKey: TEST_SECRET_KEY, ...options.connectors },
    webhooks: { ...DEFAULT_CONFIG.webhooks, ...options.webhooks },
    nats: { ...DEFAULT_CONFIG.nats, ...options.nats },
    events: { ...DEFAULT_CONFIG.events, ...options.events },
    streams: { ...DEFAULT_CONFIG.streams, ...options.streams },
  };
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const server = await startServer(config, createLogger('info', sink));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.close();
  };
  return {
    server,
    url: server.url,
    root: `${server.url}/${config.taxii.defaultApiRoot}/`,
    adminToken: server.setup.adminToken?.token ?? '',
    dataDir,
    config,
    logs,
    stop,
    async dispose() {
      await stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CallOptions {
  method?: string;
  token?: string | null;
  accept?: string | null;
  contentType?: string | null;
  body?: string | Buffer | Uint8Array | object;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is empty or not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Calls the server with TAXII headers by default; `token: null` sends no credentials. */
export async function call(
  server: TestServer,
  url: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? server.adminToken : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const accept = options.accept === undefined ? TAXII : options.accept;
  if (accept !== null) headers.Accept = accept;
  let body: string | Uint8Array | undefined;
  if (options.body !== undefined) {
    body =
      typeof options.body === 'string' || options.body instanceof Uint8Array
        ? options.body
        : JSON.stringify(options.body);
    const contentType = options.contentType === undefined ? TAXII : options.contentType;
    if (contentType !== null) headers['Content-Type'] = contentType;
  }
  const target = url.startsWith('http') ? url : `${server.root}${url}`;
  const response = await fetch(target, {
    method: options.method ?? 'GET',
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}
