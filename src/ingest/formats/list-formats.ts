/**
 * Starts the conversion of the list formats (plain text, free text, CSV). These are the
 * formats the conversion worker runs, so this module loads only their converters.
 */
import { CsvConverter } from './csv.ts';
import { convertFreeText } from './freetext.ts';
import type { Conversion, ConversionInput, FormatOptions } from './index.ts';
import { LineReader } from './lines.ts';
import { ConversionReport } from './report.ts';
import { convertTextBatches } from './text.ts';

/** Starts converting `input` from a list format; the objects are produced as they are read. */
export function convertListFormat(
  format: 'text' | 'freetext' | 'csv',
  input: ConversionInput,
  options: FormatOptions,
): Conversion {
  const report = new ConversionReport();
  switch (format) {
    case 'text': {
      const lines = new LineReader(input.stream);
      const batches = convertTextBatches(lines, options, report);
      return {
        objects: flatten(batches),
        batches,
        report,
        bytesRead: () => lines.bytesRead,
        bulk: true,
      };
    }
    case 'freetext': {
      const lines = new LineReader(input.stream);
      return {
        objects: convertFreeText(lines, options, report),
        report,
        bytesRead: () => lines.bytesRead,
        bulk: true,
      };
    }
    case 'csv': {
      const converter = new CsvConverter(
        input.stream,
        { ...options, mapping: options.csvMapping },
        report,
      );
      return { objects: converter, report, bytesRead: () => converter.bytesRead, bulk: true };
    }
  }
}

async function* flatten<T>(batches: AsyncIterable<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield* batch;
}
