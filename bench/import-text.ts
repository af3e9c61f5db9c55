/**
 * Import speed of converted formats into SQLite.
 *
 *   node --import tsx bench/import-text.ts text        # plain-text lists
 *   node --import tsx bench/import-text.ts misp-feed   # the Infoblox MISP feed
 *
 * `text` feeds IPsum and every Maltrail trail (about 241,000 lines) as one stream. It
 * measures conversion alone (lines to STIX objects), then the import into a fresh SQLite
 * store three times. The first two take the bulk path of `cairn import --format text`,
 * with an indicator per line and with SCOs only. The third stores an indicator per line
 * through the full validation that a TAXII POST gets. The goal is 200,000 lines per
 * second into SQLite.
 *
 * `misp-feed` imports the Infoblox MISP feed (41 event files, about 61,000 attributes)
 * into a fresh store, and prints the time and the peak resident set of the process (run
 * each mode in its own process, so the peak is that of one import).
 *
 * Rates are given per wall-clock second and per CPU second of this process: on a shared
 * machine the first includes time spent waiting for a core.
 */
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convert, type ConversionInput } from '../src/ingest/formats/index.ts';
import { convertInWorker } from '../src/ingest/formats/threaded.ts';
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
  cpuSeconds: number;
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T } & Timing> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const used = process.cpuUsage(cpu);
  return {
    result,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}

function rates(count: number, unit: string, timing: Timing): string {
  const wall = Math.round(count / timing.seconds).toLocaleString('en');
  const cpu = Math.round(count / timing.cpuSeconds).toLocaleString('en');
  return `${wall} ${unit}/s (wall clock, ${timing.seconds.toFixed(1)} s), ${cpu} ${unit} per CPU second`;
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

if (mode === 'text') await benchText();
else if (mode === 'misp-feed') await benchFeed();
else throw new Error(`unknown mode ${JSON.stringify(mode)}: use text or misp-feed`);
console.log(machine());
