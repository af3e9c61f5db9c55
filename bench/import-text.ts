/**
 * Import speed of converted formats into SQLite.
 *
 *   node --import tsx bench/import-text.ts text        # plain-text lists
 *   node --import tsx bench/import-text.ts text-store  # storage alone, and a bare shape
 *   node --import tsx bench/import-text.ts misp-feed   # the Infoblox MISP feed
 *
 * `text` feeds IPsum and every Maltrail trail (about 241,000 lines) as one stream. It
 * measures conversion alone (lines to STIX objects), then the import into a fresh SQLite
 * store three times. The first two take the bulk path of `cairn import --format text`,
 * with an indicator per line and with SCOs only. The third stores an indicator per line
 * through the full validation that a TAXII POST gets. The goal is 200,000 lines per
 * second into SQLite.
 *
 * `text-store` separates storage from conversion on the same lines. It converts them all
 * first, then times storing the prepared rows through the bulk path alone. That is the
 * upper bound of the current storage shape: an SCO and an indicator per line, each a
 * version row, a collection entry and an event. Then it times bare shapes. Each is one
 * compact row per line (value, kind, source, first seen, with or without an id) in a
 * WITHOUT ROWID table with one index on the value. Rows are written with a prepared INSERT
 * in transactions of 5,000 rows,
 * and the normalisation of the lines alone, which is all such a shape needs of them.
 *
 * `misp-feed` imports the Infoblox MISP feed (41 event files, about 61,000 attributes)
 * into a fresh store, and prints the time and the peak resident set of the process (run
 * each mode in its own process, so the peak is that of one import).
 *
 * Rates are given per wall-clock second and per CPU second of this process: on a shared
 * machine the first includes time spent waiting for a core.
 */
import {
  createReadStream,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConversionInput } from '../src/ingest/formats/index.ts';
import { convertInWorker } from '../src/ingest/formats/threaded.ts';
import { LineReader } from '../src/ingest/formats/lines.ts';
import { lineIndicator } from '../src/ingest/formats/text.ts';
import { classify } from '../src/normalise/index.ts';
import { type ConvertedRow, submitConvertedRows, toConvertedRow } from '../src/ingest/converted.ts';
import Database from 'better-sqlite3';
import { importConversion, importConverted } from '../src/ingest/import.ts';
import { openStore } from '../src/store/index.ts';
import { dataPath } from '../src/testing/data.ts';
import { machine } from './lib.ts';

const mode = process.argv[2] ?? 'text';

function listFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.txt'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

const TEXT_FILES = [dataPath('ipsum/ipsum.txt'), ...listFiles(dataPath('maltrail-trails/trails'))];

async function* concatenated(files: string[]): AsyncGenerator<Uint8Array> {
  for (const file of files) {
    for await (const chunk of createReadStream(file)) yield chunk as Buffer;
    yield Buffer.from('\n');
  }
}

interface Timing {
  seconds: number;
  /** CPU time of the whole process: every thread, the conversion worker included. */
  cpuSeconds: number;
  /** CPU time of the main thread alone, which stores. */
  mainCpuSeconds: number;
}

/**
 * Returns the CPU time of this process's main thread so far, in seconds, from
 * /proc/self/task (Linux), counted in clock ticks of 1/100 s as lib.ts cpuSeconds does.
 * Node 20 has no process.threadCpuUsage.
 */
function mainThreadCpuSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T } & Timing> {
  const cpu = process.cpuUsage();
  const mainCpu = mainThreadCpuSeconds();
  const started = performance.now();
  const result = await work();
  const used = process.cpuUsage(cpu);
  return {
    result,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    mainCpuSeconds: mainThreadCpuSeconds() - mainCpu,
  };
}

function rates(count: number, unit: string, timing: Timing): string {
  const wall = Math.round(count / timing.seconds).toLocaleString('en');
  const cpu = Math.round(count / timing.cpuSeconds).toLocaleString('en');
  const main = Math.round(count / timing.mainCpuSeconds).toLocaleString('en');
  return (
    `${wall} ${unit}/s (wall clock, ${timing.seconds.toFixed(1)} s), ${cpu} ${unit} per CPU ` +
    `second, ${main} per main-thread CPU second (load ${loadavg()[0]!.toFixed(1)})`
  );
}

async function withStore<T>(
  use: (store: Awaited<ReturnType<typeof openStore>>, collectionId: string) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-import-'));
  const store = await openStore(`sqlite:${join(dir, 'bench.db')}`);
  try {
    await store.createApiRoot({ name: 'default', title: 'Bench', maxContentLength: 10_000_000 });
    const collection = await store.createCollection({
      apiRoot: 'default',
      title: 'Bench',
      alias: 'default',
    });
    return await use(store, collection.id);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchText(): Promise<void> {
  const options = { source: 'bench', created: '2024-05-01T00:00:00.000Z' };
  const input = (): ConversionInput => ({ stream: concatenated(TEXT_FILES) });

  const conversion = await timed(async () => {
    // Read as the import reads them: by batch when the converter gives batches.
    const running = convert('text', input(), options);
    let objects = 0;
    if (running.batches) for await (const batch of running.batches) objects += batch.length;
    else for await (const _object of running.objects) objects++;
    return { objects, lines: running.report.summary().records };
  });
  const lines = conversion.result.lines;
  console.log(
    `${TEXT_FILES.length} files, ${lines} indicator lines, ${conversion.result.objects} objects`,
  );
  console.log(`conversion only: ${rates(lines, 'lines', conversion)}`);

  const threaded = await timed(async () => {
    // The worker also prepares each object for the store (its JSON and version key).
    const running = convertInWorker('text', input(), options);
    let rows = 0;
    for await (const batch of running.rows) rows += batch.length;
    return rows;
  });
  console.log(
    `conversion only, in the worker, rows received by the main thread: ${rates(lines, 'lines', threaded)}`,
  );

  type Path = 'worker' | 'bulk' | 'full';
  const runs: Array<{ label: string; indicators: boolean; path: Path }> = [
    { label: 'import, SCO and indicator per line, worker', indicators: true, path: 'worker' },
    { label: 'import, SCO and indicator per line', indicators: true, path: 'bulk' },
    { label: 'import, SCOs only, worker', indicators: false, path: 'worker' },
    { label: 'import, SCOs only', indicators: false, path: 'bulk' },
    {
      label: 'import, SCO and indicator per line, full validation',
      indicators: true,
      path: 'full',
    },
  ];
  const only = process.argv[3];
  for (const { label, indicators, path } of runs) {
    if (only !== undefined && !label.includes(only)) continue;
    const run = await timed(() =>
      withStore((store, collectionId) => {
        const converting = { ...options, indicators };
        if (path === 'worker') {
          const conversion = convertInWorker('text', input(), converting);
          return importConversion(store, collectionId, conversion, { batchSize: 5000 });
        }
        const conversion = convert('text', input(), converting);
        // The full path is the one a TAXII POST takes: every object validated in full.
        return path === 'bulk'
          ? importConversion(store, collectionId, conversion, { batchSize: 5000 })
          : importConverted(store, collectionId, conversion.objects, { batchSize: 5000 });
      }),
    );
    console.log(
      `${label}: ${rates(lines, 'lines', run)}; ${run.result.added} objects added, ${run.result.duplicates} duplicates, ${run.result.rejected} rejected`,
    );
  }
}

async function benchFeed(): Promise<void> {
  const feed = dataPath('infoblox-threat-intelligence/indicators/misp');
  const bytes = readdirSync(feed).reduce((sum, name) => sum + statSync(join(feed, name)).size, 0);
  const run = await timed(() =>
    withStore(async (store, collectionId) => {
      const conversion = convert(
        'misp-feed',
        { stream: concatenated([]), path: feed },
        { source: 'bench' },
      );
      const summary = await importConverted(store, collectionId, conversion.objects, {
        batchSize: 5000,
      });
      return { summary, report: conversion.report.summary() };
    }),
  );
  const { summary, report } = run.result;
  console.log(
    `Infoblox MISP feed: ${(bytes / 2 ** 20).toFixed(1)} MiB, ${report.records} attributes, ${summary.read} objects`,
  );
  console.log(
    `end to end: ${run.seconds.toFixed(1)} s (${run.cpuSeconds.toFixed(1)} CPU s), ${rates(report.records, 'attributes', run)}`,
  );
  console.log(
    `added ${summary.added}, duplicates ${summary.duplicates}, rejected ${summary.rejected}; skipped ${report.skipped} (${JSON.stringify(report.skippedByCode)})`,
  );
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

/** Converts every line and prepares its rows, as the worker hands them to the store. */
async function preparedRows(indicators: boolean): Promise<{ lines: number; rows: ConvertedRow[] }> {
  const conversion = convert(
    'text',
    { stream: concatenated(TEXT_FILES) },
    { source: 'bench', created: '2024-05-01T00:00:00.000Z', indicators },
  );
  const rows: ConvertedRow[] = [];
  for await (const batch of conversion.batches!) {
    for (const object of batch) rows.push(toConvertedRow(object));
  }
  return { lines: conversion.report.summary().records, rows };
}

/** Normalised values of every line, with their kind, for the bare shape. */
async function lineValues(): Promise<Array<{ id: string; value: string; kind: string }>> {
  const conversion = convert(
    'text',
    { stream: concatenated(TEXT_FILES) },
    { source: 'bench', indicators: false },
  );
  const values: Array<{ id: string; value: string; kind: string }> = [];
  for await (const batch of conversion.batches!) {
    for (const object of batch) {
      const value = object.value ?? JSON.stringify(object.hashes ?? object.number);
      values.push({ id: object.id, value: String(value), kind: object.type });
    }
  }
  return values;
}

async function benchStore(): Promise<void> {
  for (const indicators of [true, false]) {
    const { lines, rows } = await preparedRows(indicators);
    const run = await timed(() =>
      withStore(async (store, collectionId) => {
        let added = 0;
        for (let start = 0; start < rows.length; start += 5000) {
          const batch = rows.slice(start, start + 5000);
          const result = await submitConvertedRows(
            store,
            collectionId,
            batch,
            start,
            undefined,
            5000,
          );
          added += result.successes.length;
        }
        return added;
      }),
    );
    const shape = indicators ? 'SCO and indicator per line' : 'SCOs only';
    console.log(
      `store only, ${shape} (${rows.length} prepared rows): ${rates(lines, 'lines', run)}`,
    );
  }

  // What a compact shape needs of each line: its value, normalised, without STIX objects.
  const normalised = await timed(async () => {
    let lines = 0;
    const reader = new LineReader(concatenated(TEXT_FILES));
    for await (const batch of reader.batches()) {
      for (const line of batch) {
        const value = lineIndicator(line.text);
        if (value !== undefined && classify(value).ok) lines++;
      }
    }
    return lines;
  });
  console.log(
    `normalisation only (line reader, lineIndicator, classify; ${normalised.result} values): ${rates(normalised.result, 'lines', normalised)}`,
  );

  // The SCO ids stand in for the ids of list entries. A line whose value repeats an
  // earlier one is ignored, as the store would count it a duplicate.
  const values = await lineValues();
  for (const shape of BARE_SHAPES) benchBareShape(shape, values);
}

/** Compact tables of one row per line, each written by one INSERT statement. */
const BARE_SHAPES = [
  {
    label: 'id key and a value index',
    schema: `CREATE TABLE list_entries (id TEXT PRIMARY KEY, value TEXT NOT NULL,
        kind TEXT NOT NULL, source TEXT NOT NULL, first_seen INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX list_entries_value ON list_entries (value)`,
    insert: `INSERT OR IGNORE INTO list_entries (id, value, kind, source, first_seen)
      VALUES (@id, @value, @kind, 'bench', @now)`,
  },
  {
    label: 'the value as key, no id',
    schema: `CREATE TABLE list_entries (value TEXT NOT NULL, kind TEXT NOT NULL,
        source TEXT NOT NULL, first_seen INTEGER NOT NULL, PRIMARY KEY (value, kind))
        WITHOUT ROWID`,
    insert: `INSERT OR IGNORE INTO list_entries (value, kind, source, first_seen)
      VALUES (@value, @kind, 'bench', @now)`,
  },
];

function benchBareShape(
  shape: (typeof BARE_SHAPES)[number],
  values: Array<{ id: string; value: string; kind: string }>,
): void {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-bare-'));
  const db = new Database(join(dir, 'bare.db'));
  try {
    // The pragmas of the SQLite store (src/store/sqlite/sqlite-store.ts).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(shape.schema);
    const insert = db.prepare(shape.insert);
    const insertMany = db.transaction((rows: typeof values) => {
      const now = Date.now();
      for (const { id, value, kind } of rows) insert.run({ id, value, kind, now });
    });
    const run = timedSync(() => {
      for (let start = 0; start < values.length; start += 5000) {
        insertMany(values.slice(start, start + 5000));
      }
    });
    const count = db.prepare('SELECT count(*) FROM list_entries').pluck().get() as number;
    console.log(
      `bare shape, one row per line, ${shape.label} (${count} rows kept of ${values.length}): ${rates(values.length, 'rows', run)}`,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function timedSync(work: () => void): Timing {
  const cpu = process.cpuUsage();
  const mainCpu = mainThreadCpuSeconds();
  const started = performance.now();
  work();
  const used = process.cpuUsage(cpu);
  return {
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    mainCpuSeconds: mainThreadCpuSeconds() - mainCpu,
  };
}

if (mode === 'text') await benchText();
else if (mode === 'text-store') await benchStore();
else if (mode === 'misp-feed') await benchFeed();
else throw new Error(`unknown mode ${JSON.stringify(mode)}: use text, text-store or misp-feed`);
console.log(machine());
