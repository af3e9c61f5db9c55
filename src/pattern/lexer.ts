/**
 * Tokenizer for STIX 2.1 patterns (STIX 2.1 section 9 and the lexer rules of the OASIS
 * STIXPattern ANTLR grammar). Tokens are read on demand so that the first error in reading
 * order is the one reported.
 */

import type { Instant } from './ast.ts';
import { PatternSyntaxError } from './errors.ts';
import { daysInMonth, instantFromFields } from './timestamps.ts';

export const KEYWORDS = [
  'AND',
  'OR',
  'NOT',
  'FOLLOWEDBY',
  'LIKE',
  'MATCHES',
  'ISSUPERSET',
  'ISSUBSET',
  'EXISTS',
  'LAST',
  'IN',
  'START',
  'STOP',
  'SECONDS',
  'WITHIN',
  'REPEATS',
  'TIMES',
] as const;

export type Keyword = (typeof KEYWORDS)[number];

const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

export type Punctuation = '[' | ']' | '(' | ')' | ':' | '.' | ',' | '*';
export type OperatorToken = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type TokenKind =
  | Punctuation
  | OperatorToken
  | Keyword
  /** `[a-zA-Z_][a-zA-Z0-9_]*`: an object type or a property name. */
  | 'identifier'
  /** An identifier with a hyphen, allowed only as an object type. */
  | 'hyphenated-identifier'
  | 'string'
  | 'integer'
  | 'float'
  | 'boolean'
  | 'hex'
  | 'binary'
  | 'timestamp'
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** The source text of the token. */
  text: string;
  start: number;
  end: number;
  /** Decoded value of a string, number, boolean, hex, binary or timestamp token. */
  value?: string | number | boolean | Uint8Array | Instant;
  /** For a timestamp: false when the grammar accepts it but the day does not exist (April 31). */
  dateExists?: boolean;
}

const FLOAT = /[+-]?[0-9]*\.[0-9]+/y;
const INTEGER = /[+-]?(?:0|[1-9][0-9]*)/y;
const HEX = /h'((?:[0-9A-Fa-f]{2})*)'/y;
const BINARY =
  /b'((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==))'/y;
const TIMESTAMP =
  /t'([0-9]{4})-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(?:\.([0-9]+))?Z'/y;

/** The one-letter prefixes of hex, binary and timestamp literals, with the form each takes. */
const TYPED_LITERALS: ReadonlyMap<string, { regex: RegExp; name: string; form: string }> = new Map([
  ['h', { regex: HEX, name: 'hex', form: "h'' with pairs of hex digits" }],
  ['b', { regex: BINARY, name: 'binary', form: "b'' with base64 text" }],
  ['t', { regex: TIMESTAMP, name: 'timestamp', form: "t'YYYY-MM-DDThh:mm:ss[.fraction]Z'" }],
]);

/** Describes a token for an error message: its text in quotes, or "end of pattern". */
export function describeToken(token: Token): string {
  return token.kind === 'eof' ? 'end of pattern' : `'${token.text}'`;
}

export class Lexer {
  private offset = 0;

  constructor(private readonly source: string) {}

  /** Reads the next token, skipping whitespace and comments. */
  next(): Token {
    this.skipIgnored();
    const start = this.offset;
    const source = this.source;
    if (start >= source.length) return token('eof', '', start, start);

    const char = source[start] as string;
    const code = source.charCodeAt(start);
    if ((code >= 48 && code <= 57) || char === '+' || char === '-') return this.readNumber();
    if (char === '.' && isDigit(source.charCodeAt(start + 1))) return this.readNumber();
    if (char === "'") return this.readString();
    if (isIdentifierStart(code)) return this.readWord();
    return this.readSymbol(char);
  }

  /** Skips whitespace and comments, reading characters in a loop because it runs per token. */
  private skipIgnored(): void {
    const source = this.source;
    for (;;) {
      const code = source.charCodeAt(this.offset);
      if (isWhitespace(code)) {
        this.offset++;
      } else if (code === 47 /* / */ && source[this.offset + 1] === '*') {
        const close = source.indexOf('*/', this.offset + 2);
        if (close < 0)
          throw new PatternSyntaxError(`unterminated comment at ${this.offset}`, this.offset);
        this.offset = close + 2;
      } else if (code === 47 && source[this.offset + 1] === '/') {
        const lineEnd = source.slice(this.offset).search(/[\r\n]/);
        this.offset = lineEnd < 0 ? source.length : this.offset + lineEnd;
      } else {
        return;
      }
    }
  }

  private readNumber(): Token {
    const start = this.offset;
    FLOAT.lastIndex = start;
    let match = FLOAT.exec(this.source);
    let kind: 'float' | 'integer' = 'float';
    if (!match) {
      INTEGER.lastIndex = start;
      match = INTEGER.exec(this.source);
      kind = 'integer';
    }
    if (!match) {
      const char = this.source[start] as string;
      throw new PatternSyntaxError(`unexpected '${char}' at ${start}: expected a number`, start);
    }
    this.offset = start + match[0].length;
    // NOTE: numbers are doubles, so integers beyond 2^53 lose precision, as they do in
    // JSON.parse of the observed data.
    return token(kind, match[0], start, this.offset, Number(match[0]));
  }

  private readString(): Token {
    const source = this.source;
    const start = this.offset;
    let value = '';
    let chunkStart = start + 1;
    for (let i = start + 1; i < source.length; i++) {
      const char = source[i];
      if (char === "'") {
        value += source.slice(chunkStart, i);
        this.offset = i + 1;
        return token('string', source.slice(start, i + 1), start, i + 1, value);
      }
      if (char === '\\') {
        const escaped = source[i + 1];
        if (escaped !== "'" && escaped !== '\\') {
          throw new PatternSyntaxError(
            `invalid escape at ${i}: only \\' and \\\\ are allowed in a string literal`,
            i,
          );
        }
        value += source.slice(chunkStart, i) + escaped;
        i++;
        chunkStart = i + 1;
      }
    }
    throw new PatternSyntaxError(`unterminated string literal starting at ${start}`, start);
  }

  private readWord(): Token {
    const source = this.source;
    const start = this.offset;
    // `[a-zA-Z_][a-zA-Z0-9_-]*`; the first character was checked by next().
    let end = start + 1;
    while (end < source.length && isIdentifierPart(source.charCodeAt(end))) end++;
    const text = source.slice(start, end);

    if (end - start === 1 && source[end] === "'" && TYPED_LITERALS.has(text)) {
      return this.readTypedLiteral(text);
    }
    this.offset = end;
    if (text === 'true' || text === 'false') {
      return token('boolean', text, start, end, text === 'true');
    }
    if (text.includes('-')) return token('hyphenated-identifier', text, start, end);
    if (KEYWORD_SET.has(text)) return token(text as Keyword, text, start, end);
    return token('identifier', text, start, end);
  }

  private readTypedLiteral(prefix: string): Token {
    const start = this.offset;
    const { regex, name, form } = TYPED_LITERALS.get(prefix)!;
    regex.lastIndex = start;
    const match = regex.exec(this.source);
    if (!match) {
      throw new PatternSyntaxError(`invalid ${name} literal at ${start}: expected ${form}`, start);
    }
    this.offset = regex.lastIndex;
    const text = match[0];
    const end = this.offset;
    if (prefix === 'h') return token('hex', text, start, end, Buffer.from(match[1]!, 'hex'));
    if (prefix === 'b') return token('binary', text, start, end, Buffer.from(match[1]!, 'base64'));
    const { instant, dateExists } = timestampFromMatch(match);
    return token('timestamp', text, start, end, instant, dateExists);
  }

  private readSymbol(char: string): Token {
    const start = this.offset;
    const following = this.source[start + 1];
    let kind: TokenKind;
    let length = 1;
    switch (char) {
      case '[':
      case ']':
      case '(':
      case ')':
      case ':':
      case '.':
      case ',':
      case '*':
        kind = char;
        break;
      case '=':
        kind = '=';
        length = following === '=' ? 2 : 1;
        break;
      case '!':
        if (following !== '=') throw unexpectedCharacter(char, start);
        kind = '!=';
        length = 2;
        break;
      case '<':
        // `<>` is the grammar's second spelling of `!=`.
        if (following === '=') kind = '<=';
        else if (following === '>') kind = '!=';
        else kind = '<';
        length = kind === '<' ? 1 : 2;
        break;
      case '>':
        kind = following === '=' ? '>=' : '>';
        length = kind === '>' ? 1 : 2;
        break;
      default:
        throw unexpectedCharacter(char, start);
    }
    this.offset = start + length;
    return token(kind, this.source.slice(start, this.offset), start, this.offset);
  }
}

function unexpectedCharacter(char: string, position: number): PatternSyntaxError {
  const shown = /^[\x21-\x7e]$/.test(char) ? `'${char}'` : `U+${char.codePointAt(0)?.toString(16)}`;
  return new PatternSyntaxError(`unexpected character ${shown} at ${position}`, position);
}

/**
 * Creates a token with every field set, so all tokens share one object shape and the
 * parser's property reads stay monomorphic.
 */
function token(
  kind: TokenKind,
  text: string,
  start: number,
  end: number,
  value?: Token['value'],
  dateExists?: boolean,
): Token {
  return { kind, text, start, end, value, dateExists };
}

/** Whitespace as the STIXPattern grammar lists it: ASCII space and controls plus Unicode spaces. */
function isWhitespace(code: number): boolean {
  if (code === 32 || (code >= 9 && code <= 13)) return true;
  if (code < 0x85) return false;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

function isIdentifierPart(code: number): boolean {
  return isIdentifierStart(code) || isDigit(code) || code === 45; /* - */
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isIdentifierStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

/** Converts the groups of a TIMESTAMP match to an instant, noting days that do not exist. */
function timestampFromMatch(match: RegExpExecArray): { instant: Instant; dateExists: boolean } {
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const instant = instantFromFields(
    year,
    month,
    day,
    Number(match[4]),
    Number(match[5]),
    Number(match[6]),
    match[7] ?? '',
  );
  return { instant, dateExists: day <= daysInMonth(year, month) };
}
