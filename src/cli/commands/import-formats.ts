/**
 * The format options of `cairn import`: converting CSV, plain-text lists, prose, MISP and
 * older STIX into STIX 2.1 before the usual import, and printing what the conversion left out.
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { CairnError } from '../../errors.ts';
import {
  CONVERTED_FORMATS,
  type ConversionSummary,
  type FormatOptions,
  isConvertedFormat,
  parseCsvMapping,
} from '../../ingest/formats/index.ts';

export interface FormatCommandOptions {
  format: string;
  csvMap?: string;
  source?: string;
  indicators: boolean;
  label?: string[];
  confidence?: string;
}

export const IMPORT_FORMATS = ['stix', ...CONVERTED_FORMATS] as const;

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
    .option('--confidence <n>', 'confidence 0-100 of created indicators that state none');
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Checks the format options and turns them into converter options. */
export function formatOptions(
  options: FormatCommandOptions,
  file: string,
  created: string | undefined,
): FormatOptions | undefined {
  if (options.format === 'stix') {
    if (options.csvMap !== undefined) {
      throw new CairnError('invalid-parameter', '--csv-map applies only to --format csv');
    }
    return undefined;
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
  const result: FormatOptions = {
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
