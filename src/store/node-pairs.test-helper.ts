/**
 * Two stores on one database, as two nodes or processes open it: two connections to a new
 * SQLite file, or two pools on a new PostgreSQL schema. Tests that check what one node's
 * write does to another's run on both.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { openStore } from './index.ts';
import type { TestDatabase } from './postgres/database.test-helper.ts';
import type { Store } from './store.ts';

export interface NodePairBackend {
  name: 'SQLite' | 'PostgreSQL';
  /** Opens the pair; the stores are added to `opened`, for the test to close. */
  open(): Promise<[Store, Store]>;
  /** The reason to skip the backend, or false. */
  skip: string | false;
}

/**
 * Returns the SQLite backend, with files in `directory`, and the PostgreSQL one on
 * `database` (or the reason it is unusable, from createTestDatabase).
 */
export function nodePairBackends(
  directory: string,
  database: TestDatabase | string,
  opened: Store[],
): NodePairBackend[] {
  const open = async (url: string, migrate: boolean): Promise<Store> => {
    const store = await openStore(url, { migrate });
    opened.push(store);
    return store;
  };
  return [
    {
      name: 'SQLite',
      async open() {
        const url = `sqlite:${join(directory, `${randomUUID()}.db`)}`;
        return [await open(url, true), await open(url, true)];
      },
      skip: false,
    },
    {
      name: 'PostgreSQL',
      async open() {
        if (typeof database === 'string') throw new Error(database);
        const url = await database.freshSchema();
        return [await open(url, true), await open(url, false)];
      },
      skip: typeof database === 'string' ? database : false,
    },
  ];
}
