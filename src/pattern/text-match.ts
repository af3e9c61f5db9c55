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
import { CompiledRegex, MAX_REGEX_INPUT_LENGTH } from './re2.ts';

export interface TextMatcher {
  test(value: unknown): boolean;
  /** Frees the compiled expression; see re2.ts. */
  dispose(): void;
}

const REGEX_METACHARACTERS = /[\\^$.|?*+()[\]{}]/g;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Builds the matcher for `LIKE 'pattern'`, where % is any run of characters and _ is one.
 * With `fast`, LikeMatcher decides where it can and RE2 only where it cannot.
 */
export function compileLike(literal: StringLiteral, fast = true): TextMatcher {
  const like = literal.value.normalize('NFC');
  let source = '\\A';
  for (const char of like) {
    if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(REGEX_METACHARACTERS, '\\$&');
  }
  source += '\\z';

  // The s flag lets % and _ match line breaks too: SQL LIKE has no notion of lines.
  const regex = new CompiledRegex(source, 'su', literal);
  const matcher = fast ? LikeMatcher.compile(like) : undefined;
  const matches = (text: string): boolean => {
    // RE2 raises for values over its length limit, which the fast path keeps.
    if (matcher && text.length <= MAX_REGEX_INPUT_LENGTH) {
      const matched = matcher.test(text);
      if (matched !== undefined) return matched;
    }
    return regex.test(text);
  };
  const bytesAllowed = isLatin1(like);
  return {
    dispose: () => regex.dispose(),
    test(value: unknown): boolean {
      if (typeof value === 'string') return matches(toNfc(value));
      if (value instanceof Uint8Array && bytesAllowed) {
        const text = decodeUtf8(value);
        return text !== undefined && matches(toNfc(text));
      }
      return false;
    },
  };
}

/**
 * Builds the matcher for `MATCHES 'regex'`, which succeeds when the expression matches
 * anywhere in the value (the pattern is unanchored unless it uses ^ or $).
 * NOTE: RE2 syntax is close to PCRE but not equal to it: \d and \w are ASCII-only, and $
 * matches only at the very end, not before a final line break.
 */
export function compileMatches(literal: StringLiteral): TextMatcher {
  const source = literal.value.normalize('NFC');
  const regex = new CompiledRegex(source, 'u', literal);
  const bytesAllowed = isLatin1(source);
  return {
    dispose: () => regex.dispose(),
    test(value: unknown): boolean {
      if (typeof value === 'string') return regex.test(toNfc(value));
      if (value instanceof Uint8Array && bytesAllowed) return regex.test(latin1String(value));
      return false;
    },
  };
}

/**
 * Puts a string in NFC. Text whose code points are all below U+0300 (where the combining
 * diacritical marks start) is already in NFC and skips the ICU call; fast-paths.test.ts
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
