/**
 * Streams selected parts of a JSON document. A caller decides, for each value by its path,
 * whether to build it (`assemble`), walk into it (`descend`) or pass over it (`skip`), so a
 * large document is read with the memory of its largest assembled part. The stream-json
 * tokenizer is called synchronously, as in bundle-reader.ts, because its async pipeline
 * costs a step per token.
 */
import { getManyValues, none, type Many } from 'stream-chain/core';
import Assembler from 'stream-json/assembler.js';
import { jsonParser, type Token } from 'stream-json/parser.js';
import { CairnError } from '../../errors.ts';

export type JsonPath = ReadonlyArray<string | number>;
export type Selection = 'assemble' | 'descend' | 'skip';

export type JsonEvent =
  | { kind: 'value'; path: JsonPath; value: unknown }
  | { kind: 'enter'; path: JsonPath }
  | { kind: 'leave'; path: JsonPath }
  | { kind: 'skipped'; path: JsonPath };

type Tokenizer = (input: string | typeof none) => Many<Token> | typeof none;

interface Frame {
  path: JsonPath;
  isArray: boolean;
  key: string;
  index: number;
}

/** Bytes handed to the tokenizer at once. */
const SLICE_BYTES = 16 * 1024;

/** Maximum length of a single string or key, in characters. */
const MAX_STRING_LENGTH = 2 ** 25;

export interface JsonStreamOptions {
  /** Called with the number of bytes consumed after each slice, for progress. */
  onBytes?: (bytes: number) => void;
  /** Names the input in error messages. */
  name?: string;
  /** Largest assembled value, in characters of its keys, strings and numbers. */
  maxValueSize?: number;
}

/**
 * Default largest assembled value: 32 Mi characters, the object limit of bundle-reader.ts.
 * A larger one stops the read with `payload-too-large` instead of filling memory.
 */
export const MAX_VALUE_SIZE = 2 ** 25;

/**
 * Yields `enter`/`leave` for descended containers, `value` for assembled values and for
 * scalars met while descending, and `skipped` for values passed over. `select` runs ahead
 * of the events (a slice of input at a time), so it must not depend on them. Throws CairnError `invalid-json` or `invalid-encoding` when
 * the input is not JSON, naming the byte range.
 */
export async function* streamJson(
  source: AsyncIterable<Uint8Array | string>,
  select: (path: JsonPath) => Selection,
  options: JsonStreamOptions = {},
): AsyncGenerator<JsonEvent> {
  const tokenizer = jsonParser({
    streamValues: false,
    maxPackedLength: MAX_STRING_LENGTH,
  }) as unknown as Tokenizer;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const name = options.name ?? 'the input';
  const walker = new Walker(select, options.maxValueSize ?? MAX_VALUE_SIZE, name);
  let bytes = 0;

  const feed = (text: string | typeof none, length: number): JsonEvent[] => {
    let result;
    try {
      result = tokenizer(text);
    } catch (error) {
      const detail = (error as Error).message.replace(
        /^(parser: |Parser cannot parse input: )/,
        '',
      );
      const message =
        text === none
          ? `${name} ends before the JSON is complete`
          : `invalid JSON in ${name} between bytes ${bytes} and ${bytes + length}: ${detail}`;
      throw new CairnError('invalid-json', message, { byte_offset: bytes });
    }
    bytes += length;
    return result === none ? [] : walker.consume(getManyValues(result));
  };

  for await (const chunk of source) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (let start = 0; start < data.length; start += SLICE_BYTES) {
      const slice = data.subarray(start, start + SLICE_BYTES);
      let text: string;
      try {
        text = decoder.decode(slice, { stream: true });
      } catch {
        throw new CairnError('invalid-encoding', `${name} is not valid UTF-8 near byte ${bytes}`, {
          byte_offset: bytes,
        });
      }
      yield* feed(text, slice.length);
      options.onBytes?.(bytes);
    }
  }
  yield* feed(none, 0);
  if (!walker.complete)
    throw new CairnError('invalid-json', `${name} ends before the JSON is complete`);
}

/** Follows the token stream, keeping the path of the current value. */
class Walker {
  complete = false;
  private readonly frames: Frame[] = [];
  private assembling:
    { assembler: Assembler; path: JsonPath; depth: number; size: number } | undefined;
  private skipDepth = 0;
  private started = false;

  constructor(
    private readonly select: (path: JsonPath) => Selection,
    private readonly maxValueSize: number,
    private readonly name: string,
  ) {}

  consume(tokens: Token[]): JsonEvent[] {
    const events: JsonEvent[] = [];
    for (const token of tokens) this.token(token, events);
    return events;
  }

  private token(token: Token, events: JsonEvent[]): void {
    const change = depthChange(token);
    if (this.assembling) {
      const value = (token as { value?: unknown }).value;
      this.assembling.size += typeof value === 'string' ? value.length : 1;
      if (this.assembling.size > this.maxValueSize) {
        throw new CairnError(
          'payload-too-large',
          `${this.name}: the value at ${this.assembling.path.join('.') || 'the top'} is larger than ${this.maxValueSize} characters of keys, strings and numbers`,
        );
      }
      this.assembling.assembler.consume(token);
      this.assembling.depth += change;
      if (this.assembling.depth === 0) {
        events.push({
          kind: 'value',
          path: this.assembling.path,
          value: this.assembling.assembler.current,
        });
        this.assembling = undefined;
        this.valueDone();
      }
      return;
    }
    if (this.skipDepth > 0) {
      this.skipDepth += change;
      if (this.skipDepth === 0) this.valueDone();
      return;
    }
    if (token.name === 'keyValue') {
      this.frames.at(-1)!.key = token.value;
      return;
    }
    if (token.name === 'endObject' || token.name === 'endArray') {
      const frame = this.frames.pop()!;
      events.push({ kind: 'leave', path: frame.path });
      this.valueDone();
      return;
    }

    // The start of a value: a container or a scalar.
    const path = this.nextPath();
    const selection = this.select(path);
    const isContainer = token.name === 'startObject' || token.name === 'startArray';
    if (selection === 'skip') {
      events.push({ kind: 'skipped', path });
      if (isContainer) this.skipDepth = 1;
      else this.valueDone();
      return;
    }
    if (selection === 'assemble' || !isContainer) {
      const assembler = new Assembler();
      assembler.consume(token);
      if (isContainer) {
        this.assembling = { assembler, path, depth: 1, size: 1 };
        return;
      }
      events.push({ kind: 'value', path, value: assembler.current });
      this.valueDone();
      return;
    }
    this.frames.push({ path, isArray: token.name === 'startArray', key: '', index: 0 });
    events.push({ kind: 'enter', path });
  }

  private nextPath(): JsonPath {
    const parent = this.frames.at(-1);
    if (!parent) {
      this.started = true;
      return [];
    }
    return [...parent.path, parent.isArray ? parent.index : parent.key];
  }

  /** Moves past a finished value: the next array index, or the end of the document. */
  private valueDone(): void {
    const parent = this.frames.at(-1);
    if (parent?.isArray) parent.index++;
    if (!parent && this.started) this.complete = true;
  }
}

function depthChange(token: Token): number {
  if (token.name === 'startObject' || token.name === 'startArray') return 1;
  if (token.name === 'endObject' || token.name === 'endArray') return -1;
  return 0;
}
