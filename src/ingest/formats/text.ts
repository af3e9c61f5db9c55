/**
 * Plain-text indicator lists: one indicator a line, as block lists, Maltrail trails, IPsum
 * and hosts files publish them.
 */
import { classify } from '../../normalise/index.ts';
import type { StixObject } from '../../normalise/index.ts';
import { StixEmitter } from './emit.ts';
import { LINE_TOO_LONG, type LineReader } from './lines.ts';
import { type ConvertOptions, listIndicator } from './options.ts';
import type { ConversionReport } from './report.ts';

/** Addresses hosts files map blocked names to; the name after them is the indicator. */
const HOSTS_SINKS = new Set(['0.0.0.0', '127.0.0.1', '::', '::1']);

const COMMENT_LINE = /^(?:#|;|\/\/)/;

/**
 * Returns the indicator text of one line, or undefined for a blank or comment line.
 * The first word is the indicator, so `IP<TAB>count` (IPsum) and `value # note` (Maltrail)
 * work. In hosts-file lines (`0.0.0.0 evil.example`) the name is the indicator. A `#`
 * inside the word ends it, unless the word is a URL, where `#` starts a fragment.
 */
export function lineIndicator(line: string): string | undefined {
  const text = line.trim();
  if (text.length === 0 || COMMENT_LINE.test(text)) return undefined;
  const words = text.split(/\s+/);
  let word = words[0]!;
  if (HOSTS_SINKS.has(word) && words[1] !== undefined && !words[1].startsWith('#')) {
    word = words[1];
  }
  if (!word.includes('://')) {
    const hash = word.indexOf('#');
    if (hash === 0) return undefined;
    if (hash > 0) word = word.slice(0, hash);
  }
  return word;
}

/**
 * Converts a plain-text list. Each line gives the SCO of its indicator and, unless
 * `options.indicators` is false, an indicator. Lines that hold no recognised indicator are
 * reported with their number and skipped. The objects of each chunk of input come as one
 * array, so an import reads them without an asynchronous step per object.
 */
export async function* convertTextBatches(
  lines: LineReader,
  options: ConvertOptions,
  report: ConversionReport,
): AsyncGenerator<StixObject[]> {
  const emitter = new StixEmitter(report, options.warninglists);
  const indicator = listIndicator(options);
  for await (const batch of lines.batches()) {
    const objects: StixObject[] = [];
    for (const line of batch) {
      const value = lineIndicator(line.text);
      if (value === undefined) continue;
      report.records++;
      if (line.truncated) {
        report.skip(`line ${line.number}`, 'too-long', LINE_TOO_LONG);
        continue;
      }
      const observable = classify(value);
      if (!observable.ok) {
        report.skip(`line ${line.number}`, 'invalid-value', observable.reason);
        continue;
      }
      objects.push(...emitter.observable(observable.value, indicator, `line ${line.number}`));
    }
    if (objects.length > 0) yield objects;
  }
}
