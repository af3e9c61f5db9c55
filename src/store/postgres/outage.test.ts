/**
 * A Cairn server on PostgreSQL through a TCP proxy that the test cuts and restores, to see
 * that requests fail with 503 while the database is unreachable and succeed again after,
 * without a restart.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';

import { DEFAULT_CONFIG, type CairnConfig } from '../../config/config.ts';
import { createLogger } from '../../log/logger.ts';
import { startServer, type RunningServer } from '../../server.ts';
import { createTestDatabase, databaseUrl, ADMIN_URL } from './database.test-helper.ts';

const database = await createTestDatabase();
const skip = typeof database === 'string' ? database : false;

/** A loopback TCP proxy to the PostgreSQL server that can be cut and restored. */
class Proxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const target = new URL(ADMIN_URL);
    const server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops accepting connections and resets every open one. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('PostgreSQL outage', { skip }, () => {
  const proxy = new Proxy();
  const logs: Array<Record<string, unknown>> = [];
  let server: RunningServer;
  let headers: Record<string, string>;

  before(async () => {
    if (typeof database === 'string') return;
    await proxy.start();
    const schemaUrl = new URL(await database.freshSchema());
    const url = new URL(databaseUrl(ADMIN_URL, database.name));
    url.port = String(proxy.port);
    url.search = schemaUrl.search;
    const config: CairnConfig = { ...DEFAULT_CONFIG, port: 0, store: url.toString() };
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    server = await startServer(config, createLogger('info', sink));
    headers = {
      Authorization: `Bearer ${server.setup.adminToken?.token}`,
      Accept: 'application/taxii+json;version=2.1',
    };
  });

  after(async () => {
    await server?.close();
    await proxy.cut();
    if (typeof database !== 'string') await database.drop();
  });

  async function get(
    path: string,
  ): Promise<{ status: number; body: unknown; type: string; retryAfter: string | null }> {
    const response = await fetch(`${server.url}${path}`, {
      headers,
      signal: AbortSignal.timeout(15_000),
    });
    return {
      status: response.status,
      body: await response.json(),
      type: response.headers.get('content-type') ?? '',
      retryAfter: response.headers.get('retry-after'),
    };
  }

  test('503 while cut, 200 after', { timeout: 60_000 }, async () => {
    assert.equal((await get('/default/collections/')).status, 200);
    assert.equal((await get('/api/v1/organisations')).status, 200);

    await proxy.cut();
    const taxii = await get('/default/collections/');
    assert.equal(taxii.status, 503);
    assert.match(taxii.type, /^application\/taxii\+json;version=2\.1/);
    assert.equal((taxii.body as { error_code: string }).error_code, 'unavailable');
    assert.equal(taxii.retryAfter, '5');
    assert.doesNotMatch(JSON.stringify(taxii.body), /127\.0\.0\.1|cairn_test/);
    const api = await get('/api/v1/organisations');
    assert.equal(api.status, 503);
    assert.equal((api.body as { error: { code: string } }).error.code, 'unavailable');
    assert.ok(
      logs.some((line) => line.msg === 'store unavailable'),
      'the outage is logged',
    );

    await proxy.start();
    assert.equal((await get('/default/collections/')).status, 200);
    assert.equal((await get('/api/v1/organisations')).status, 200);
  });
});
