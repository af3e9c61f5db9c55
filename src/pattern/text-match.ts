/**
 * The LIKE and MATCHES operators (STIX 2.1 section 9). Both run on RE2 (see re2.ts), whose
 * matching time is linear in the input. RE2 has no backreferences or lookaround, and a
 * pattern that uses them raises PatternEvaluationError.
 *
 * As in the OASIS reference matcher, both the pattern and a string value are put in Unicode
 * NFC before matching. A binary value is matched when every code point of the expression is
 * below 256: LIKE reads the bytes as UTF-8, MATCHES reads each byte as one character.
 */

import type { StringLiteral } from './ast.ts';
import { LikeMatcher } from './like.ts';
import { CompiledRegex, MAX_REGEX_INPUT_LENGTH, regexKey } from './re2.ts';

export interface TextMatcher {
  test(value: unknown): boolean;
  /** Frees the compiled expression; see re2.ts. */
  dispose(): void;
}

const REGEX_METACHARACTERS = /[\\^$.|?*+()[\]{}]/g;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The parts of a compiled LIKE or MATCHES literal that depend on its text alone. */
interface Translation {
  /** The RE2 expression and its flags. */
  source: string;
  flags: string;
  /** The key CompiledRegex shares the expression under, built once so its hash is kept. */
  key: string;
  /** The JavaScript LIKE matcher, when one applies. */
  like: LikeMatcher | undefined;
  /** Whether binary values may be matched: every code point of the expression is below 256. */
  bytesAllowed: boolean;
}

/**
 * Translations by literal text, because matching a pattern given as text compiles the same
 * literals over and over. Only literals of up to MAX_TRANSLATED_LENGTH characters are kept,
 * which bounds the two maps to about 16 MB, and each is cleared when full.
 */
const likeTranslations = new Map<string, Translation>();
const matchesTranslations = new Map<string, Translation>();
const MAX_TRANSLATIONS = 1024;
const MAX_TRANSLATED_LENGTH = 1024;

function translation(
  cache: Map<string, Translation>,
  text: string,
  translate: (text: string) => Translation,
): Translation {
  let found = cache.get(text);
  if (!found) {
    found = translate(text);
    // A long literal is compiled rarely and would hold memory, so it is not kept.
    if (text.length <= MAX_TRANSLATED_LENGTH) {
      if (cache.size >= MAX_TRANSLATIONS) cache.clear();
      cache.set(text, found);
    }
  }
  return found;
}

function translateLike(text: string): Translation {
  const like = toNfc(text);
  let source = '\\A';
  for (const char of like) {
    if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(REGEX_METACHARACTERS, '\\$&');
  }
  source += '\\z';
  // The s flag lets % and _ match line breaks too: SQL LIKE has no notion of lines.
  const flags = 'su';
  const bytesAllowed = isLatin1(like);
  return {
    source,
    flags,
    key: regexKey(source, flags),
    like: LikeMatcher.compile(like),
    bytesAllowed,
  };
}

function translateMatches(text: string): Translation {
  const source = toNfc(text);
  const flags = 'u';
  const bytesAllowed = isLatin1(source);
  return { source, flags, key: regexKey(source, flags), like: undefined, bytesAllowed };
}

/**
 * Builds the matcher for `LIKE 'pattern'`, where % is any run of characters and _ is one.
 * With `fast`, LikeMatcher decides where it can and RE2 only where it cannot.
 */
export function compileLike(literal: StringLiteral, fast = true): TextMatcher {
  const found = translation(likeTranslations, literal.value, translateLike);
  const regex = new CompiledRegex(found.source, found.flags, literal, found.key);
  return new LikeTextMatcher(regex, fast ? found.like : undefined, found.bytesAllowed);
}

/**
 * Builds the matcher for `MATCHES 'regex'`, which succeeds when the expression matches
 * anywhere in the value (the pattern is unanchored unless it uses ^ or $).
 * NOTE: RE2 syntax is close to PCRE but not equal to it: \d and \w are ASCII-only, and $
 * matches only at the very end, not before a final line break.
 */
export function compileMatches(literal: StringLiteral): TextMatcher {
  const found = translation(matchesTranslations, literal.value, translateMatches);
  const regex = new CompiledRegex(found.source, found.flags, literal, found.key);
  return new MatchesTextMatcher(regex, found.bytesAllowed);
}

// The matchers are classes rather than closures: a pattern given as text compiles them on
// every match, and a class instance is cheaper to create than a set of closures.

class LikeTextMatcher implements TextMatcher {
  constructor(
    private readonly regex: CompiledRegex,
    private readonly like: LikeMatcher | undefined,
    private readonly bytesAllowed: boolean,
  ) {}

  test(value: unknown): boolean {
    if (typeof value === 'string') return this.matches(toNfc(value));
    if (value instanceof Uint8Array && this.bytesAllowed) {
      const text = decodeUtf8(value);
      return text !== undefined && this.matches(toNfc(text));
    }
    return false;
  }

  dispose(): void {
    this.regex.dispose();
  }

  private matches(text: string): boolean {
    // RE2 raises for values over its length limit, which the fast path keeps.
    if (this.like && text.length <= MAX_REGEX_INPUT_LENGTH) {
      const matched = this.like.test(text);
      if (matched !== undefined) return matched;
    }
    return this.regex.test(text);
  }
}

class MatchesTextMatcher implements TextMatcher {
  constructor(
    private readonly regex: CompiledRegex,
    private readonly bytesAllowed: boolean,
  ) {}

  test(value: unknown): boolean {
    if (typeof value === 'string') return this.regex.test(toNfc(value));
    if (value instanceof Uint8Array && this.bytesAllowed) {
      return this.regex.test(latin1String(value));
    }
    return false;
  }

  dispose(): void {
    this.regex.dispose();
  }
}

/**
 * Puts a string in NFC. Text whose code points are all below U+0300, where the combining
 * diacritical marks start, is already in NFC and skips the ICU call. fast-paths.test.ts
 * checks this for every such character and pair of characters.
 */
function toNfc(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x300) return text.normalize('NFC');
  }
  return text;
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 255) return false;
  }
  return true;
}

function latin1String(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
