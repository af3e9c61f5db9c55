/**
 * The LIKE and MATCHES operators (STIX 2.1 section 9). Both run on RE2 (the `re2-wasm`
 * package), whose matching time is linear in the input, so a hostile regular expression in
 * an indicator cannot stall the server as a backtracking engine can. RE2 has no
 * backreferences or lookaround; a pattern that uses them raises PatternEvaluationError.
 *
 * As in the OASIS reference matcher, both the pattern and a string value are put in Unicode
 * NFC before matching. A binary value is matched when every code point of the expression is
 * below 256: LIKE reads the bytes as UTF-8, MATCHES reads each byte as one character.
 */

import { RE2 } from 're2-wasm';

import type { StringLiteral } from './ast.ts';
import { PatternEvaluationError } from './errors.ts';

export interface TextMatcher {
  test(value: unknown): boolean;
}

const REGEX_METACHARACTERS = /[\\^$.|?*+()[\]{}]/g;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Builds the matcher for `LIKE 'pattern'`, where % is any run of characters and _ is one. */
export function compileLike(literal: StringLiteral): TextMatcher {
  const like = literal.value.normalize('NFC');
  let source = '\\A';
  for (const char of like) {
    if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(REGEX_METACHARACTERS, '\\$&');
  }
  source += '\\z';

  // The s flag lets % and _ match line breaks too: SQL LIKE has no notion of lines.
  const regex = compileRe2(source, 'su', literal);
  const bytesAllowed = isLatin1(like);
  return {
    test(value: unknown): boolean {
      if (typeof value === 'string') return regex.test(value.normalize('NFC'));
      if (value instanceof Uint8Array && bytesAllowed) {
        const text = decodeUtf8(value);
        return text !== undefined && regex.test(text.normalize('NFC'));
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
  const regex = compileRe2(source, 'u', literal);
  const bytesAllowed = isLatin1(source);
  return {
    test(value: unknown): boolean {
      if (typeof value === 'string') return regex.test(value.normalize('NFC'));
      if (value instanceof Uint8Array && bytesAllowed) return regex.test(latin1String(value));
      return false;
    },
  };
}

function compileRe2(source: string, flags: string, literal: StringLiteral): RE2 {
  try {
    return new RE2(source, flags);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PatternEvaluationError(
      `regular expression ${literal.raw} at ${literal.start} is not supported by RE2 ` +
        `(no backreferences or lookaround): ${reason}`,
      literal.start,
    );
  }
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
