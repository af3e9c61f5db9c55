/**
 * Splits a byte stream into text lines as it arrives, for the bulk look-up of files of
 * millions of lines: nothing but the current line is held. Bytes are read as UTF-8, with
 * invalid sequences replaced, since logs are not always clean. A line longer than
 * MAX_LINE_LENGTH keeps its start; the rest is dropped.
 */
import { MAX_LINE_LENGTH } from './check.ts';

export async function* readLines(
  source: AsyncIterable<Uint8Array>,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  /** The kept start of a line that grew past the limit; its rest is being dropped. */
  let head: string | undefined;

  const finish = (line: string): string => {
    const text = head ?? line;
    head = undefined;
    const cut = text.length > MAX_LINE_LENGTH ? text.slice(0, MAX_LINE_LENGTH) : text;
    return cut.endsWith('\r') ? cut.slice(0, -1) : cut;
  };

  for await (const chunk of source) {
    onBytes?.(chunk.byteLength);
    const text = pending + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline < 0) break;
      yield finish(text.slice(start, newline));
      start = newline + 1;
    }
    pending = text.slice(start);
    if (head === undefined && pending.length > MAX_LINE_LENGTH) head = pending;
    if (head !== undefined) pending = '';
  }
  pending += decoder.decode();
  if (head !== undefined || pending !== '') yield finish(pending);
}
