/**
 * Converters from other formats into STIX 2.1. Each reads its input as a stream, yields
 * STIX objects for the import pipeline (src/ingest/import.ts), and fills a
 * ConversionReport with what it skipped or could not carry over. All of them normalise
 * values through src/normalise, so one observable from two feeds is one SCO.
 */
import { stat } from 'node:fs/promises';
import { CairnError } from '../../errors.ts';
import type { StixObject } from '../../normalise/index.ts';
import { type CsvMapping } from './csv.ts';
import { convertListFormat } from './list-formats.ts';
import type { ConvertOptions } from './options.ts';
import { ConversionReport } from './report.ts';
import { BundleReader } from '../bundle-reader.ts';
import { convertStix } from './stix.ts';
import { Stix1Converter } from './stix1.ts';
import {
  type FeedCheckpoint,
  type FeedProgress,
  convertMispFeed,
  convertMispFiles,
  listJsonFiles,
} from './misp-feed.ts';

export {
  ConversionReport,
  lostInputs,
  type ConversionNote,
  type ConversionSummary,
} from './report.ts';
export { type ConvertOptions } from './options.ts';
export {
  LOWERED_CONFIDENCE,
  type WarninglistAction,
  type WarninglistLookup,
  type WarninglistPolicy,
} from './emit.ts';
export { type CsvMapping, parseCsvMapping } from './csv.ts';
export { extractIndicators } from './freetext.ts';
export { type FeedCheckpoint } from './misp-feed.ts';

/** Input formats `cairn import --format` accepts besides STIX 2.1 (`stix`). */
export const CONVERTED_FORMATS = [
  'stix',
  'stix20',
  'stix1',
  'misp',
  'misp-feed',
  'csv',
  'text',
  'freetext',
] as const;

export type ConvertedFormat = (typeof CONVERTED_FORMATS)[number];

export function isConvertedFormat(format: string): format is ConvertedFormat {
  return (CONVERTED_FORMATS as readonly string[]).includes(format);
}

export interface ConversionInput {
  /** The input as a byte stream (a file or standard input). */
  stream: AsyncIterable<Uint8Array | string>;
  /** The file or folder the stream comes from; MISP formats read files, not streams. */
  path?: string;
}

export interface FormatOptions extends ConvertOptions {
  /** For stix and stix20: also emit the SCOs that indicator patterns compare against. */
  deriveObservables?: boolean;
  csvMapping?: CsvMapping;
  /** For misp-feed: the state of the last import, updated as events are imported. */
  checkpoint?: FeedCheckpoint;
}

/** Formats whose input is a file or folder read more than once, not a stream. */
export const PATH_FORMATS: ReadonlySet<ConvertedFormat> = new Set(['misp', 'misp-feed']);

/** A conversion under way: the objects to import, its report, and input bytes read so far. */
export interface Conversion {
  objects: AsyncIterable<StixObject>;
  report: ConversionReport;
  bytesRead(): number;
  /**
   * The same objects as `objects`, grouped per chunk of input, for formats that produce them
   * so. Both read one conversion: use one or the other.
   */
  batches?: AsyncIterable<StixObject[]>;
  /**
   * Whether every object is an SCO or indicator built from a normalised value, as the list
   * formats (text, freetext, csv) produce, so the import may store them through the bulk
   * path (src/ingest/converted.ts). The other formats carry their source's own content.
   */
  bulk: boolean;
}

/** Starts converting `input` from `format`; the objects are produced as they are read. */
export function convert(
  format: ConvertedFormat,
  input: ConversionInput,
  options: FormatOptions,
): Conversion {
  const report = new ConversionReport();
  switch (format) {
    case 'text':
    case 'freetext':
    case 'csv':
      return convertListFormat(format, input, options);
    case 'stix':
    case 'stix20': {
      const reader = new BundleReader(input.stream);
      const objects = convertStix(reader, options, report, format === 'stix20');
      return { objects, report, bytesRead: () => reader.bytesRead, bulk: false };
    }
    case 'stix1': {
      let bytes = 0;
      const converter = new Stix1Converter(options, report);
      const objects = converter.convert(input.stream, (read) => {
        bytes = read;
      });
      return { objects, report, bytesRead: () => bytes, bulk: false };
    }
    case 'misp':
    case 'misp-feed': {
      const path = input.path;
      if (path === undefined) {
        throw new CairnError(
          'invalid-parameter',
          `--format ${format} reads a file or folder, not standard input: save the input to a file first`,
        );
      }
      const progress = { bytesRead: 0 };
      const objects =
        format === 'misp'
          ? mispPath(path, options, report, progress)
          : convertMispFeed(path, options, report, options.checkpoint ?? { events: {} }, progress);
      return { objects, report, bytesRead: () => progress.bytesRead, bulk: false };
    }
    default:
      throw new CairnError('invalid-parameter', `unknown format ${JSON.stringify(format)}`);
  }
}

/** Converts one MISP event file, or every `.json` file under a folder. */
async function* mispPath(
  path: string,
  options: FormatOptions,
  report: ConversionReport,
  progress: FeedProgress,
): AsyncGenerator<StixObject> {
  const info = await stat(path);
  const files = info.isDirectory() ? await listJsonFiles(path) : [path];
  yield* convertMispFiles(files, path, options, report, progress);
}
