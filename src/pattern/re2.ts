/**
 * Regular expressions for LIKE and MATCHES on RE2, through the `re2-wasm` package (RE2
 * compiled to WebAssembly). RE2 matches in time linear in the input, so a hostile expression
 * in an indicator cannot stall the process as a backtracking engine such as RegExp can.
 *
 * re2-wasm 1.0.2 runs in a fixed 16 MB WebAssembly heap and frees nothing on its own, which
 * this module works around:
 * - every compiled expression is released with `dispose()` once it is no longer needed, and
 *   only the MAX_IDLE_REGEXES most recently released ones stay compiled for reuse;
 * - input longer than MAX_REGEX_INPUT_LENGTH is refused instead of being copied into the heap;
 * - when the heap runs out anyway (one expression such as `\p{L}{500}` is enough), the
 *   engine aborts with a WebAssembly.RuntimeError. The instance is then dropped and a fresh
 *   one is loaded. The compile or test is tried once more there, and if it aborts again the
 *   caller gets a PatternEvaluationError.
 */

import { createRequire } from 'node:module';
import { sep } from 'node:path';

import type { RE2 as Re2Type } from 're2-wasm';

import { PatternEvaluationError } from './errors.ts';

/** Maximum length of a string handed to RE2, in UTF-16 code units (at most 3 MB of UTF-8). */
export const MAX_REGEX_INPUT_LENGTH = 1_000_000;

type Re2Constructor = new (pattern: string, flags?: string) => Re2Type;

const require = createRequire(import.meta.url);
let engine: { RE2: Re2Constructor; generation: number } | undefined;

/**
 * Loads a fresh re2-wasm instance. Dropping the package from the require cache makes the
 * next require instantiate a new WebAssembly module with an empty heap. The Emscripten glue
 * binds its error printer to console.warn at load time. Swapping console.warn during the load
 * keeps its abort messages out of the server's stderr, and the RuntimeError carries them.
 */
function loadEngine(): { RE2: Re2Constructor; generation: number } {
  for (const key of Object.keys(require.cache)) {
    if (key.includes(`${sep}re2-wasm${sep}build${sep}`)) delete require.cache[key];
  }

  const warn = console.warn;
  console.warn = () => {};
  try {
    const loaded = require('re2-wasm') as { RE2: Re2Constructor };
    return { RE2: loaded.RE2, generation: (engine?.generation ?? 0) + 1 };
  } finally {
    console.warn = warn;
  }
}

function currentEngine(): { RE2: Re2Constructor; generation: number } {
  engine ??= loadEngine();
  return engine;
}

/**
 * Replaces an engine that aborted, unless that already happened. Idle cached expressions
 * lived in the dropped heap and are forgotten, while ones in use compile again on next use.
 */
function discardEngine(generation: number): void {
  if (engine?.generation !== generation) return;
  engine = loadEngine();
  for (const entry of idle) shared.delete(entry.key);
  idle.clear();
}

/** One compiled expression, shared by every CompiledRegex of the same source and flags. */
interface SharedRegex {
  key: string;
  regex: Re2Type | undefined;
  /** The engine generation `regex` was compiled in. */
  generation: number;
  /** How many undisposed CompiledRegex handles use it. */
  users: number;
}

/**
 * How many expressions no handle uses are kept compiled, least recently released first out.
 * Matching a pattern given as text compiles it and disposes it every time, and RE2 takes
 * about 0.4 ms to compile even `\Ahe.*\z` in re2-wasm (measured on a 2-core EPYC), so
 * without this cache compiling would cost far more than matching. Kept small because idle
 * expressions hold memory in the 16 MB heap.
 */
const MAX_IDLE_REGEXES = 64;
const shared = new Map<string, SharedRegex>();
/** Entries with no users, in the order they were released; a Set keeps insertion order. */
const idle = new Set<SharedRegex>();

/** Returns the key under which handles of one source and flags share an expression. */
export function regexKey(source: string, flags: string): string {
  return `${flags}/${source}`;
}

/** Counts the compiled expressions kept, in use or idle, for tests. */
export function cachedRegexCounts(): { compiled: number; idle: number } {
  return { compiled: shared.size, idle: idle.size };
}

function release(entry: SharedRegex): void {
  entry.users--;
  if (entry.users > 0) return;
  idle.add(entry);
  if (idle.size <= MAX_IDLE_REGEXES) return;

  const oldest = idle.values().next().value!;
  idle.delete(oldest);
  shared.delete(oldest.key);
  freeRegex(oldest);
}

function freeRegex(entry: SharedRegex): void {
  // NOTE: `wrapper` is private in re2-wasm's typings. It is the Embind handle of the
  // compiled RE2 object, and delete() is the only way to free it (checked on 1.0.2).
  if (entry.regex && entry.generation === engine?.generation) {
    (entry.regex as unknown as { wrapper: { delete(): void } }).wrapper.delete();
  }
  entry.regex = undefined;
}

/**
 * A handle on a compiled expression. Handles of the same source and flags share one RE2
 * object, which stays compiled for a while after the last handle is disposed. If the engine
 * was replaced after an abort, the next test() compiles the expression again in the new
 * engine, so a long-lived handle keeps working.
 */
export class CompiledRegex {
  private readonly entry: SharedRegex;
  private disposed = false;
  private readonly description: string;

  /**
   * Compiles `source`, or raises PatternEvaluationError naming the pattern literal it came
   * from when RE2 rejects it or runs out of memory compiling it.
   */
  constructor(
    private readonly source: string,
    private readonly flags: string,
    private readonly literal: { raw: string; start: number },
    /** regexKey(source, flags), for callers that keep it to skip building it again. */
    key = regexKey(source, flags),
  ) {
    this.description = `${literal.raw} at ${literal.start}`;
    const found = shared.get(key);
    if (found) {
      idle.delete(found);
      found.users++;
      this.entry = found;
      return;
    }
    this.entry = { key, regex: undefined, generation: 0, users: 1 };
    this.compile();
    shared.set(key, this.entry);
  }

  /**
   * Compiles into the current engine. When the engine aborts, the compile is tried once more
   * in a fresh one, because the heap may have been filled by other expressions.
   */
  private compile(): Re2Type {
    for (let attempt = 0; ; attempt++) {
      const { RE2, generation } = currentEngine();
      try {
        this.entry.regex = new RE2(this.source, this.flags);
        this.entry.generation = generation;
        return this.entry.regex;
      } catch (error) {
        const translated = translateError(error, generation, this.description, this.literal.start);
        if (attempt > 0 || !isAbort(error)) throw translated;
      }
    }
  }

  test(input: string): boolean {
    if (this.disposed) {
      throw new PatternEvaluationError(`regular expression ${this.description} was disposed`);
    }
    if (input.length > MAX_REGEX_INPUT_LENGTH) {
      throw new PatternEvaluationError(
        `value of ${input.length} characters is too long for regular expression ` +
          `${this.description}; the limit is ${MAX_REGEX_INPUT_LENGTH}`,
      );
    }

    // As in compile(), an abort is tried once more in a fresh engine.
    const entry = this.entry;
    for (let attempt = 0; ; attempt++) {
      const regex =
        entry.regex && entry.generation === engine?.generation ? entry.regex : this.compile();
      const generation = entry.generation;
      try {
        return regex.test(input);
      } catch (error) {
        const translated = translateError(error, generation, this.description);
        if (attempt > 0 || !isAbort(error)) throw translated;
      }
    }
  }

  /** Releases the expression; later test() calls on this handle raise. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    release(this.entry);
  }
}

/**
 * Returns whether the engine aborted: a WebAssembly.RuntimeError, which the TypeScript
 * libraries used here do not declare.
 */
function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'RuntimeError';
}

function translateError(
  error: unknown,
  generation: number,
  description: string,
  position?: number,
): Error {
  if (isAbort(error)) {
    discardEngine(generation);
    return new PatternEvaluationError(
      `regular expression ${description} needs more memory than the RE2 engine has; simplify it`,
      position,
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new PatternEvaluationError(
    `regular expression ${description} is not supported by RE2 ` +
      `(no backreferences or lookaround): ${reason}`,
    position,
  );
}
