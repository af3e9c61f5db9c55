/**
 * A child process for the concurrency test of sqlite-store.test.ts: opens the database
 * file, reports "ready", waits for a line on stdin, adds its batches, then prints the
 * date_added values it was given as one JSON array.
 *
 *   node --import tsx concurrent-writer.fixture.ts DB_PATH COLLECTION_ID LABEL BATCHES SIZE
 */
import { once } from 'node:events';
import { setTimeout } from 'node:timers/promises';

import { SqliteStore } from './sqlite-store.ts';

const [path, collectionId, label, batches, size] = process.argv.slice(2);
if (!path || !collectionId || !label || !batches || !size) {
  throw new Error('usage: concurrent-writer.fixture.ts DB_PATH COLLECTION_ID LABEL BATCHES SIZE');
}

const store = new SqliteStore(path);
process.stdout.write('ready\n');
await once(process.stdin, 'data');

const dates: number[] = [];
for (let batch = 0; batch < Number(batches); batch++) {
  const objects = Array.from({ length: Number(size) }, (_, i) => {
    const id = `indicator--${label}-${batch}-${i}`;
    const json = JSON.stringify({ type: 'indicator', id });
    return {
      id,
      type: 'indicator',
      specVersion: '2.1',
      version: '2024-01-01T00:00:00.000Z',
      versionKey: '063839664000.000000000',
      json,
    };
  });
  for (const result of await store.addObjects(collectionId, objects)) dates.push(result.dateAdded);
  // A pause between batches, as between two requests. Without it this process would take
  // the write lock again at once, and SQLite's sleeping busy handler would let the other
  // process wait until this one is done, so the two would not interleave.
  await setTimeout(1);
}
await store.close();
process.stdout.write(`${JSON.stringify(dates)}\n`);
process.stdin.destroy();
