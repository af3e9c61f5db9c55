/**
 * WAL bytes per object of SQLite ingest, split by table and index, and store CPU time per
 * 1,000 objects.
 *
 *   node --import tsx bench/sqlite-wal.ts [page-size=4096] [prefill=200000] [batches=20]
 *
 * Creates a database with the given page size and fills one collection with `prefill` real
 * indicators under new ids, in addObjects batches of 1,000 as TAXII POST stores an envelope.
 * It then checkpoints, turns automatic checkpoints off and times `batches` more batches, each
 * after the held-object check that the sharing step runs. Each frame of the WAL that those
 * batches wrote is attributed to its table or index through the dbstat virtual table. A page
 * rewritten by several commits counts once per commit, as SQLite writes it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { validateObject } from '../src/stix/index.ts';
import { SqliteStore } from '../src/store/sqlite/index.ts';
import type { PreparedObject } from '../src/store/store.ts';
import { freshCopy, loadAverage, machine, realIndicators } from './lib.ts';

const pageSize = Number(process.argv[2] ?? 4096);
const prefill = Number(process.argv[3] ?? 200_000);
const batches = Number(process.argv[4] ?? 20);
const BATCH = 1000;
/** Sizes of a WAL frame header and of the WAL file header, in bytes (SQLite file format). */
const FRAME_HEADER = 24;
const WAL_HEADER = 32;

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
const path = join(dir, 'bench.db');
// page_size takes effect only before the first page is written, so it is set on a new file.
const raw = new Database(path);
raw.pragma(`page_size = ${pageSize}`);
raw.pragma('journal_mode = WAL');
raw.close();

const store = new SqliteStore(path);
await store.migrate();
await store.createApiRoot({ name: 'default', title: 'bench', maxContentLength: 16 * 2 ** 20 });
const collection = await store.createCollection({
  apiRoot: 'default',
  title: 'bench',
  alias: 'bench',
});
const templates = realIndicators();

function batch(): PreparedObject[] {
  const objects: PreparedObject[] = [];
  for (let i = 0; i < BATCH; i += 1) {
    const result = validateObject(freshCopy(templates[i % templates.length]!));
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    objects.push(result.prepared);
  }
  return objects;
}

const db = store.database;
for (let done = 0; done < prefill; done += BATCH) await store.addObjects(collection.id, batch());
db.pragma('wal_checkpoint(TRUNCATE)');
db.pragma('wal_autocheckpoint = 0');

const prepared = Array.from({ length: batches }, batch);
const walPath = `${path}-wal`;
const walBefore = existsSync(walPath) ? statSync(walPath).size : 0;
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (const objects of prepared) {
  await store.findHeldRestricted(
    objects.map((object) => object.id),
    'no-community',
    'no-organisation',
  );
  await store.addObjects(collection.id, objects);
}
const wallMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const walBytes = statSync(walPath).size - walBefore;

const treeOfPage = new Map<number, string>();
const pages = db.prepare('SELECT name, pageno FROM dbstat').all() as Array<{
  name: string;
  pageno: number;
}>;
for (const { name, pageno } of pages) treeOfPage.set(pageno, name);
const wal = readFileSync(walPath);
const framesByTree = new Map<string, number>();
for (let offset = WAL_HEADER; offset + FRAME_HEADER + pageSize <= wal.length;) {
  const tree = treeOfPage.get(wal.readUInt32BE(offset)) ?? 'freelist or other';
  framesByTree.set(tree, (framesByTree.get(tree) ?? 0) + 1);
  offset += FRAME_HEADER + pageSize;
}
const objects = batches * BATCH;
const walBytesPerObjectByTree = Object.fromEntries(
  [...framesByTree]
    .sort((a, b) => b[1] - a[1])
    .map(([tree, frames]) => [tree, Math.round((frames * (FRAME_HEADER + pageSize)) / objects)]),
);

await store.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    benchmark: 'sqlite-wal',
    machine: machine(),
    pageSize,
    prefill,
    objects,
    walBytesPerObject: Math.round(walBytes / objects),
    cpuMsPerThousand: Number(((cpu.user + cpu.system) / 1000 / batches).toFixed(1)),
    wallMsPerThousand: Number((wallMs / batches).toFixed(1)),
    walBytesPerObjectByTree,
    loadAverage: loadAverage(),
  }),
);
