/**
 * The account of a conversion into STIX 2.1: records read, objects produced, and what was
 * left out. Every converter fills one,
 * and `cairn import` prints it beside the import summary.
 */

/** One input record that was skipped, or one part of a record that could not be carried over. */
export interface ConversionNote {
  /** Position in the input: `line 12`, `event 5f1c…, attribute 9a0e…`, `indicator example:Indicator-1`. */
  where: string;
  /** A short stable code, such as `invalid-value` or `unsupported-type`. */
  code: string;
  message: string;
}

/** Plain counts and examples, as printed and serialised. */
export interface ConversionSummary {
  /** Input records read: lines, rows, attributes, objects. */
  records: number;
  /** STIX objects produced. */
  objects: number;
  /** Records left out entirely. */
  skipped: number;
  skippedByCode: Record<string, number>;
  /** Parts of imported records that STIX 2.1 or the converter could not carry over. */
  notCarried: number;
  notCarriedByCode: Record<string, number>;
  /** Observables found on a warning list, per list name. */
  warninglistHits: Record<string, number>;
  /** The first notes of each code, in input order. */
  examples: ConversionNote[];
}

/** Notes kept with their message for each code; the rest are only counted. */
export const MAX_EXAMPLES_PER_CODE = 20;

/**
 * Codes of skips that lose a whole file or event of the input, not one record: a file that
 * is not valid JSON, a manifest key that names no event file, an event the manifest lists
 * but the feed lacks.
 */
export const LOST_INPUT_CODES: readonly string[] = [
  'invalid-json',
  'invalid-manifest',
  'missing-event',
];

/** Counts the files and events of the input that the conversion could not read at all. */
export function lostInputs(summary: ConversionSummary): number {
  let lost = 0;
  for (const code of LOST_INPUT_CODES) lost += summary.skippedByCode[code] ?? 0;
  return lost;
}

export class ConversionReport {
  records = 0;
  objects = 0;
  skipped = 0;
  notCarried = 0;
  private readonly skippedByCode = new Map<string, number>();
  private readonly notCarriedByCode = new Map<string, number>();
  private readonly warninglistHits = new Map<string, number>();
  private readonly examples: ConversionNote[] = [];

  private readonly examplesByCode = new Map<string, number>();

  constructor(private readonly maxExamplesPerCode = MAX_EXAMPLES_PER_CODE) {}

  /** Records that a whole input record was left out, and why. */
  skip(where: string, code: string, message: string): void {
    this.skipped++;
    increment(this.skippedByCode, code);
    this.keep({ where, code, message });
  }

  /** Records that part of an imported record was dropped, and why. */
  lose(where: string, code: string, message: string): void {
    this.notCarried++;
    increment(this.notCarriedByCode, code);
    this.keep({ where, code, message });
  }

  warninglistHit(names: readonly string[]): void {
    for (const name of names) increment(this.warninglistHits, name);
  }

  summary(): ConversionSummary {
    return {
      records: this.records,
      objects: this.objects,
      skipped: this.skipped,
      skippedByCode: Object.fromEntries(this.skippedByCode),
      notCarried: this.notCarried,
      notCarriedByCode: Object.fromEntries(this.notCarriedByCode),
      warninglistHits: Object.fromEntries(this.warninglistHits),
      examples: [...this.examples],
    };
  }

  /**
   * Replaces every count and example with those of `summary`, the report of the same
   * conversion run in another thread.
   */
  assign(summary: ConversionSummary): void {
    this.records = summary.records;
    this.objects = summary.objects;
    this.skipped = summary.skipped;
    this.notCarried = summary.notCarried;
    replace(this.skippedByCode, summary.skippedByCode);
    replace(this.notCarriedByCode, summary.notCarriedByCode);
    replace(this.warninglistHits, summary.warninglistHits);
    this.examples.splice(0, this.examples.length, ...summary.examples);
    this.examplesByCode.clear();
    for (const note of summary.examples) increment(this.examplesByCode, note.code);
  }

  private keep(note: ConversionNote): void {
    const kept = this.examplesByCode.get(note.code) ?? 0;
    if (kept >= this.maxExamplesPerCode) return;
    this.examplesByCode.set(note.code, kept + 1);
    this.examples.push(note);
  }
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function replace(counts: Map<string, number>, values: Record<string, number>): void {
  counts.clear();
  for (const [key, count] of Object.entries(values)) counts.set(key, count);
}
