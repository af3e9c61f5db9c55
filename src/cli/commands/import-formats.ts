/**
 * The format options of `cairn import`: converting CSV, plain-text lists, prose, MISP and
 * older STIX into STIX 2.1 before the usual import, and printing what the conversion left out.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { CairnError } from '../../errors.ts';
import {
  CONVERTED_FORMATS,
  type ConversionSummary,
  type FeedCheckpoint,
  type FormatOptions,
  PATH_FORMATS,
  isConvertedFormat,
  parseCsvMapping,
  type WarninglistAction,
  type WarninglistPolicy,
} from '../../ingest/formats/index.ts';
import { WarninglistMatcher, loadWarninglists } from '../../warninglists/index.ts';

export interface FormatCommandOptions {
  format: string;
  csvMap?: string;
  source?: string;
  indicators: boolean;
  label?: string[];
  confidence?: string;
  checkpoint?: string;
  warninglists?: string;
  onWarning: string;
  deriveObservables?: boolean;
}

export const IMPORT_FORMATS = CONVERTED_FORMATS;

/** Adds the format options to the import command. */
export function addFormatOptions(command: Command): Command {
  return command
    .option('--format <format>', `input format: ${IMPORT_FORMATS.join(', ')}`, 'stix')
    .option(
      '--csv-map <mapping>',
      'CSV columns, e.g. value=indicator,type=type,first_seen=detected_date,labels=classification',
    )
    .option(
      '--source <name>',
      'stable name of the input, from which indicator ids are derived (default: the file name)',
    )
    .option('--no-indicators', 'create only observables (SCOs), no indicators, from lists')
    .option('--label <label>', 'label added to every created indicator (repeatable)', collect)
    .option('--confidence <n>', 'confidence 0-100 of created indicators that state none')
    .option(
      '--derive-observables',
      'stix, stix20: also create the SCOs that indicator patterns compare against',
    )
    .option(
      '--warninglists <folder>',
      'check observables against the MISP warning lists in this folder (lists/<name>/list.json)',
    )
    .option(
      '--on-warning <action>',
      'what to do with an observable on a warning list: drop, label or lower (its confidence)',
      'label',
    )
    .option(
      '--checkpoint <file>',
      'misp-feed: JSON file of the events already imported; read before and updated after a complete import',
    );
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Checks whether the format reads a file or folder by path rather than as a stream. */
export function isPathFormat(format: string): boolean {
  return isConvertedFormat(format) && PATH_FORMATS.has(format);
}

/**
 * Opens a MISP file or folder by path. A file gives its size and modification time, for
 * the progress bar and the indicators' `created`. The stream is empty, because the
 * converter opens the files itself.
 */
export async function openPath(
  file: string,
): Promise<{ stream: AsyncIterable<Uint8Array>; path?: string; size?: number; modified?: string }> {
  // Without a path, the converter rejects standard input with a message.
  if (file === '-') return { stream: process.stdin };
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new CairnError('not-found', `cannot read ${file}: file or folder not found`);
  }
  const stream = (async function* () {})();
  if (!info.isDirectory()) {
    return { stream, path: file, size: info.size, modified: info.mtime.toISOString() };
  }
  return { stream, path: file };
}

async function readCheckpoint(file: string): Promise<FeedCheckpoint> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { events: {} };
    throw new CairnError('invalid-parameter', `cannot read --checkpoint ${file}: ${String(error)}`);
  }
  try {
    const parsed = JSON.parse(text) as FeedCheckpoint;
    if (parsed && typeof parsed.events === 'object' && parsed.events !== null) return parsed;
  } catch {
    // Reported below with the fix.
  }
  throw new CairnError(
    'invalid-parameter',
    `--checkpoint ${file} is not a checkpoint written by cairn import; delete it to import the whole feed`,
  );
}

const WARNING_ACTIONS: readonly WarninglistAction[] = ['drop', 'label', 'lower'];

/** Loads the warning lists named by --warninglists and pairs them with --on-warning. */
async function warninglistPolicy(options: FormatCommandOptions): Promise<WarninglistPolicy> {
  const action = options.onWarning as WarninglistAction;
  if (!WARNING_ACTIONS.includes(action)) {
    throw new CairnError(
      'invalid-parameter',
      `--on-warning ${JSON.stringify(options.onWarning)} must be drop, label or lower`,
    );
  }
  const matcher = new WarninglistMatcher(await loadWarninglists(options.warninglists!));
  for (const problem of matcher.problems.slice(0, 5)) {
    process.stderr.write(
      `warning list ${problem.list}: entry ${JSON.stringify(problem.entry)} ignored: ${problem.reason}\n`,
    );
  }
  return { lists: matcher, action };
}

/** Writes the updated checkpoint of a misp-feed import, when --checkpoint names a file. */
export async function saveCheckpoint(
  options: FormatCommandOptions,
  converted: FormatOptions,
): Promise<void> {
  if (options.checkpoint === undefined || converted.checkpoint === undefined) return;
  await writeFile(options.checkpoint, `${JSON.stringify(converted.checkpoint, null, 2)}\n`);
}

/** Checks the format options and turns them into converter options. */
export async function formatOptions(
  options: FormatCommandOptions,
  file: string,
  input: { path?: string; modified?: string },
): Promise<FormatOptions | undefined> {
  const created = input.modified;
  if (options.format === 'stix') {
    if (options.csvMap !== undefined || options.checkpoint !== undefined) {
      throw new CairnError(
        'invalid-parameter',
        '--csv-map and --checkpoint do not apply to STIX input',
      );
    }
    // Without these options a STIX 2.1 bundle imports as it is, without conversion.
    if (!options.deriveObservables && options.warninglists === undefined) return undefined;
  }
  if (!isConvertedFormat(options.format)) {
    throw new CairnError(
      'invalid-parameter',
      `--format ${JSON.stringify(options.format)} is not supported; use one of ${IMPORT_FORMATS.join(', ')}`,
    );
  }
  if (options.csvMap !== undefined && options.format !== 'csv') {
    throw new CairnError('invalid-parameter', '--csv-map applies only to --format csv');
  }
  if (options.deriveObservables && !['stix', 'stix20'].includes(options.format)) {
    throw new CairnError(
      'invalid-parameter',
      '--derive-observables applies only to --format stix and stix20',
    );
  }
  const result: FormatOptions = {
    ...(options.deriveObservables ? { deriveObservables: true } : {}),
    source: options.source ?? (file === '-' ? 'stdin' : basename(file)),
    indicators: options.indicators,
    ...(created === undefined ? {} : { created }),
    ...(options.label?.length ? { labels: options.label } : {}),
  };
  if (options.confidence !== undefined) {
    const confidence = Number(options.confidence);
    if (!Number.isInteger(confidence) || confidence < 0 || confidence > 100) {
      throw new CairnError(
        'invalid-parameter',
        `--confidence ${JSON.stringify(options.confidence)} must be a whole number from 0 to 100`,
      );
    }
    result.confidence = confidence;
  }
  if (options.csvMap !== undefined) result.csvMapping = parseCsvMapping(options.csvMap);
  if (options.warninglists !== undefined) result.warninglists = await warninglistPolicy(options);
  if (options.checkpoint !== undefined) {
    if (options.format !== 'misp-feed') {
      throw new CairnError('invalid-parameter', '--checkpoint applies only to --format misp-feed');
    }
    result.checkpoint = await readCheckpoint(options.checkpoint);
  }
  return result;
}

/** Notes printed under each code of the conversion report. */
const EXAMPLES_PER_CODE = 3;

/** Prints what the conversion read, produced and left out. */
export function printConversion(summary: ConversionSummary): void {
  const lines = [
    `converted ${summary.records} records into ${summary.objects} STIX objects; skipped ${summary.skipped}, partly carried over ${summary.notCarried}`,
  ];
  const sections: Array<[string, Record<string, number>]> = [
    ['skipped', summary.skippedByCode],
    ['not carried over', summary.notCarriedByCode],
  ];
  for (const [title, counts] of sections) {
    for (const [code, count] of Object.entries(counts).sort((a, b) => b[1] - a[1])) {
      lines.push(`  ${title}, ${code}: ${count}`);
      const examples = summary.examples.filter((note) => note.code === code);
      for (const note of examples.slice(0, EXAMPLES_PER_CODE)) {
        lines.push(`    ${note.where}: ${note.message}`);
      }
    }
  }
  const hits = Object.entries(summary.warninglistHits).sort((a, b) => b[1] - a[1]);
  for (const [name, count] of hits) lines.push(`  on warning list ${name}: ${count}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
