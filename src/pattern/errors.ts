/** Errors raised by the pattern parser and the pattern evaluator. */

/** A pattern that does not follow the grammar; `position` is a 0-based offset into it. */
export class PatternSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'PatternSyntaxError';
  }
}

/**
 * A pattern that parses but cannot be evaluated, such as a MATCHES regular expression that
 * RE2 does not support or a timestamp for a day that does not exist.
 */
export class PatternEvaluationError extends Error {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(message);
    this.name = 'PatternEvaluationError';
  }
}
