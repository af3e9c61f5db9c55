/**
 * Splits a byte stream into lines without holding more than one line and one chunk, so a
 * feed of any size reads in constant memory. Node's readline would buffer a line of any
 * length; this reader cuts a line longer than the limit and reports it instead.
 */

export interface Line {
  /** 1-based line number. */
  number: number;
  /** The line without its end (`\n` or `\r\n`), or its first maxLineLength characters. */
  text: string;
  /** The line was longer than maxLineLength and `text` is its start only. */
  truncated: boolean;
}

/** Maximum length of a line kept whole, in bytes. A longer line is cut and marked truncated. */
export const MAX_LINE_LENGTH = 65536;

export interface LineReaderOptions {
  maxLineLength?: number;
}

/**
 * Reads UTF-8 lines from `source`. Invalid UTF-8 bytes become U+FFFD, which no
 * normaliser accepts, so such a line is rejected with its number. A byte order mark at the
 * start is dropped. `bytesRead` counts the bytes consumed so far, for progress bars.
 */
export class LineReader implements AsyncIterable<Line> {
  bytesRead = 0;
  private readonly maxLineLength: number;

  constructor(
    private readonly source: AsyncIterable<Uint8Array | string>,
    options: LineReaderOptions = {},
  ) {
    this.maxLineLength = options.maxLineLength ?? MAX_LINE_LENGTH;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Line> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * Yields the lines of each chunk of input as one array, which saves a converter an
   * asynchronous step per line.
   */
  async *batches(): AsyncGenerator<Line[]> {
    // Lines end at a 0x0A byte, which never occurs inside a multi-byte UTF-8 character, so
    // each line decodes on its own. The decoder drops a byte order mark at a line's start.
    const decoder = new TextDecoder('utf-8');
    let number = 0;
    let pending: Buffer[] = [];
    let pendingLength = 0;
    let truncated = false;

    const finishLine = (tail: Buffer): Line => {
      const parts = pendingLength > 0 ? Buffer.concat([...pending, tail]) : tail;
      pending = [];
      pendingLength = 0;
      let end = parts.length;
      if (end > 0 && parts[end - 1] === 13) end--;
      const line: Line = {
        number: ++number,
        text: decoder.decode(parts.subarray(0, Math.min(end, this.maxLineLength))),
        truncated: truncated || end > this.maxLineLength,
      };
      truncated = false;
      return line;
    };

    for await (const chunk of this.source) {
      const bytes = toBuffer(chunk);
      const batch: Line[] = [];
      let start = 0;
      for (let end = bytes.indexOf(10, start); end !== -1; end = bytes.indexOf(10, start)) {
        batch.push(finishLine(bytes.subarray(start, end)));
        start = end + 1;
      }
      const rest = bytes.subarray(start);
      if (pendingLength + rest.length <= this.maxLineLength + 1) {
        pending.push(rest);
        pendingLength += rest.length;
      } else {
        // Keep only the start of an overlong line; the rest is counted but not stored.
        truncated = true;
        const room = Math.max(0, this.maxLineLength + 1 - pendingLength);
        if (room > 0) {
          pending.push(rest.subarray(0, room));
          pendingLength += room;
        }
      }
      this.bytesRead += bytes.length;
      if (batch.length > 0) yield batch;
    }
    if (pendingLength > 0 || truncated) yield [finishLine(Buffer.alloc(0))];
  }
}

/** Returns a chunk as a Buffer without copying its bytes. */
function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk)
    ? chunk
    : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** The report message for a line cut at MAX_LINE_LENGTH. */
export const LINE_TOO_LONG = `the line is longer than ${MAX_LINE_LENGTH} bytes and was not read`;
