/**
 * A child process for the claim test of sqlite-store.test.ts. It opens the database file,
 * prints "ready" and waits for a line on stdin. Then it claims documents of the kind in
 * small batches until none is due, and prints the ids it claimed as one JSON array.
 *
 *   node --import tsx claim-worker.fixture.ts DB_PATH KIND
 */
import { once } from 'node:events';
import { setTimeout } from 'node:timers/promises';

import { SqliteStore } from './sqlite-store.ts';

const [path, kind] = process.argv.slice(2);
if (!path || !kind) throw new Error('usage: claim-worker.fixture.ts DB_PATH KIND');

const store = new SqliteStore(path);
process.stdout.write('ready\n');
await once(process.stdin, 'data');

const claimed: string[] = [];
for (;;) {
  const batch = await store.claimDocuments(kind, 1_000, Number.MAX_SAFE_INTEGER, 3);
  if (batch.length === 0) break;
  claimed.push(...batch.map((document) => document.id));
  // Pause between claims, as a worker does while it sends, so both processes interleave.
  await setTimeout(1);
}
await store.close();
process.stdout.write(`${JSON.stringify(claimed)}\n`);
process.stdin.destroy();
