/**
 * `cairn export --format FORMAT`: the export feeds of the API (blocklists, CSV, Suricata and
 * Snort rules, a MISP event, a STIX bundle of active indicators) written from the store by
 * the operator, who reads every version. The output goes to a file through a temporary name,
 * or to standard output.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { configuredWarninglists } from '../../connectors/warninglists.ts';
import { CairnError } from '../../errors.ts';
import { BLOCKLIST_TYPES, EXPORT_FORMATS, type ExportFormat } from '../../export/feeds.ts';
import { feedFor } from '../../export/service.ts';
import { createLogger } from '../../log/logger.ts';
import type { CliContext } from '../context.ts';

export interface FeedCommandOptions {
  format: string;
  valueType?: string;
  minScore?: string;
  sidRange?: string;
  output?: string;
  quiet?: boolean;
}

function parseFeedOptions(options: FeedCommandOptions) {
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new CairnError(
      'invalid-parameter',
      `--format ${JSON.stringify(options.format)} is not one of bundle, ${EXPORT_FORMATS.join(', ')}`,
    );
  }
  const minScore = options.minScore === undefined ? undefined : Number(options.minScore);
  if (minScore !== undefined && !(minScore >= 0 && minScore <= 100)) {
    throw new CairnError(
      'invalid-parameter',
      `--min-score ${JSON.stringify(options.minScore)} is not a number from 0 to 100`,
    );
  }
  let sids: { sid_start: number; sid_end: number } | undefined;
  if (options.sidRange !== undefined) {
    const match = /^(\d+)-(\d+)$/.exec(options.sidRange);
    if (!match) {
      throw new CairnError(
        'invalid-parameter',
        `--sid-range ${JSON.stringify(options.sidRange)} is not FIRST-LAST, such as 1000000-1999999`,
      );
    }
    sids = { sid_start: Number(match[1]), sid_end: Number(match[2]) };
  }
  return {
    format: options.format as ExportFormat,
    query: {
      ...(options.valueType !== undefined ? { type: options.valueType } : {}),
      ...(minScore !== undefined ? { min_score: minScore } : {}),
      ...sids,
    },
  };
}

async function writeAll(chunks: AsyncIterable<string>, destination: Writable): Promise<number> {
  let bytes = 0;
  for await (const chunk of chunks) {
    const data = Buffer.from(chunk, 'utf8');
    bytes += data.length;
    if (!destination.write(data))
      await new Promise((resolve) => destination.once('drain', resolve));
  }
  return bytes;
}

/** Writes one collection's feed and a summary of it on standard error. */
export async function exportFeedCommand(
  context: CliContext,
  collection: { id: string; title: string },
  options: FeedCommandOptions,
): Promise<void> {
  const { format, query } = parseFeedOptions(options);
  const logger = createLogger('warn', process.stderr);
  const warninglists = await configuredWarninglists(context.config, logger);
  if (query.type !== undefined && !(query.type in BLOCKLIST_TYPES)) {
    throw new CairnError(
      'invalid-parameter',
      `--value-type ${JSON.stringify(query.type)} is not one of ${Object.keys(BLOCKLIST_TYPES).join(', ')}`,
    );
  }
  const feed = feedFor(
    context.store,
    format,
    [{ collectionId: collection.id }],
    query as Parameters<typeof feedFor>[3],
    `collection:${collection.id}`,
    `Cairn export of ${collection.title}`,
    warninglists,
  );
  const started = performance.now();
  let bytes: number;
  if (options.output === undefined) {
    bytes = await writeAll(feed.chunks, process.stdout);
  } else {
    const partial = `${options.output}.partial`;
    const file = createWriteStream(partial);
    try {
      bytes = await writeAll(feed.chunks, file);
      file.end();
      await finished(file);
      await rename(partial, options.output);
    } catch (error) {
      file.destroy();
      await rm(partial, { force: true });
      throw error;
    }
  }
  if (!options.quiet) {
    const { written, inactive, lowScore, inexact, warningListed } = feed.counts;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `exported ${written} indicators (${bytes} bytes) as ${format} in ${seconds} s; left out ${inactive} inactive, ${lowScore} below the score, ${inexact} not exact, ${warningListed} warning-listed\n`,
    );
  }
}
