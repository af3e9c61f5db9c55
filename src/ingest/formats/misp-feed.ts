/**
 * MISP feeds: a folder (or a copy of one) with `manifest.json`, which maps event uuids to
 * their summary and timestamp, and one `<uuid>.json` file per event. An import can be
 * incremental: the caller passes the checkpoint of the last run, events whose manifest
 * timestamp has not changed since are left out, and the checkpoint comes back updated.
 */
import { createReadStream } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CairnError } from '../../errors.ts';
import type { StixObject } from '../../normalise/index.ts';
import { isUuid } from '../../stix/ids.ts';
import { StixEmitter } from './emit.ts';
import { type JsonPath, type Selection, streamJson } from './json-paths.ts';
import { MispConverter } from './misp.ts';
import type { MispRecord } from './misp-reader.ts';
import type { ConvertOptions } from './options.ts';
import type { ConversionReport } from './report.ts';

/** Manifest timestamps (Unix seconds) of the events imported so far, by event uuid. */
export interface FeedCheckpoint {
  events: Record<string, number>;
}

export interface FeedProgress {
  bytesRead: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads the manifest one entry at a time; returns uuid and timestamp, in manifest order. */
async function readManifest(
  path: string,
  report: ConversionReport,
): Promise<Array<{ uuid: string; timestamp: number }>> {
  const entries: Array<{ uuid: string; timestamp: number }> = [];
  const select = (path: JsonPath): Selection => (path.length === 0 ? 'descend' : 'assemble');
  for await (const item of streamJson(createReadStream(path), select, { name: 'manifest.json' })) {
    if (item.kind !== 'value' || item.path.length !== 1) continue;
    const uuid = String(item.path[0]);
    // The uuid names a file: anything else could point outside the feed folder.
    if (!isUuid(uuid)) {
      report.skip(
        `manifest entry ${JSON.stringify(uuid.slice(0, 80))}`,
        'invalid-manifest',
        'the key is not an event uuid, so it names no event file',
      );
      continue;
    }
    const timestamp = Number((item.value as MispRecord | null)?.timestamp ?? 0);
    entries.push({
      uuid: uuid.toLowerCase(),
      timestamp: Number.isFinite(timestamp) ? timestamp : 0,
    });
  }
  return entries;
}

/**
 * Converts the events of a MISP feed folder. Events missing from the folder or not valid
 * JSON are reported and skipped, and the rest import. `checkpoint` is read and updated
 * in place: an event enters it once all its objects have been yielded.
 */
export async function* convertMispFeed(
  folder: string,
  options: ConvertOptions,
  report: ConversionReport,
  checkpoint: FeedCheckpoint,
  progress: FeedProgress,
): AsyncGenerator<StixObject> {
  const manifest = join(folder, 'manifest.json');
  if (!(await exists(manifest))) {
    throw new CairnError(
      'not-found',
      `${folder} has no manifest.json: a MISP feed folder holds manifest.json and one <uuid>.json per event`,
    );
  }
  if (await exists(join(folder, 'hashes.csv'))) {
    // hashes.csv contains digests of attribute values for MISP's cache lookups. They are not
    // file hashes, and the values themselves come from the event files.
    report.lose(
      'hashes.csv',
      'hashes-csv',
      'hashes.csv was not imported: it lists digests of attribute values, which the event files contain',
    );
  }

  const emitter = new StixEmitter(report, options.warninglists);
  const converter = new MispConverter(options, report, emitter);
  const entries = await readManifest(manifest, report);
  for (const { uuid, timestamp } of entries) {
    const where = `event ${uuid}`;
    const previous = checkpoint.events[uuid];
    if (previous !== undefined && previous >= timestamp) {
      report.skip(where, 'unchanged', 'the event has not changed since the checkpoint');
      continue;
    }
    const file = join(folder, `${uuid}.json`);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      report.skip(
        where,
        'missing-event',
        `the manifest lists the event but ${uuid}.json is not in the feed`,
      );
      continue;
    }
    try {
      yield* converter.convertDocument(() => createReadStream(file), { name: `${uuid}.json` });
    } catch (error) {
      if (!(error instanceof CairnError)) throw error;
      report.skip(where, error.code, error.message);
      progress.bytesRead += size;
      continue;
    }
    progress.bytesRead += size;
    checkpoint.events[uuid] = timestamp;
  }
}

/** Lists the `.json` files under a folder, sorted, for importing a folder of MISP events. */
export async function listJsonFiles(folder: string): Promise<string[]> {
  const files = await readdir(folder, { recursive: true, withFileTypes: true });
  return files
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Converts MISP event files: one file, or every `.json` file under a folder. A file that
 * is not valid JSON is reported and skipped, and the others import.
 */
export async function* convertMispFiles(
  files: string[],
  root: string,
  options: ConvertOptions,
  report: ConversionReport,
  progress: FeedProgress,
): AsyncGenerator<StixObject> {
  const converter = new MispConverter(options, report);
  for (const file of files) {
    const name = relative(root, file) || file;
    const size = (await stat(file)).size;
    const before = progress.bytesRead;
    try {
      yield* converter.convertDocument(() => createReadStream(file), {
        name,
        onBytes: (bytes) => {
          progress.bytesRead = before + Math.min(bytes, size);
        },
      });
    } catch (error) {
      if (!(error instanceof CairnError) || files.length === 1) throw error;
      report.skip(name, error.code, error.message);
    }
    progress.bytesRead = before + size;
  }
}
