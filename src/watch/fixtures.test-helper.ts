/**
 * A small sharing world on a temporary SQLite store for watch list tests. Organisations
 * alpha and beta share the community Ring, and gamma has a community of its own. Each
 * organisation has an org admin, an analyst and a read-only user.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { issueToken } from '../auth/tokens.ts';
import { bootstrap } from '../bootstrap.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { createSharingServices, type Actor, type SharingServices } from '../sharing/service.ts';
import { openStore } from '../store/index.ts';
import type { TestDatabase } from '../store/postgres/database.test-helper.ts';
import type { Store, UserRecord } from '../store/store.ts';

export interface WatchWorld {
  store: Store;
  /** The store location, for CLI commands run on the same store. */
  storeUrl: string;
  services: SharingServices;
  logger: Logger;
  logs: Array<Record<string, unknown>>;
  platform: Actor;
  /** Actors by `<organisation>-<role>`, each with a token. */
  actors: Record<string, Actor>;
  users: Record<string, UserRecord>;
  tokens: Record<string, string>;
  organisations: Record<string, string>;
  /** Collection ids: `ring` (alpha and beta) and `den` (gamma). */
  collections: Record<string, string>;
  dispose(): Promise<void>;
}

/**
 * Builds the world on a store at `url`, an empty migrated PostgreSQL schema for instance;
 * without one, on a SQLite file in a temporary folder that dispose removes.
 */
export async function makeWatchWorld(url?: string): Promise<WatchWorld> {
  const dir = url === undefined ? mkdtempSync(join(tmpdir(), 'cairn-watch-')) : undefined;
  const storeUrl = url ?? `sqlite:${join(dir!, 'cairn.db')}`;
  const store = await openStore(storeUrl);
  await bootstrap(store, DEFAULT_CONFIG, { createAdmin: true });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const logger = createLogger('info', sink);
  const services = createSharingServices(store);
  const admin = (await store.getUserByName('admin'))!;
  const platform: Actor = { userId: admin.id };
  const world: WatchWorld = {
    store,
    storeUrl,
    services,
    logger,
    logs,
    platform,
    actors: {},
    users: {},
    tokens: {},
    organisations: {},
    collections: {},
    async dispose() {
      await store.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };

  for (const name of ['alpha', 'beta', 'gamma']) {
    const organisation = await services.createOrganisation(platform, { name });
    world.organisations[name] = organisation.id;
    for (const role of ['org-admin', 'analyst', 'read-only'] as const) {
      const userName = `${name}-${role}`;
      const created = await services.createUser(platform, organisation.id, {
        name: userName,
        role,
      });
      const user = (await store.getUser(created.id))!;
      const issued = await issueToken(store, user);
      world.users[userName] = user;
      world.tokens[userName] = issued.token;
      world.actors[userName] = { userId: user.id, tokenId: issued.record.id };
    }
  }

  const ring = await services.createCommunity(world.actors['alpha-org-admin']!, {
    name: 'Ring',
    defaultTlp: 'green',
  });
  const invitation = await services.invite(
    world.actors['alpha-org-admin']!,
    ring.id,
    world.organisations.beta!,
  );
  await services.acceptInvitation(world.actors['beta-org-admin']!, invitation.id);
  const ringCollection = await services.createCollection(
    world.actors['alpha-org-admin']!,
    ring.id,
    {
      title: 'Ring feed',
      alias: 'ring',
    },
  );
  world.collections.ring = ringCollection.id;

  const den = await services.createCommunity(world.actors['gamma-org-admin']!, {
    name: 'Den',
    defaultTlp: 'amber',
  });
  const denCollection = await services.createCollection(world.actors['gamma-org-admin']!, den.id, {
    title: 'Den feed',
    alias: 'den',
  });
  world.collections.den = denCollection.id;
  return world;
}

/** One store a test builds its worlds on, with the reason to skip it or false. */
export interface WatchWorldBackend {
  name: 'SQLite' | 'PostgreSQL';
  make(): Promise<WatchWorld>;
  skip: string | false;
}

/**
 * Returns the SQLite backend and the PostgreSQL one on `database`, a new schema per world,
 * or the reason PostgreSQL is unusable as createTestDatabase returned it.
 */
export function watchWorldBackends(database: TestDatabase | string): WatchWorldBackend[] {
  return [
    { name: 'SQLite', make: () => makeWatchWorld(), skip: false },
    {
      name: 'PostgreSQL',
      async make() {
        if (typeof database === 'string') throw new Error(database);
        return makeWatchWorld(await database.freshSchema());
      },
      skip: typeof database === 'string' ? database : false,
    },
  ];
}
