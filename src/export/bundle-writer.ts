/**
 * Streamed export of a collection as one STIX bundle (STIX 2.1 section 8). Object versions
 * are read from the store a page at a time, in date_added order, and each stored JSON text
 * is written unchanged, so memory stays at about one page whatever the collection size.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { LATEST_VERSION, type Store, type VersionQuery } from '../store/store.ts';

export interface ExportOptions {
  collectionId: string;
  /** Only these STIX types. */
  types?: string[];
  /** Every version of each object; by default only the latest version. */
  allVersions?: boolean;
  /** Only versions added to the collection after this time (microseconds since the epoch). */
  addedAfter?: number;
  /** Versions read from the store per query. */
  pageSize?: number;
  /** Called after each page with the totals so far. */
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportProgress {
  objects: number;
  bytes: number;
}

export interface ExportSummary extends ExportProgress {
  bundleId: string;
}

export const EXPORT_DEFAULTS = {
  pageSize: 1000,
  /** Text gathered before one write to the destination, in UTF-16 code units. */
  writeChunk: 64 * 1024,
} as const;

/**
 * Writes the selected versions as a bundle to `destination`, waiting for 'drain' whenever
 * the destination's buffer is full. The destination is left open. The export is not a
 * snapshot: versions added while it runs are included when they sort after the page read.
 * An empty selection gives a bundle without `objects`, because STIX 2.1
 * forbids empty lists (section 2.12).
 */
export async function writeBundle(
  store: Store,
  destination: Writable,
  options: ExportOptions,
): Promise<ExportSummary> {
  const bundleId = `bundle--${randomUUID()}`;
  const output = new ChunkedOutput(destination);
  try {
    return await writeObjects(store, output, bundleId, options);
  } finally {
    output.close();
  }
}

async function writeObjects(
  store: Store,
  output: ChunkedOutput,
  bundleId: string,
  options: ExportOptions,
): Promise<ExportSummary> {
  const query: VersionQuery = {
    collectionId: options.collectionId,
    versions: options.allVersions ? { all: true } : LATEST_VERSION,
    limit: options.pageSize ?? EXPORT_DEFAULTS.pageSize,
    ...(options.types ? { types: options.types } : {}),
    ...(options.addedAfter === undefined ? {} : { addedAfter: options.addedAfter }),
  };

  await output.write(`{"type":"bundle","id":"${bundleId}"`);
  let objects = 0;
  for (;;) {
    const page = await store.queryObjects(query);
    for (const item of page.items) {
      await output.write(objects === 0 ? ',"objects":[\n' : ',\n');
      await output.write(item.json);
      objects++;
    }
    await output.flush();
    options.onProgress?.({ objects, bytes: output.bytes });

    const last = page.items[page.items.length - 1];
    if (!page.more || !last) break;
    query.addedAfter = last.dateAdded;
  }
  await output.write(objects === 0 ? '}\n' : '\n]}\n');
  await output.flush();
  return { bundleId, objects, bytes: output.bytes };
}

/** Gathers small strings into larger writes and honours the destination's back-pressure. */
class ChunkedOutput {
  bytes = 0;
  private parts: string[] = [];
  private length = 0;
  private failure: Error | undefined;
  private readonly onError = (error: Error): void => {
    this.failure ??= error;
  };

  constructor(private readonly destination: Writable) {
    // Without a listener, an 'error' such as EPIPE on standard output would crash the process.
    destination.on('error', this.onError);
  }

  close(): void {
    this.destination.off('error', this.onError);
  }

  async write(text: string): Promise<void> {
    if (this.length + text.length > EXPORT_DEFAULTS.writeChunk) await this.flush();
    this.parts.push(text);
    this.length += text.length;
    if (this.length >= EXPORT_DEFAULTS.writeChunk) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.parts.length === 0) return;
    const chunk = Buffer.from(this.parts.join(''), 'utf8');
    this.parts = [];
    this.length = 0;
    this.bytes += chunk.length;
    if (!this.destination.write(chunk)) {
      // once() rejects when the destination emits 'error', so a closed pipe ends the export.
      await once(this.destination, 'drain');
    }
  }
}
