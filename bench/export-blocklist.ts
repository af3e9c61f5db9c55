/**
 * Time and peak memory of exporting a large IPv4 blocklist.
 *
 *   node --import tsx bench/export-blocklist.ts [count] [--format blocklist|csv|suricata]
 *
 * Fills a fresh SQLite store in the temporary folder with `count` (default 1,000,000)
 * indicators of distinct IPv4 addresses, through the validator and addObjects as an import
 * does. Then a child process, so that the fill does not count, opens the store and writes
 * the export (every indicator active and above score 0) to a counting sink, and reports the
 * elapsed and CPU time, lines per second and its peak resident set (getrusage maxrss). The
 * store is deleted afterwards.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportFeed, type ExportFormat } from '../src/export/feeds.ts';
import { validateObject } from '../src/stix/index.ts';
import { nowMicros } from '../src/stix/timestamp.ts';
import { SqliteStore } from '../src/store/sqlite/index.ts';
import type { PreparedObject } from '../src/store/store.ts';
import { machine } from './lib.ts';

const BATCH = 5000;

function address(n: number): string {
  return `${10 + (n >>> 24)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

async function fill(path: string, count: number): Promise<string> {
  const store = new SqliteStore(path);
  await store.migrate();
  await store.createApiRoot({ name: 'bench', title: 'bench', maxContentLength: 1 << 24 });
  const collection = await store.createCollection({ apiRoot: 'bench', title: 'blocklist' });
  const created = new Date().toISOString();
  const started = performance.now();
  for (let start = 0; start < count; start += BATCH) {
    const prepared: PreparedObject[] = [];
    for (let n = start; n < Math.min(count, start + BATCH); n++) {
      const result = validateObject({
        type: 'indicator',
        spec_version: '2.1',
        id: `indicator--${randomUUID()}`,
        created,
        modified: created,
        name: `bench ${n}`,
        pattern_type: 'stix',
        pattern: `[ipv4-addr:value = '${address(n)}']`,
        valid_from: created,
        confidence: 70,
      });
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      prepared.push(result.prepared);
    }
    await store.addObjects(collection.id, prepared);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`filled ${count} indicators in ${seconds.toFixed(1)} s\n`);
  await store.close();
  return collection.id;
}

/** The child: exports and prints one JSON line of figures. */
async function runExport(path: string, collectionId: string, format: ExportFormat): Promise<void> {
  const store = new SqliteStore(path);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const feed = exportFeed(store, {
    format,
    profile: 'bench',
    selection: {
      collections: [{ collectionId }],
      minScore: 0,
      now: nowMicros(),
      ...(format === 'blocklist' ? { types: ['ipv4'] as const } : {}),
    },
  });
  let bytes = 0;
  let lines = 0;
  for await (const chunk of feed.chunks) {
    bytes += Buffer.byteLength(chunk);
    for (let at = chunk.indexOf('\n'); at !== -1; at = chunk.indexOf('\n', at + 1)) lines++;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await store.close();
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    `${JSON.stringify({ format, seconds, cpuSeconds, lines, bytes, peakMiB, counts: feed.counts })}\n`,
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const formatAt = args.indexOf('--format');
  const format = (formatAt >= 0 ? args[formatAt + 1] : 'blocklist') as ExportFormat;
  if (args[0] === '--child') {
    await runExport(args[1]!, args[2]!, format);
    return;
  }
  const count = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'cairn-export-bench-'));
  const path = join(dir, 'bench.db');
  try {
    const collectionId = await fill(path, count);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        new URL(import.meta.url).pathname,
        '--child',
        path,
        collectionId,
        '--format',
        format,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`the export child exited with ${code}`);
    const result = JSON.parse(output) as {
      seconds: number;
      cpuSeconds: number;
      lines: number;
      bytes: number;
      peakMiB: number;
    };
    console.log(`machine: ${machine()}`);
    console.log(
      `${format} export of ${count} indicators: ${result.seconds.toFixed(1)} s ` +
        `(${result.cpuSeconds.toFixed(1)} s of CPU), ` +
        `${Math.round(result.lines / result.seconds)} lines/s, ${(result.bytes / 2 ** 20).toFixed(1)} MiB, ` +
        `peak RSS ${result.peakMiB.toFixed(0)} MiB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
