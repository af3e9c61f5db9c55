/**
 * Latency of one TAXII page of 1,000 objects, in a small and in a large collection.
 *
 *   npm run build && node --import tsx bench/taxii-page.ts [large=1000000] [small=10000]
 *
 * Fills two collections through the store (real indicators under new ids), starts the
 * compiled server on that database, then requests 300 pages of `limit=1000` at random
 * positions (`added_after` taken from the manifest) in each, and prints p50 and p99.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateObject } from '../src/stix/index.ts';
import { microsToTaxii } from '../src/stix/timestamp.ts';
import { openStore } from '../src/store/index.ts';
import type { PreparedObject, Store } from '../src/store/store.ts';
import { freshCopy, machine, percentile, realIndicators, startServerProcess } from './lib.ts';

const large = Number(process.argv[2] ?? 1_000_000);
const small = Number(process.argv[3] ?? 10_000);
const REQUESTS = 300;
const PAGE = 1000;

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
// CAIRN_BENCH_STORE names another store, such as a PostgreSQL database (taxii-page-postgres.ts).
const location = process.env.CAIRN_BENCH_STORE ?? `sqlite:${join(dir, 'bench.db')}`;
const templates = realIndicators();

async function fill(
  store: Store,
  alias: string,
  count: number,
): Promise<{ id: string; positions: number[] }> {
  const collection = await store.createCollection({ apiRoot: 'default', title: alias, alias });
  const positions: number[] = [];
  for (let done = 0; done < count; done += PAGE) {
    const batch: PreparedObject[] = [];
    for (let i = 0; i < Math.min(PAGE, count - done); i += 1) {
      const result = validateObject(freshCopy(templates[(done + i) % templates.length]!));
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      batch.push(result.prepared);
    }
    const added = await store.addObjects(collection.id, batch);
    positions.push(added[0]!.dateAdded - 1);
    if (done % 100_000 === 0) process.stderr.write(`${alias}: ${done}/${count}\n`);
  }
  return { id: collection.id, positions };
}

const store = await openStore(location);
await store.migrate();
await store.createApiRoot({ name: 'default', title: 'bench', maxContentLength: 16 * 2 ** 20 });
const fillStarted = performance.now();
const collections = {
  small: await fill(store, 'small', small),
  large: await fill(store, 'large', large),
};
const fillSeconds = (performance.now() - fillStarted) / 1000;
await store.close();

const server = await startServerProcess(location);
// The admin token is printed only when the server creates the admin user, which it does
// here because the store was filled without users.
const headers = {
  Authorization: `Bearer ${server.token}`,
  Accept: 'application/taxii+json;version=2.1',
};
const results: Record<string, unknown> = {};
for (const [name, { id, positions }] of Object.entries(collections)) {
  const times: number[] = [];
  // Positions near the end give short pages; keep only starts with a full page after them.
  const starts = positions.slice(0, Math.max(1, positions.length - 1));
  for (let i = 0; i < REQUESTS + 20; i += 1) {
    const after = microsToTaxii(starts[Math.floor(Math.random() * starts.length)]!);
    const sent = performance.now();
    const response = await fetch(
      `${server.url}/default/collections/${id}/objects/?limit=${PAGE}&added_after=${after}`,
      { headers },
    );
    const body = (await response.json()) as { objects?: unknown[] };
    const elapsed = performance.now() - sent;
    if (body.objects?.length !== PAGE) throw new Error(`short page: ${body.objects?.length}`);
    if (i >= 20) times.push(elapsed); // the first 20 warm the caches
  }
  times.sort((a, b) => a - b);
  results[name] = {
    objects: name === 'small' ? small : large,
    p50ms: Math.round(percentile(times, 50) * 10) / 10,
    p99ms: Math.round(percentile(times, 99) * 10) / 10,
  };
}
await server.stop();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    benchmark: 'taxii-page-1000',
    store: location.split(':')[0],
    machine: machine(),
    fillSeconds: Math.round(fillSeconds),
    ...results,
  }),
);
