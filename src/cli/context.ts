/**
 * What CLI commands share: the configuration from the global options and an open,
 * migrated store with the default API root in place.
 */
import { bootstrap } from '../bootstrap.ts';
import { loadConfig, type CairnConfig } from '../config/config.ts';
import { CairnError } from '../errors.ts';
import { openStore } from '../store/index.ts';
import type { CollectionRecord, Store } from '../store/store.ts';

export interface GlobalOptions {
  config?: string;
  store?: string;
}

export interface CliContext {
  config: CairnConfig;
  store: Store;
}

export function configFrom(
  options: GlobalOptions,
  overrides: Record<string, unknown> = {},
): CairnConfig {
  return loadConfig({
    ...(options.config ? { file: options.config } : {}),
    overrides: { ...(options.store ? { store: options.store } : {}), ...overrides },
  });
}

/** Opens the store for a command and closes it when the command finishes, even on error. */
export async function withStore<T>(
  options: GlobalOptions,
  run: (context: CliContext) => Promise<T>,
): Promise<T> {
  const config = configFrom(options);
  const store = await openStore(config.store, { migrate: config.migrateOnStart });
  try {
    await bootstrap(store, config, { createAdmin: false });
    return await run({ config, store });
  } finally {
    await store.close();
  }
}

/** Finds a collection by id or alias in an API root, or fails with a message that helps. */
export async function findCollection(
  context: CliContext,
  idOrAlias: string,
  apiRoot?: string,
): Promise<CollectionRecord> {
  const root = apiRoot ?? context.config.taxii.defaultApiRoot;
  const collection = await context.store.getCollection(root, idOrAlias);
  if (!collection) {
    throw new CairnError(
      'not-found',
      `collection ${JSON.stringify(idOrAlias)} not found in API root "${root}": run \`cairn collection list\``,
    );
  }
  return collection;
}
