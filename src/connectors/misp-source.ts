/**
 * MISP as a connector source: a MISP feed (a folder or URL holding `manifest.json` and one
 * `<uuid>.json` per event) or a single MISP event file or URL, converted to STIX by the MISP
 * converter of src/ingest/formats.
 *
 * The converter reads an event twice (see misp-reader.ts), so an event fetched over HTTP is
 * first streamed to a temporary file, one event at a time, and removed once converted. Only
 * events whose manifest timestamp is newer than the checkpoint's are fetched.
 *
 * The checkpoint keeps the manifest timestamp of every finished event and, for the event in
 * progress, how many of its objects are stored. Each event gets a converter of its own, so
 * the objects of one event come in the same order on every run and a resumed run skips
 * exactly the stored ones.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConversionReport } from '../ingest/formats/index.ts';
import { MispConverter } from '../ingest/formats/misp.ts';
import { isUuid } from '../stix/ids.ts';
import { FetchError, describeUrl, fetchWithRetry, readLimited } from './http.ts';
import { isLocal, openInput, requestOptions } from './input.ts';
import { convertOptions, convertedBatches } from './list-source.ts';
import {
  objectCheckpoint,
  type ConnectorSource,
  type SourceBatch,
  type SourceContext,
} from './source.ts';

/** Largest manifest read, in bytes; it lists events, and a feed of 100,000 is about 30 MB. */
export const MAX_MANIFEST_BYTES = 128 * 1024 * 1024;

/**
 * Largest event file copied to disk, in bytes. The copy has no time limit while data keeps
 * arriving, so this bounds the disk a remote feed can fill. NOTE: 1 GiB is a guess at the
 * largest real MISP event, not a measured figure.
 */
export const MAX_EVENT_BYTES = 1024 * 1024 * 1024;

/** Characters of an invalid manifest key quoted in the health at most. */
const MAX_QUOTED_KEY = 100;

export interface MispCheckpoint {
  /** Manifest timestamp (Unix seconds) of each finished event, by uuid. */
  events: Record<string, number>;
  /** The event being stored and how many of its objects are stored. */
  current?: { uuid: string; timestamp: number; position: number };
  /** For a single event: the validator of the version read, as list sources keep it. */
  validator?: string;
  position?: number;
  complete?: boolean;
}

function readCheckpoint(value: unknown): MispCheckpoint {
  const raw = objectCheckpoint(value);
  const events: Record<string, number> = {};
  for (const [uuid, timestamp] of Object.entries(objectCheckpoint(raw.events))) {
    if (typeof timestamp === 'number') events[uuid] = timestamp;
  }
  const current = objectCheckpoint(raw.current);
  return {
    events,
    ...(typeof current.uuid === 'string' &&
    typeof current.timestamp === 'number' &&
    typeof current.position === 'number'
      ? {
          current: { uuid: current.uuid, timestamp: current.timestamp, position: current.position },
        }
      : {}),
    ...(typeof raw.validator === 'string' ? { validator: raw.validator } : {}),
    ...(typeof raw.position === 'number' ? { position: raw.position } : {}),
    ...(raw.complete === true ? { complete: true } : {}),
  };
}

interface Manifest {
  /** The events, oldest first, so an interrupted run has stored the older ones. */
  entries: Array<{ uuid: string; timestamp: number }>;
  /** Keys that are no event uuid, which name no event file. */
  invalidKeys: string[];
}

/** Reads a feed's manifest. */
function manifestEntries(text: string, where: string): Manifest {
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new FetchError(`${where} is not JSON: ${(error as Error).message}`);
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    throw new FetchError(
      `${where} is not a MISP feed manifest: expected an object keyed by event uuid`,
    );
  }
  const entries: Array<{ uuid: string; timestamp: number }> = [];
  const invalidKeys: string[] = [];
  for (const [uuid, summary] of Object.entries(manifest as Record<string, unknown>)) {
    // The uuid names a file or URL: anything else could point outside the feed.
    if (!isUuid(uuid)) {
      invalidKeys.push(uuid);
      continue;
    }
    const timestamp = Number((summary as { timestamp?: unknown } | null)?.timestamp ?? 0);
    entries.push({
      uuid: uuid.toLowerCase(),
      timestamp: Number.isFinite(timestamp) ? timestamp : 0,
    });
  }
  entries.sort((a, b) => a.timestamp - b.timestamp || (a.uuid < b.uuid ? -1 : 1));
  return { entries, invalidKeys };
}

/** Returns a manifest key as the health quotes it: printable and at most MAX_QUOTED_KEY characters. */
function quotedKey(key: string): string {
  const printable = [...key.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')];
  const cut =
    printable.length > MAX_QUOTED_KEY
      ? `${printable.slice(0, MAX_QUOTED_KEY - 1).join('')}…`
      : printable.join('');
  return JSON.stringify(cut);
}

/** Passes chunks on until more than `maxBytes` went through, then fails. */
async function* limitedBytes(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes: number,
  what: string,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > maxBytes) throw new EventTooLargeError(`${what} is larger than ${maxBytes} bytes`);
    yield chunk;
  }
}

class EventTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventTooLargeError';
  }
}

function feedLocation(base: string, name: string): string {
  if (isLocal(base)) return join(base, name);
  const url = new URL(base);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL(name, url).toString();
}

export class MispSource implements ConnectorSource {
  constructor(
    private readonly kind: 'misp-feed' | 'misp-event',
    private readonly maxEventBytes = MAX_EVENT_BYTES,
  ) {}

  read(context: SourceContext): AsyncIterable<SourceBatch> {
    return this.kind === 'misp-feed' ? this.readFeed(context) : this.readEvent(context);
  }

  /** Converts one event file in batches, skipping the first `skip` objects. */
  private async *convertFile(
    file: string,
    context: SourceContext,
    skip: number,
    checkpoint: (position: number, done: boolean) => MispCheckpoint,
    name: string,
  ): AsyncGenerator<SourceBatch> {
    const report = new ConversionReport();
    const converter = new MispConverter(convertOptions(context.connector, context), report);
    yield* convertedBatches(
      converter.convertDocument(() => createReadStream(file), { name }),
      { skip, batchSize: context.connector.batchSize, checkpoint, report },
    );
  }

  private async readManifest(location: string, context: SourceContext): Promise<string> {
    if (!isLocal(location)) {
      const response = await fetchWithRetry(location, requestOptions(context.connector, context));
      return readLimited(response, MAX_MANIFEST_BYTES, 'manifest.json');
    }
    let size: number;
    try {
      size = (await stat(location)).size;
    } catch (error) {
      throw new FetchError(
        `cannot read ${location}: ${(error as NodeJS.ErrnoException).code}; a MISP feed folder holds manifest.json and one <uuid>.json per event`,
      );
    }
    if (size > MAX_MANIFEST_BYTES) {
      throw new FetchError(`${location} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    return readFile(location, 'utf8');
  }

  /** Makes a local copy of a remote file, or returns the local path as it is. */
  private async localCopy(
    location: string,
    directory: string,
    context: SourceContext,
  ): Promise<string | undefined> {
    if (isLocal(location)) {
      try {
        return (await stat(location)).isFile() ? location : undefined;
      } catch {
        return undefined;
      }
    }
    const response = await fetchWithRetry(location, {
      ...requestOptions(context.connector, context),
      accept: [404],
    });
    if (response.status === 404) return undefined;
    const file = join(directory, 'event.json');
    await pipeline(
      limitedBytes(
        response.body as unknown as AsyncIterable<Uint8Array>,
        this.maxEventBytes,
        describeUrl(location),
      ),
      createWriteStream(file),
    );
    return file;
  }

  private async *readEvent(context: SourceContext): AsyncGenerator<SourceBatch> {
    const previous = readCheckpoint(context.checkpoint);
    const { connector } = context;
    const opened = await openInput(
      connector.url,
      context,
      previous.complete ? previous.validator : undefined,
    );
    if (opened.stream === undefined) return;
    const directory = await mkdtemp(join(tmpdir(), 'cairn-misp-'));
    try {
      const file = join(directory, 'event.json');
      await pipeline(
        limitedBytes(opened.stream, this.maxEventBytes, describeUrl(connector.url)),
        createWriteStream(file),
      );
      const same = opened.validator !== undefined && opened.validator === previous.validator;
      const skip = same && !previous.complete ? (previous.position ?? 0) : 0;
      yield* this.convertFile(
        file,
        context,
        skip,
        (position, complete) => ({
          events: {},
          ...(opened.validator ? { validator: opened.validator } : {}),
          position,
          complete,
        }),
        describeUrl(connector.url),
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  private async *readFeed(context: SourceContext): AsyncGenerator<SourceBatch> {
    const { connector } = context;
    const state = readCheckpoint(context.checkpoint);
    const manifestAt = feedLocation(connector.url, 'manifest.json');
    const manifestText = await this.readManifest(manifestAt, context);
    const { entries, invalidKeys } = manifestEntries(manifestText, describeUrl(manifestAt));
    if (invalidKeys.length > 0) {
      yield {
        objects: [],
        rejections: invalidKeys.map((key) => ({
          id: `manifest entry ${quotedKey(key)}`,
          message: 'the key is not an event uuid, so it names no event file',
          rule: 'invalid-manifest',
        })),
        checkpoint: { ...state, events: { ...state.events } },
      };
    }
    const directory = await mkdtemp(join(tmpdir(), 'cairn-misp-'));
    try {
      for (const { uuid, timestamp } of entries) {
        const previous = state.events[uuid];
        if (previous !== undefined && previous >= timestamp) continue;
        const resume =
          state.current?.uuid === uuid && state.current.timestamp === timestamp
            ? state.current.position
            : 0;
        let file: string | undefined;
        try {
          file = await this.localCopy(
            feedLocation(connector.url, `${uuid}.json`),
            directory,
            context,
          );
        } catch (error) {
          if (!(error instanceof EventTooLargeError)) throw error;
          yield {
            objects: [],
            rejections: [{ id: `event ${uuid}`, message: error.message, rule: 'too-large' }],
            checkpoint: { ...state, current: undefined },
          };
          continue;
        }
        if (file === undefined) {
          yield {
            objects: [],
            rejections: [
              {
                id: `event ${uuid}`,
                message: `the manifest lists the event but ${uuid}.json is not in the feed`,
                rule: 'missing-event',
              },
            ],
            checkpoint: { ...state, current: undefined },
          };
          continue;
        }
        try {
          yield* this.convertFile(
            file,
            context,
            resume,
            (position, done) => {
              if (done) {
                state.events[uuid] = timestamp;
                state.current = undefined;
              } else {
                state.current = { uuid, timestamp, position };
              }
              return {
                events: { ...state.events },
                ...(state.current ? { current: { ...state.current } } : {}),
              };
            },
            `${uuid}.json`,
          );
        } catch (error) {
          // A broken event is reported, and the feed goes on with the next one.
          if (!(error instanceof Error) || error.name !== 'CairnError') throw error;
          yield {
            objects: [],
            rejections: [{ id: `event ${uuid}`, message: error.message, rule: 'invalid-event' }],
            checkpoint: { events: { ...state.events } },
          };
        } finally {
          if (!isLocal(connector.url)) await rm(file, { force: true });
        }
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
}
