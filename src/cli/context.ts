/**
 * What CLI commands share: the configuration from the global options and an open,
 * migrated store with the default API root in place.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { bootstrap } from '../bootstrap.ts';
import { DEFAULT_CONFIG, loadConfig, type CairnConfig } from '../config/config.ts';
import { CairnError } from '../errors.ts';
import { openStore, sqlitePath } from '../store/index.ts';
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
  rejectMissingDefaultStore(config.store);
  const store = await openStore(config.store, { migrate: config.migrateOnStart });
  try {
    await bootstrap(store, config, { createAdmin: false });
    return await run({ config, store });
  } finally {
    await store.close();
  }
}

/**
 * Throws when the store is the default SQLite file and that file is missing. The default path
 * is relative to the working directory, so a command run from another folder would otherwise
 * create an empty store there and then fail because it has no users or collections. A store
 * named with --store, CAIRN_STORE or a config file is opened, and created, as named.
 */
function rejectMissingDefaultStore(store: string): void {
  if (store !== DEFAULT_CONFIG.store) return;
  const path = resolve(sqlitePath(store));
  if (existsSync(path)) return;
  throw new CairnError(
    'not-found',
    `store not found: ${path} (the default, relative to the working directory). Run the ` +
      'command from the folder where Cairn was started, or name the store with --store or ' +
      'CAIRN_STORE',
  );
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
