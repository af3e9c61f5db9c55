/**
 * Starts the Cairn HTTP server: configuration, store, first-start setup, the TAXII
 * application, and a clean stop on SIGINT and SIGTERM.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { bootstrap, type BootstrapResult } from './bootstrap.ts';
import type { CairnConfig } from './config/config.ts';
import type { Logger } from './log/logger.ts';
import { nowMicros } from './stix/timestamp.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/store.ts';
import { createTaxiiApp } from './taxii/app.ts';
import { CursorSigner } from './taxii/cursor.ts';

const STATUS_PURGE_INTERVAL_MS = 10 * 60 * 1000;

export interface RunningServer {
  url: string;
  port: number;
  store: Store;
  setup: BootstrapResult;
  close(): Promise<void>;
}

export async function startServer(config: CairnConfig, logger: Logger): Promise<RunningServer> {
  const store = await openStore(config.store);
  await store.migrate();
  const setup = await bootstrap(store, config, { createAdmin: true });
  const app = createTaxiiApp({ store, config, logger, signer: new CursorSigner(setup.signingKey) });

  const server: ServerType = await new Promise((resolve, reject) => {
    const created = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () =>
      resolve(created),
    );
    created.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  const purge = setInterval(() => {
    store
      .purgeStatuses(nowMicros())
      .then((count: number) => count > 0 && logger.info({ count }, 'expired statuses purged'))
      .catch((error: unknown) => logger.error({ err: error }, 'status purge failed'));
  }, STATUS_PURGE_INTERVAL_MS);
  purge.unref();

  logger.info({ url, store: describeStore(config.store) }, 'server started');
  return {
    url,
    port,
    store,
    setup,
    async close() {
      clearInterval(purge);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open; end them.
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      await store.close();
      logger.info('server stopped');
    },
  };
}

/** The store location without credentials, for logs. */
export function describeStore(location: string): string {
  return location.replace(/\/\/[^@/]*@/, '//');
}
