/**
 * The LIKE operator matched in JavaScript, for the common patterns, without a call into RE2.
 * A call into re2-wasm costs about 2.5 µs even for a five-character value (measured on a
 * 2-core EPYC), more than the rest of a typical match. Glob libraries such as picomatch give
 * `/` a special meaning that LIKE does not have, so this is written by hand.
 *
 * The pattern is split at `%` into segments, where `_` is any one character. The first
 * segment must match at the start, the last at the end, and each segment between them at
 * its leftmost place after the previous one: taking the leftmost place never loses a match,
 * because a later segment can only gain from more room. Both strings must be free of UTF-16
 * surrogates, so one code unit is one code point as `_` expects. Where that or the work bound
 * below does not hold, the caller falls back to RE2.
 */

/**
 * Maximum length of a segment between two `%` that contains `_`. Such a segment is searched
 * for position by position, so the work is at most this many times the value's length. At 8
 * a hostile 1,000,000-character value costs about as long as RE2 takes for it; at 32 it took
 * eight times as long (measured on a 2-core EPYC).
 */
const MAX_WILDCARD_SEGMENT = 8;
const UNDERSCORE = 95;

export class LikeMatcher {
  private constructor(
    private readonly first: string,
    private readonly middle: readonly string[],
    /** The segment after the last `%`, or undefined when the pattern has no `%`. */
    private readonly last: string | undefined,
  ) {}

  /** Compiles an NFC pattern, or returns undefined when it needs RE2. */
  static compile(like: string): LikeMatcher | undefined {
    if (hasSurrogate(like)) return undefined;
    const segments = like.split('%');
    if (segments.length === 1) return new LikeMatcher(like, [], undefined);

    const middle = segments.slice(1, -1);
    const searchedSlowly = (segment: string) =>
      segment.includes('_') && segment.length > MAX_WILDCARD_SEGMENT;
    if (middle.some(searchedSlowly)) return undefined;
    return new LikeMatcher(segments[0]!, middle, segments.at(-1)!);
  }

  /**
   * Returns whether an NFC string matches, or undefined when it contains a surrogate and RE2
   * must decide.
   */
  test(text: string): boolean | undefined {
    if (hasSurrogate(text)) return undefined;
    const { first, last } = this;
    if (last === undefined) return text.length === first.length && matchesAt(text, 0, first);

    const end = text.length - last.length;
    if (end < first.length) return false;
    if (!matchesAt(text, 0, first) || !matchesAt(text, end, last)) return false;

    let position = first.length;
    for (const segment of this.middle) {
      const found = findSegment(text, segment, position, end);
      if (found < 0) return false;
      position = found + segment.length;
    }
    return true;
  }
}

function hasSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdfff) return true;
  }
  return false;
}

/** Checks `segment` against `text` at `position`, where `_` matches any character. */
function matchesAt(text: string, position: number, segment: string): boolean {
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code !== UNDERSCORE && code !== text.charCodeAt(position + i)) return false;
  }
  return true;
}

/** Returns the leftmost position in [from, end - length] where `segment` matches, or -1. */
function findSegment(text: string, segment: string, from: number, end: number): number {
  const lastStart = end - segment.length;
  if (!segment.includes('_')) {
    const found = text.indexOf(segment, from);
    return found >= 0 && found <= lastStart ? found : -1;
  }
  for (let position = from; position <= lastStart; position++) {
    if (matchesAt(text, position, segment)) return position;
  }
  return -1;
}
