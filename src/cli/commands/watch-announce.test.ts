/**
 * `cairn watch hunt` as a child process with NATS configured, on a SQLite and on a
 * PostgreSQL store. The alerts it raises are announced on the alert subject, as a server
 * announces its own. The tests use the real NATS server at 127.0.0.1:4222 (CAIRN_TEST_NATS)
 * under a subject prefix of their own. With NATS unreachable the hunt still finishes and says so.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { connect, type NatsConnection } from '@nats-io/transport-node';

import { natsNames } from '../../cluster/index.ts';
import { natsAvailable, TEST_NATS_URL } from '../../cluster/nats.test-helper.ts';
import { createTestDatabase } from '../../store/postgres/database.test-helper.ts';
import { deleteStream, parseAlertAnnouncement } from '../../events/nats-notifier.ts';
import { runChild, type ChildResult } from '../../testing/child.ts';
import { indicator } from '../../testing/stix.ts';
import { WatchService } from '../../watch/service.ts';
import { watchWorldBackends, type WatchWorld } from '../../watch/fixtures.test-helper.ts';

const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD_TIMEOUT_MS = 120_000;
const skip = await natsAvailable();

/** Returns the URL of a local port that nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null);
  assert.ok(typeof address === 'object');
  await new Promise((resolve) => server.close(resolve));
  return `nats://127.0.0.1:${address.port}`;
}

const database = await createTestDatabase();

after(async () => {
  if (typeof database !== 'string') await database.drop();
});

const backends = watchWorldBackends(database);

for (const { name, make: makeWorld, skip: skipBackend } of backends) {
  describe(
    `watch hunt announcements on ${name}`,
    { skip: skip || skipBackend, timeout: 300_000 },
    () => {
      const prefix = `cairn-test-${randomBytes(6).toString('hex')}`;
      const names = natsNames(prefix);
      let world: WatchWorld;
      let listener: NatsConnection;
      const heard: string[] = [];

      function cairn(args: string[], natsUrl: string): Promise<ChildResult> {
        const argv = ['--import', 'tsx', 'src/cli/main.ts', '--store', world.storeUrl, ...args];
        return runChild(process.execPath, argv, {
          cwd: REPOSITORY,
          env: { ...process.env, CAIRN_NATS_URL: natsUrl, CAIRN_NATS_PREFIX: prefix },
          timeoutMs: CHILD_TIMEOUT_MS,
        });
      }

      /** Creates a list of the value for alpha-analyst, without running its hunt. */
      async function newList(value: string, subdomains = false): Promise<string> {
        const service = new WatchService(world.store);
        const created = await service.createList(world.actors['alpha-analyst']!, {
          name: `announce ${randomBytes(4).toString('hex')}`,
          entries: [{ value, subdomains }],
        });
        return created.list.id;
      }

      before(async () => {
        world = await makeWorld();
        const result = await world.services.share(
          world.actors['alpha-analyst']!,
          world.collections.ring!,
          [
            indicator({ pattern: "[domain-name:value = 'announce.example']" }),
            indicator({ pattern: "[domain-name:value = 'www.announce.example']" }),
          ],
        );
        assert.equal(result.failures.length, 0, JSON.stringify(result.failures));
        listener = await connect({ servers: TEST_NATS_URL });
        listener.subscribe(names.alertSubject, {
          callback: (error, message) => {
            if (error) return;
            const announcement = parseAlertAnnouncement(message.data);
            if (announcement) heard.push(announcement.watchlistId);
          },
        });
        await listener.flush();
      });

      after(async () => {
        await listener?.close();
        await deleteStream(TEST_NATS_URL, names.stream);
        await world?.dispose();
      });

      it('announces each alert of the hunt', async () => {
        const listId = await newList('announce.example', true);
        const result = await cairn(
          ['watch', 'hunt', listId, '--quiet', '--as', 'alpha-analyst'],
          TEST_NATS_URL,
        );
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /done, .* 2 alerts/);
        // The child flushed before it exited; allow the server a moment to pass them on.
        for (let wait = 0; wait < 100 && heard.length < 2; wait++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(heard, [listId, listId], 'one announcement per alert, naming the list');
      });

      it('finishes when NATS is unreachable', async () => {
        const before = heard.length;
        const listId = await newList('www.announce.example');
        const started = Date.now();
        const result = await cairn(
          ['watch', 'hunt', listId, '--quiet', '--as', 'alpha-analyst'],
          await closedPort(),
        );
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /done, .* 1 alerts/);
        assert.match(result.stderr, /NATS did not respond in time/);
        assert.ok(Date.now() - started < 60_000, 'the hunt does not wait for NATS for long');
        assert.equal(heard.length, before, 'nothing reached the real server');
      });
    },
  );
}
