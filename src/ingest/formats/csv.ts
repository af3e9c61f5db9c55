/**
 * CSV indicator lists with a configurable column mapping, parsed by csv-parse in
 * streaming mode (RFC 4180 quoting, a byte order mark, `#` comment lines as abuse.ch
 * writes them).
 */
import { Readable } from 'node:stream';
import { parse, type Info, type Options } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { CairnError } from '../../errors.ts';
import {
  type IndicatorOptions,
  type Normalised,
  type Observable,
  type ObservableKind,
  type StixObject,
  classify,
  hashAlgorithm,
  isObservableKind,
  normalise,
} from '../../normalise/index.ts';
import { StixEmitter } from './emit.ts';
import { type ConvertOptions, listIndicator } from './options.ts';
import type { ConversionReport } from './report.ts';
import { toTimestamp } from './timestamps.ts';

/** Column mapping of a CSV input. A column is a header name or a 1-based position. */
export interface CsvMapping {
  value: string;
  /** Column holding each row's type (`domain`, `ipv4`, `sha256`, …). */
  type?: string;
  /** The type of every row when there is no type column; `auto` guesses per value (default). */
  kind?: ObservableKind | 'auto';
  /** Column holding a destination port for IP rows. */
  port?: string;
  /** Column holding when the indicator was first seen: the indicator's `valid_from`. */
  firstSeen?: string;
  /** Column of labels, several in one cell separated by `;` or `|`. */
  labels?: string;
  /** Column of confidence values, 0 to 100. */
  confidence?: string;
  /** Column of free text for the indicator's description. */
  description?: string;
  /** Field separator, one character; default `,`. */
  delimiter?: string;
  /** Whether the first row names the columns (default true). */
  header?: boolean;
}

const MAPPING_KEYS: Record<string, keyof CsvMapping> = {
  value: 'value',
  type: 'type',
  kind: 'kind',
  port: 'port',
  first_seen: 'firstSeen',
  labels: 'labels',
  confidence: 'confidence',
  description: 'description',
  delimiter: 'delimiter',
  header: 'header',
};

/**
 * Parses a mapping written `value=indicator,type=type,first_seen=detected_date`. Keys:
 * value, type, kind, port, first_seen, labels, confidence, description, delimiter
 * (`tab` for a tab), header (`yes` or `no`).
 */
export function parseCsvMapping(text: string): CsvMapping {
  const mapping: Partial<Record<keyof CsvMapping, string | boolean>> = {};
  for (const part of text.split(',')) {
    const equals = part.indexOf('=');
    const key = MAPPING_KEYS[part.slice(0, equals).trim()];
    const value = part.slice(equals + 1).trim();
    if (equals < 1 || key === undefined || value === '') {
      throw new CairnError(
        'invalid-parameter',
        `--csv-map entry ${JSON.stringify(part)} is invalid: write key=column with a key among ${Object.keys(MAPPING_KEYS).join(', ')}`,
      );
    }
    mapping[key] = key === 'header' ? !['no', 'false', '0'].includes(value.toLowerCase()) : value;
  }
  if (mapping.delimiter === 'tab') mapping.delimiter = '\t';
  if (typeof mapping.delimiter === 'string' && mapping.delimiter.length !== 1) {
    throw new CairnError(
      'invalid-parameter',
      `--csv-map delimiter ${JSON.stringify(mapping.delimiter)} must be one character or "tab"`,
    );
  }
  if (
    typeof mapping.kind === 'string' &&
    mapping.kind !== 'auto' &&
    !isObservableKind(mapping.kind)
  ) {
    throw new CairnError(
      'invalid-parameter',
      `--csv-map kind ${JSON.stringify(mapping.kind)} must be auto, ip, cidr, domain, url, email, hash or asn`,
    );
  }
  if (mapping.value === undefined) {
    throw new CairnError(
      'invalid-parameter',
      '--csv-map needs value=COLUMN, the column that holds the indicators',
    );
  }
  return mapping as unknown as CsvMapping;
}

/** Header names taken as the value column when no mapping is given. */
const VALUE_HEADERS = [
  'indicator',
  'value',
  'ioc',
  'observable',
  'dst_ip',
  'ip',
  'domain',
  'url',
  'sha256',
];

/** Returns the kind of a CSV row from its type cell, in the spellings of MISP, Infoblox, abuse.ch and STIX. */
export function csvRowType(text: string): { kind: ObservableKind; algorithm?: string } | undefined {
  const type = text.trim().toLowerCase();
  if (isObservableKind(type)) return { kind: type };
  if (/^(?:ipv[46]|ip-(?:src|dst)|ipv[46]-addr|ipv[46]addr|address)$/.test(type))
    return { kind: 'ip' };
  if (/^(?:hostname|fqdn|domain-name|host|domainname)$/.test(type)) return { kind: 'domain' };
  if (/^(?:uri|link)$/.test(type)) return { kind: 'url' };
  if (/^(?:e-?mail(?:-addr|-src|-dst)?)$/.test(type)) return { kind: 'email' };
  if (/^(?:as|autonomous-system)$/.test(type)) return { kind: 'asn' };
  const algorithm = hashAlgorithm(type.replace(/^(?:filehash-|file-|hash-)/, ''));
  if (algorithm) return { kind: 'hash', algorithm };
  return undefined;
}

interface ColumnIndexes {
  value: number;
  type?: number;
  port?: number;
  firstSeen?: number;
  labels?: number;
  confidence?: number;
  description?: number;
}

function resolveColumns(
  mapping: CsvMapping | undefined,
  header: string[] | undefined,
): ColumnIndexes {
  const find = (name: string | undefined, what: string): number | undefined => {
    if (name === undefined) return undefined;
    if (/^[1-9][0-9]*$/.test(name) && !header?.includes(name)) {
      const position = Number(name);
      if (header === undefined || position <= header.length) return position - 1;
      throw new CairnError(
        'invalid-parameter',
        `the ${what} column ${name} is not in the CSV: the header has ${header.length} ` +
          `column${header.length === 1 ? '' : 's'} (${header.map((column) => JSON.stringify(column)).join(', ')})`,
      );
    }
    const index =
      header?.findIndex((column) => column.trim().toLowerCase() === name.toLowerCase()) ?? -1;
    if (index === -1) {
      const known = header
        ? `; the header has ${header.map((column) => JSON.stringify(column)).join(', ')}`
        : '; without a header, give a 1-based column number';
      throw new CairnError(
        'invalid-parameter',
        `the ${what} column ${JSON.stringify(name)} is not in the CSV${known}`,
      );
    }
    return index;
  };

  let valueName = mapping?.value;
  let typeName = mapping?.type;
  if (!mapping) {
    const lower = header?.map((column) => column.trim().toLowerCase()) ?? [];
    valueName = VALUE_HEADERS.find((name) => lower.includes(name));
    if (valueName === undefined) {
      throw new CairnError(
        'invalid-parameter',
        `no indicator column found in the CSV header (${lower.join(', ')}); name it with --csv-map value=COLUMN`,
      );
    }
    if (lower.includes('type')) typeName = 'type';
  }
  const columns: ColumnIndexes = { value: find(valueName, 'value')! };
  const optional: Array<[keyof ColumnIndexes, string | undefined]> = [
    ['type', typeName],
    ['port', mapping?.port],
    ['firstSeen', mapping?.firstSeen],
    ['labels', mapping?.labels],
    ['confidence', mapping?.confidence],
    ['description', mapping?.description],
  ];
  for (const [key, name] of optional) {
    const index = find(name, key);
    if (index !== undefined) columns[key] = index;
  }
  return columns;
}

export interface CsvOptions extends ConvertOptions {
  /** Without a mapping, the header must name an indicator column (`indicator`, `value`, …). */
  mapping?: CsvMapping;
}

/** Returns the csv-parse options of every CSV input; `delimiter` comes from the mapping. */
function parserOptions(delimiter: string): Options {
  return {
    bom: true,
    comment: '#',
    comment_no_infix: true,
    delimiter,
    relax_column_count: true,
    // Keeps `"a"x` as the text `"a"x` (then rejected as a value) instead of reading the
    // rest of the file as one quoted field.
    relax_quotes: true,
    skip_empty_lines: true,
    // No `trim`: csv-parse 7.0.3 with trim stops at the first record it skips, losing
    // every later row. Cells are trimmed where they are read instead.
    skip_records_with_error: true,
    max_record_size: 1 << 20,
  };
}

/** Counts the line breaks in the cells of a record, as csv-parse counts lines (CR or LF). */
function lineBreaks(record: readonly string[]): number {
  let breaks = 0;
  for (const cell of record) {
    for (let i = 0; i < cell.length; i++) {
      const code = cell.charCodeAt(i);
      if (code === 10 || code === 13) breaks++;
    }
  }
  return breaks;
}

/**
 * Converts CSV rows to STIX: each row gives the SCO of its value and, unless
 * `options.indicators` is false, an indicator carrying the row's first-seen time, labels,
 * confidence and description. Rows with an unknown type or an invalid value are reported
 * and skipped; so are rows csv-parse cannot read (a stray quote). A quote left open in a
 * row makes csv-parse read the following lines into that row. When a mapped column other
 * than the description then spans lines, or the row lacks its value column, the row is
 * reported at the line of the quote, and the lines it swallowed are read again as rows of
 * their own. `bytesRead` reports progress.
 */
export class CsvConverter {
  bytesRead = 0;
  private lastSkipped: string | undefined;

  constructor(
    private readonly source: AsyncIterable<Uint8Array | string>,
    private readonly options: CsvOptions,
    private readonly report: ConversionReport,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<StixObject> {
    const { options, report } = this;
    const mapping = options.mapping;
    const delimiter = mapping?.delimiter ?? ',';
    const parser = parse({ ...parserOptions(delimiter), info: true, raw: true });
    // The input that follows an opening quote never closed, kept until the rows before it
    // are converted.
    let unclosed: { raw: string; lines: number } | undefined;
    parser.on('skip', (error: Error & { code?: string; lines?: number; raw?: string }) => {
      this.lastSkipped = error.message;
      if (error.code === 'CSV_QUOTE_NOT_CLOSED' && error.raw !== undefined && error.lines) {
        unclosed = { raw: error.raw, lines: error.lines };
        return;
      }
      report.records++;
      report.skip(`line ${error.lines ?? '?'}`, 'invalid-csv', error.message);
    });
    const input = Readable.from(this.counted(this.source));
    input.on('error', (error) => parser.destroy(error));
    input.pipe(parser);

    const emitter = new StixEmitter(report, options.warninglists);
    const base = listIndicator(options);
    let columns: ColumnIndexes | undefined;
    for await (const { record, info, raw } of parser as AsyncIterable<{
      record: string[];
      info: Info;
      raw: string;
    }>) {
      // A quoted cell may span lines, and csv-parse counts to the record's last line.
      const breaks = lineBreaks(record);
      const line = info.lines - breaks;
      if (!columns) {
        const hasHeader = mapping?.header ?? true;
        columns = resolveColumns(mapping, hasHeader ? record : undefined);
        if (hasHeader) continue;
      }
      if (breaks > 0 && (spansMappedColumn(record, columns) || columns.value >= record.length)) {
        // `raw` may start with comment and empty lines before the record: keep its own lines.
        const lines = raw
          .replace(/\n$/, '')
          .split(/\r\n|\r|\n/)
          .slice(-breaks - 1);
        report.records++;
        report.skip(
          `line ${line}`,
          'invalid-csv',
          `a quote opened on line ${line} is not closed on that line, so csv-parse read lines ` +
            `${line} to ${line + breaks} as one row: close or remove the quote. The row was ` +
            `skipped, and ${rereadLines(line + 1, line + breaks)}`,
        );
        yield* this.convertLines(lines.slice(1), line + 1, columns, delimiter, emitter, base);
        continue;
      }
      yield* this.row(record, columns, `line ${line}`, emitter, base);
    }
    if (unclosed) {
      // Comment and empty lines before the quoted row are in `raw` too, but no row starts so.
      const lines = unclosed.raw.replace(/\n$/, '').split(/\r\n|\r|\n/);
      while (lines.length > 1 && /^(?:#.*)?$/.test(lines[0]!)) lines.shift();
      const line = unclosed.lines - lines.length + 1;
      const rest = lines.length > 1 ? rereadLines(line + 1, unclosed.lines) : 'no line followed it';
      report.records++;
      report.skip(
        `line ${line}`,
        'invalid-csv',
        `a quote opened on line ${line} is never closed, so csv-parse read the rest of the ` +
          `input as one field: close or remove the quote. The row was skipped, and ${rest}`,
      );
      if (columns) {
        yield* this.convertLines(lines.slice(1), line + 1, columns, delimiter, emitter, base);
      }
    }
  }

  /** Converts lines that a quote left open had swallowed, each as rows of its own. */
  private *convertLines(
    lines: readonly string[],
    first: number,
    columns: ColumnIndexes,
    delimiter: string,
    emitter: StixEmitter,
    base: IndicatorOptions | false,
  ): Generator<StixObject> {
    for (const [offset, text] of lines.entries()) {
      const line = first + offset;
      for (const row of this.reparse(text, delimiter, line)) {
        yield* this.row(row, columns, `line ${line}`, emitter, base);
      }
    }
  }

  /** Converts one row, or reports why it gives nothing. */
  private *row(
    record: string[],
    columns: ColumnIndexes,
    where: string,
    emitter: StixEmitter,
    base: IndicatorOptions | false,
  ): Generator<StixObject> {
    const { report } = this;
    report.records++;
    if (columns.value >= record.length) {
      report.skip(
        where,
        'missing-column',
        `the row has ${record.length} column${record.length === 1 ? '' : 's'}, so it has no ` +
          `value column ${columns.value + 1}: check value= in the column mapping`,
      );
      return;
    }
    const observable = this.rowObservable(record, columns, where);
    if (!observable.ok) {
      report.skip(
        where,
        observable.reason.startsWith('unsupported') ? 'unsupported-type' : 'invalid-value',
        observable.reason,
      );
      return;
    }
    const indicator = base && this.rowIndicator(base, record, columns, where);
    yield* emitter.observable(observable.value, indicator, where);
  }

  /**
   * Parses one line that a quote left open had swallowed. A line that csv-parse cannot read
   * alone, such as one with a quote of its own left open, is reported and gives no row.
   */
  private reparse(text: string, delimiter: string, line: number): string[][] {
    const skip = (error: (Error & { code?: string }) | undefined): undefined => {
      this.report.records++;
      const message =
        error?.code === 'CSV_QUOTE_NOT_CLOSED'
          ? `a quote opened on line ${line} is not closed on that line: close or remove it`
          : (error?.message ?? 'csv-parse cannot read the line');
      this.report.skip(`line ${line}`, 'invalid-csv', message);
      return undefined;
    };
    try {
      return parseSync(text, { ...parserOptions(delimiter), on_skip: skip }) as string[][];
    } catch (error) {
      this.report.records++;
      this.report.skip(`line ${line}`, 'invalid-csv', (error as Error).message);
      return [];
    }
  }

  /**
   * Yields the parsed rows. A quote that is never closed makes csv-parse read the rest of
   * the input as one field. That ends the conversion with a report entry, not an error.
   */
  private async *records(
    parser: AsyncIterable<unknown>,
  ): AsyncGenerator<{ record: string[]; info: Info }> {
    try {
      yield* parser as AsyncIterable<{ record: string[]; info: Info }>;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'CSV_QUOTE_NOT_CLOSED' && code !== 'CSV_MAX_RECORD_SIZE') throw error;
      // With skip_records_with_error, csv-parse reports this error as a skipped record too.
      if (this.lastSkipped === (error as Error).message) return;
      this.report.skip(
        'end of input',
        'invalid-csv',
        `${(error as Error).message}; the rows after that quote were not read`,
      );
    }
  }

  /**
   * Passes the input on, counting its bytes, with every CRLF turned into LF. csv-parse 7.0.3
   * counts a CRLF inside a quoted cell as two lines, which would put every later row a line
   * too far, so no CRLF reaches it. CR and LF are single bytes in UTF-8.
   */
  private async *counted(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
    let carriedCr = false;
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
      this.bytesRead += bytes.length;
      if (bytes.length === 0) continue;
      let text: Buffer = carriedCr ? Buffer.concat([CR, bytes]) : bytes;
      // A CR at the end of a chunk may start a CRLF that the next chunk ends.
      carriedCr = text[text.length - 1] === 13;
      if (carriedCr) text = text.subarray(0, -1);
      yield withoutCrlf(text);
    }
    if (carriedCr) yield CR;
  }

  private rowObservable(
    record: string[],
    columns: ColumnIndexes,
    where: string,
  ): Normalised<Observable> {
    const value = record[columns.value] ?? '';
    let result: Normalised<Observable>;
    if (columns.type !== undefined) {
      const typeText = record[columns.type] ?? '';
      const type = csvRowType(typeText);
      if (!type)
        return {
          ok: false,
          reason: `unsupported type ${JSON.stringify(typeText)} in the type column`,
        };
      result = normalise(type.kind, value, type.algorithm);
      if (!result.ok) result = this.retypedObservable(value, typeText, where) ?? result;
    } else {
      const kind = this.options.mapping?.kind ?? 'auto';
      result = kind === 'auto' ? classify(value) : normalise(kind, value);
    }
    if (!result.ok || columns.port === undefined || result.value.kind !== 'ip') return result;

    const portText = record[columns.port] ?? '';
    const port = Number(portText);
    if (portText === '') return result;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      this.report.lose(
        where,
        'invalid-port',
        `the port ${JSON.stringify(portText)} is not 1 to 65535 and was left out`,
      );
      return result;
    }
    return { ok: true, value: { ...result.value, port } };
  }

  /**
   * Returns the observable a value is when its declared type does not fit, as feeds
   * sometimes list an IP address under `domain`. The change is noted in the report.
   */
  private retypedObservable(
    value: string,
    typeText: string,
    where: string,
  ): Normalised<Observable> | undefined {
    const guessed = classify(value);
    if (!guessed.ok) return undefined;
    this.report.lose(
      where,
      'type-mismatch',
      `${JSON.stringify(value)} is listed as ${JSON.stringify(typeText)} but is ${guessed.value.kind === 'ip' ? 'an' : 'a'} ${guessed.value.kind}; imported as ${guessed.value.kind}`,
    );
    return guessed;
  }

  private rowIndicator(
    base: IndicatorOptions,
    record: string[],
    columns: ColumnIndexes,
    where: string,
  ): IndicatorOptions {
    const indicator: IndicatorOptions = { ...base };
    const cell = (index: number | undefined): string =>
      index === undefined ? '' : (record[index] ?? '').trim();

    const firstSeen = cell(columns.firstSeen);
    if (firstSeen) {
      const timestamp = toTimestamp(firstSeen);
      if (timestamp) indicator.validFrom = timestamp;
      else
        this.report.lose(
          where,
          'invalid-timestamp',
          `first seen ${JSON.stringify(firstSeen)} is not a date and was left out`,
        );
    }
    const labels = cell(columns.labels);
    if (labels) {
      const split = labels
        .split(/[;|]/)
        .map((label) => label.trim())
        .filter(Boolean);
      indicator.labels = [...(base.labels ?? []), ...split];
    }
    const confidence = cell(columns.confidence);
    if (confidence) {
      const number = Number(confidence);
      if (Number.isInteger(number) && number >= 0 && number <= 100) indicator.confidence = number;
      else
        this.report.lose(
          where,
          'invalid-confidence',
          `confidence ${JSON.stringify(confidence)} is not 0 to 100 and was left out`,
        );
    }
    const description = cell(columns.description);
    if (description) indicator.description = description;
    return indicator;
  }
}

/** Describes, for a message, that lines `first` to `last` were read again as rows. */
function rereadLines(first: number, last: number): string {
  return first === last
    ? `line ${first} was read again as a row of its own`
    : `lines ${first} to ${last} were read again as rows of their own`;
}

const CR = Buffer.from([13]);
const CRLF = Buffer.from([13, 10]);

/**
 * Tells whether a record spans lines in a mapped column other than the description. No
 * indicator list does that on purpose, so a quote was left open there.
 */
function spansMappedColumn(record: readonly string[], columns: ColumnIndexes): boolean {
  const mapped = [
    columns.value,
    columns.type,
    columns.port,
    columns.firstSeen,
    columns.labels,
    columns.confidence,
  ];
  return mapped.some((index) => index !== undefined && /[\r\n]/.test(record[index] ?? ''));
}

/** Returns the bytes with each CRLF turned into LF, the same buffer when there is none. */
function withoutCrlf(bytes: Buffer): Buffer {
  let at = bytes.indexOf(CRLF);
  if (at === -1) return bytes;
  const parts: Buffer[] = [];
  let start = 0;
  while (at !== -1) {
    parts.push(bytes.subarray(start, at));
    start = at + 1;
    at = bytes.indexOf(CRLF, start);
  }
  parts.push(bytes.subarray(start));
  return Buffer.concat(parts);
}
