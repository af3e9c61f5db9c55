/**
 * `cairn export`: writes a collection as one STIX 2.1 bundle to a file or standard output,
 * with progress and a summary on standard error.
 */
import { createWriteStream, lstatSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { CairnError } from '../../errors.ts';
import { writeBundle, type ExportOptions, type ExportSummary } from '../../export/bundle-writer.ts';
import { timestampToMicros } from '../../stix/timestamp.ts';
import type { Store } from '../../store/store.ts';
import { findCollection, withStore, type GlobalOptions } from '../context.ts';
import { exportFeedCommand, type FeedCommandOptions } from './export-feed.ts';
import { formatBytes, startProgress, type ProgressReporter } from './import.ts';

interface ExportCommandOptions extends GlobalOptions, Omit<Partial<FeedCommandOptions>, 'type'> {
  collection: string;
  apiRoot?: string;
  output?: string;
  allVersions?: boolean;
  type?: string;
  addedAfter?: string;
  quiet?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a collection as a STIX 2.1 bundle')
    .option('--collection <id|alias>', 'collection to export', 'default')
    .option(
      '--api-root <name>',
      'API root of the collection (default: the configured default root)',
    )
    .option('-o, --output <file>', 'file to write (default: standard output)')
    .option('--all-versions', 'every version of each object (default: the latest version only)')
    .option('--type <types>', 'only these STIX types, separated by commas, e.g. indicator,malware')
    .option(
      '--added-after <timestamp>',
      'only versions added after this time, e.g. 2024-01-31T00:00:00Z',
    )
    .option('-q, --quiet', 'print no progress and no summary')
    .option(
      '--format <format>',
      'bundle (every object), or a feed of active indicators: blocklist, csv, suricata, snort, misp, stix',
      'bundle',
    )
    .option(
      '--value-type <type>',
      'feeds: values of one type, such as ip, domain, url or hash (blocklists need it)',
    )
    .option('--min-score <score>', 'feeds: lowest indicator score written, 0 to 100')
    .option('--sid-range <first-last>', 'suricata and snort: sid range, default 1000000-1999999')
    .action(async (_options, command: Command) => {
      const options = command.optsWithGlobals<ExportCommandOptions>();
      if (options.format !== undefined && options.format !== 'bundle') {
        const feedOptions = { ...options, format: options.format };
        await withStore(options, async (context) => {
          const target = await findCollection(context, options.collection, options.apiRoot);
          await exportFeedCommand(context, target, feedOptions);
        });
        return;
      }
      const filters = parseFilters(options);
      await withStore(options, async (context) => {
        const target = await findCollection(context, options.collection, options.apiRoot);
        const exportOptions: ExportOptions = { collectionId: target.id, ...filters };
        const progress = startProgress({
          label: 'exporting',
          unit: 'objects',
          total: await expectedCount(context.store, exportOptions),
          quiet: options.quiet ?? false,
        });
        exportOptions.onProgress = (totals) => progress.update(totals.bytes, totals.objects);

        const started = performance.now();
        const summary = await exportTo(context.store, exportOptions, options.output, progress);
        if (!options.quiet) {
          const seconds = (performance.now() - started) / 1000;
          process.stderr.write(
            `exported ${summary.objects} objects (${formatBytes(summary.bytes)}) as ${summary.bundleId} in ${seconds.toFixed(1)} s\n`,
          );
        }
      });
    });
}

function parseFilters(options: ExportCommandOptions): Omit<ExportOptions, 'collectionId'> {
  const filters: Omit<ExportOptions, 'collectionId'> = { allVersions: !!options.allVersions };
  if (options.type !== undefined) {
    const types = options.type.split(',').map((type) => type.trim());
    if (types.some((type) => type === '')) {
      throw new CairnError(
        'invalid-parameter',
        `--type ${JSON.stringify(options.type)} has an empty type name: separate types with single commas`,
      );
    }
    filters.types = types;
  }
  if (options.addedAfter !== undefined) {
    const micros = timestampToMicros(options.addedAfter);
    if (micros === undefined) {
      throw new CairnError(
        'invalid-parameter',
        `--added-after ${JSON.stringify(options.addedAfter)} is not a timestamp: use RFC 3339 in UTC, e.g. 2024-01-31T00:00:00Z`,
      );
    }
    filters.addedAfter = micros;
  }
  return filters;
}

/** The number of versions the export will write, when it can be known without a query. */
async function expectedCount(store: Store, options: ExportOptions): Promise<number | undefined> {
  if (options.types || options.addedAfter !== undefined) return undefined;
  const counts = await store.countCollection(options.collectionId);
  return options.allVersions ? counts.versions : counts.objects;
}

/**
 * Writes to standard output, or to `file` through a temporary file renamed at the end, so
 * a failed export leaves no partial bundle under the requested name. A `file` that exists
 * and is not a regular file (a device, a pipe, a symbolic link) is written in place,
 * because renaming over it would replace the device or the link itself.
 */
async function exportTo(
  store: Store,
  options: ExportOptions,
  file: string | undefined,
  progress: ProgressReporter,
): Promise<ExportSummary> {
  if (file === undefined) {
    try {
      return await writeBundle(store, process.stdout, options);
    } finally {
      progress.stop();
    }
  }

  if (!isRegularOrAbsent(file)) {
    const direct = createWriteStream(file, { flags: 'w' });
    try {
      const summary = await writeBundle(store, direct, options);
      await closeFile(direct);
      return summary;
    } finally {
      progress.stop();
    }
  }

  const partial = `${file}.partial`;
  const destination = createWriteStream(partial);
  try {
    const summary = await writeBundle(store, destination, options);
    await closeFile(destination);
    await rename(partial, file);
    return summary;
  } catch (error) {
    destination.destroy();
    await rm(partial, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code && (error as NodeJS.ErrnoException).syscall) {
      throw new CairnError('invalid-parameter', `cannot write ${partial}: ${code}`);
    }
    throw error;
  } finally {
    progress.stop();
  }
}

function isRegularOrAbsent(file: string): boolean {
  try {
    return lstatSync(file).isFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

async function closeFile(destination: Writable): Promise<void> {
  destination.end();
  await finished(destination);
}
