/**
 * Measures the SQLite store: addObjects throughput for batches of indicators, and the time
 * of one page of queryObjects (with JSON) on a small and on a large collection.
 *
 *   npx tsx bench/store-sqlite.ts [--objects 1000000] [--batch 1000] [--pages 200] [--keep]
 *
 * --objects must be at least 10,000 plus 100 batches for the large-collection figures.
 *
 * The database is a temporary file, deleted at the end unless --keep is given. Figures
 * depend on the disk and the CPU, so compare runs on one machine with each other.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { timestampKey } from '../src/stix/timestamp.ts';
import { SqliteStore } from '../src/store/sqlite/index.ts';
import type { PreparedObject, VersionQuery } from '../src/store/store.ts';

const { values: options } = parseArgs({
  options: {
    objects: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    pages: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
  },
});
const totalObjects = Number(options.objects);
const batchSize = Number(options.batch);
const pageSamples = Number(options.pages);
const SMALL_COLLECTION = 10_000;

/** Builds a STIX 2.1 indicator of about 600 bytes, shaped like those of public IP feeds. */
function makeIndicator(n: number): PreparedObject {
  const id = `indicator--${randomUUID()}`;
  const modified = new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
  const address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const object = {
    type: 'indicator',
    spec_version: '2.1',
    id,
    created: modified,
    modified,
    name: `Botnet command-and-control server ${address}`,
    description: 'An address seen serving command-and-control traffic for a banking trojan.',
    indicator_types: ['malicious-activity'],
    pattern: `[ipv4-addr:value = '${address}']`,
    pattern_type: 'stix',
    valid_from: modified,
    labels: ['botnet', 'c2'],
    confidence: 80,
    created_by_ref: 'identity--f431f809-377b-45e0-aa1c-6a4751cae5ff',
    object_marking_refs: ['marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9'],
  };
  return {
    id,
    type: 'indicator',
    specVersion: '2.1',
    version: modified,
    versionKey: timestampKey(modified)!,
    json: JSON.stringify(object),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function formatMs(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

/**
 * Fills the collection from `from` up to `target` objects. Returns the versions added per
 * second of wall time and the CPU time of this process per version, which other processes
 * on the machine disturb less.
 */
async function fill(
  store: SqliteStore,
  collectionId: string,
  from: number,
  target: number,
): Promise<string> {
  let addMs = 0;
  let cpuMicros = 0;
  for (let n = from; n < target; n += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, target - n) }, (_, i) =>
      makeIndicator(n + i),
    );
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await store.addObjects(collectionId, batch);
    addMs += performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    cpuMicros += cpu.user + cpu.system;
  }
  const count = target - from;
  const rate = Math.round((count / addMs) * 1000);
  return `${rate} versions/s, CPU ${(cpuMicros / count).toFixed(1)} µs/version`;
}

/** Page queries timed on each collection size: the TAXII defaults and common filters. */
const PAGE_QUERIES: [string, Omit<VersionQuery, 'collectionId' | 'limit' | 'addedAfter'>][] = [
  ['latest', {}],
  ['all versions', { versions: { all: true } }],
  ['first,last', { versions: { first: true, last: true, exact: [] } }],
  ['type=indicator', { types: ['indicator'] }],
];

/**
 * Times pages of 1,000 objects with JSON, starting at random points of the collection (the
 * first sample starts at its beginning). Returns one line per query.
 */
async function timePages(store: SqliteStore, collectionId: string): Promise<string[]> {
  // The checkpoint syncs the file, so the kernel is not still writing back the fill while
  // the pages are timed.
  store.database.pragma('wal_checkpoint(TRUNCATE)');
  const all = await store.queryManifest({
    collectionId,
    limit: 1_000_000_000,
    versions: { all: true },
  });
  const dates = all.items.map((item) => item.dateAdded);
  const lines: string[] = [];
  for (const [name, filters] of PAGE_QUERIES) {
    const timings: number[] = [];
    for (let i = 0; i < pageSamples; i++) {
      const start = Math.floor(Math.random() * (dates.length - 1000));
      const query: VersionQuery = {
        collectionId,
        limit: 1000,
        addedAfter: i === 0 ? undefined : dates[start],
        ...filters,
      };
      const started = performance.now();
      const page = await store.queryObjects(query);
      timings.push(performance.now() - started);
      if (page.items.length !== 1000) throw new Error(`page of ${page.items.length} items`);
    }
    timings.sort((a, b) => a - b);
    const p50 = formatMs(percentile(timings, 50));
    const p99 = formatMs(percentile(timings, 99));
    lines.push(`  ${name}: p50 ${p50}, p99 ${p99}, max ${formatMs(timings.at(-1)!)}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
  const path = join(directory, 'bench.db');
  const store = new SqliteStore(path);
  await store.migrate();
  await store.createApiRoot({ name: 'bench', title: 'Bench', maxContentLength: 1 << 24 });
  const { id: collectionId } = await store.createCollection({ apiRoot: 'bench', title: 'B' });

  console.log(`SQLite store, ${path}, batches of ${batchSize} indicators`);
  const small = Math.min(SMALL_COLLECTION, totalObjects);
  console.log(`add 0 -> ${small}: ${await fill(store, collectionId, 0, small)}`);
  console.log(`pages of 1,000 with JSON at ${small} objects (${pageSamples} each):`);
  console.log((await timePages(store, collectionId)).join('\n'));

  const tail = 100 * batchSize;
  if (totalObjects >= small + tail) {
    const middle = totalObjects - tail;
    console.log(`add ${small} -> ${middle}: ${await fill(store, collectionId, small, middle)}`);
    const tailRate = await fill(store, collectionId, middle, totalObjects);
    console.log(`add ${middle} -> ${totalObjects}: ${tailRate}`);
    console.log(`pages of 1,000 with JSON at ${totalObjects} objects (${pageSamples} each):`);
    console.log((await timePages(store, collectionId)).join('\n'));
  }

  // Fresh random ids: added once, then timed as duplicates.
  const duplicates = Array.from({ length: batchSize }, (_, i) => makeIndicator(i));
  await store.addObjects(collectionId, duplicates);
  const started = performance.now();
  await store.addObjects(collectionId, duplicates);
  const duplicateRate = (batchSize / (performance.now() - started)) * 1000;
  console.log(`re-add a batch of duplicates: ${Math.round(duplicateRate)} versions/s`);

  console.log(`file size ${(statSync(path).size / 1e6).toFixed(0)} MB`);
  await store.close();
  if (!options.keep) rmSync(directory, { recursive: true, force: true });
}

await main();
