/**
 * STIX 2.1 patterning language (STIX 2.1 section 9): parser entry point.
 */

/** A pattern that does not follow the grammar; `position` is a 0-based offset. */
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
 * Parses a STIX pattern and throws PatternSyntaxError when it is not valid.
 * NOTE: placeholder that accepts every non-empty string until the real parser lands.
 */
export function parsePattern(pattern: string): unknown {
  if (pattern.trim() === '') throw new PatternSyntaxError('the pattern is empty', 0);
  return pattern;
}
