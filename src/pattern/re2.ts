/**
 * Regular expressions for LIKE and MATCHES on RE2, through the `re2-wasm` package (RE2
 * compiled to WebAssembly). RE2 matches in time linear in the input, so a hostile expression
 * in an indicator cannot stall the process as a backtracking engine such as RegExp can.
 *
 * re2-wasm 1.0.2 runs in a fixed 16 MB WebAssembly heap and frees nothing on its own, which
 * this module works around:
 * - every compiled expression is released with `dispose()` once it is no longer needed;
 * - input longer than MAX_REGEX_INPUT_LENGTH is refused instead of being copied into the heap;
 * - when the heap runs out anyway (one expression such as `\p{L}{500}` is enough), the
 *   engine aborts with a WebAssembly.RuntimeError. The instance is then dropped, a fresh one
 *   is loaded for later calls, and the caller gets a PatternEvaluationError.
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

/** Replaces an engine that aborted, unless that already happened. */
function discardEngine(generation: number): void {
  if (engine?.generation === generation) engine = loadEngine();
}

/**
 * A compiled expression. If the engine was replaced after an abort, the next test() compiles
 * the expression again in the new engine, so a long-lived handle keeps working.
 */
export class CompiledRegex {
  private regex: Re2Type | undefined;
  private generation = 0;
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
  ) {
    this.description = `${literal.raw} at ${literal.start}`;
    this.compile();
  }

  private compile(): Re2Type {
    const { RE2, generation } = currentEngine();
    try {
      this.regex = new RE2(this.source, this.flags);
      this.generation = generation;
      return this.regex;
    } catch (error) {
      throw translateError(error, generation, this.description, this.literal.start);
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

    const regex =
      this.regex && this.generation === engine?.generation ? this.regex : this.compile();
    try {
      return regex.test(input);
    } catch (error) {
      throw translateError(error, this.generation, this.description);
    }
  }

  /** Frees the expression inside the WebAssembly heap; later test() calls raise. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // NOTE: `wrapper` is private in re2-wasm's typings. It is the Embind handle of the
    // compiled RE2 object, and delete() is the only way to free it (checked on 1.0.2).
    if (this.regex && this.generation === engine?.generation) {
      (this.regex as unknown as { wrapper: { delete(): void } }).wrapper.delete();
    }
    this.regex = undefined;
  }
}

function translateError(
  error: unknown,
  generation: number,
  description: string,
  position?: number,
): Error {
  // WebAssembly.RuntimeError, which the TypeScript libraries used here do not declare.
  if (error instanceof Error && error.name === 'RuntimeError') {
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
