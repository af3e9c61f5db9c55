/**
 * The token-level half of the pattern parser: reading tokens, reporting what was expected,
 * the nesting limit, and the terminals of the grammar (literals and object paths).
 */

import type { Literal, ObjectPath, PathStep, TimestampLiteral } from './ast.ts';
import { PatternSyntaxError } from './errors.ts';
import { describeToken, Lexer, type Token, type TokenKind } from './lexer.ts';

/**
 * Maximum nesting of parentheses and brackets. Legitimate patterns nest a handful of levels,
 * and the limit keeps hostile input from exhausting the call stack.
 */
export const MAX_NESTING_DEPTH = 200;

export class TokenReader {
  protected token: Token;
  private readonly lexer: Lexer;
  private depth = 0;
  private previousEnd = 0;

  constructor(source: string) {
    this.lexer = new Lexer(source);
    this.token = this.lexer.next();
  }

  protected parseTimestamp(expected: string): TimestampLiteral {
    if (this.token.kind !== 'timestamp') this.fail(expected);
    return this.parseLiteral(false, expected) as TimestampLiteral;
  }

  /** Parses `type:property(.key | [index] | [*])*` (STIX 2.1 section 9). */
  protected parseObjectPath(): ObjectPath {
    const typeToken = this.token;
    if (typeToken.kind !== 'identifier' && typeToken.kind !== 'hyphenated-identifier') {
      this.fail('an object path such as file:name');
    }
    this.advance();
    this.expect(':', "':' after the object type");

    const steps: PathStep[] = [{ kind: 'key', key: this.parsePropertyName() }];
    let end = this.previousEnd;
    for (;;) {
      if (this.token.kind === '.') {
        this.advance();
        steps.push({ kind: 'key', key: this.parsePropertyName() });
      } else if (this.token.kind === '[') {
        this.advance();
        steps.push(this.parseIndexStep());
        this.expect(']', "']' to close the list index");
      } else {
        break;
      }
      end = this.previousEnd;
    }
    return { objectType: typeToken.text, steps, start: typeToken.start, end };
  }

  protected parsePropertyName(): string {
    const token = this.token;
    if (token.kind !== 'identifier' && token.kind !== 'string') {
      this.fail('a property name (letters, digits and _, or a quoted string)');
    }
    this.advance();
    return token.kind === 'string' ? (token.value as string) : token.text;
  }

  protected parseIndexStep(): PathStep {
    const token = this.token;
    if (token.kind === '*') {
      this.advance();
      return { kind: 'any-index' };
    }
    if (token.kind !== 'integer') this.fail("a list index: an integer or '*'");
    this.advance();
    return { kind: 'index', index: token.value as number };
  }

  /**
   * Parses a literal; `allowBoolean` is false where the grammar wants an orderable literal.
   * The token kinds of literals are named after the literal types, so the kind is the type.
   */
  protected parseLiteral(allowBoolean: boolean, expected: string): Literal {
    const token = this.token;
    switch (token.kind) {
      case 'boolean':
        if (!allowBoolean) this.fail(expected);
        break;
      case 'string':
      case 'integer':
      case 'float':
      case 'hex':
      case 'binary':
      case 'timestamp':
        break;
      default:
        this.fail(expected);
    }
    this.advance();

    const literal: Record<string, unknown> = {
      type: token.kind,
      value: token.value,
      raw: token.text,
      start: token.start,
      end: token.end,
    };
    if (token.kind === 'timestamp') literal.dateExists = token.dateExists ?? true;
    return literal as unknown as Literal;
  }

  /** Checks the current token without letting TypeScript narrow `this.token` for good. */
  protected at(kind: TokenKind): boolean {
    return this.token.kind === kind;
  }

  protected advance(): void {
    this.previousEnd = this.token.end;
    this.token = this.lexer.next();
  }

  protected expect(kind: TokenKind, expected: string): Token {
    const token = this.token;
    if (token.kind !== kind) this.fail(expected);
    this.advance();
    return token;
  }

  protected fail(expected: string): never {
    const token = this.token;
    throw new PatternSyntaxError(
      `expected ${expected} at ${token.start}, found ${describeToken(token)}`,
      token.start,
    );
  }

  protected enter(): void {
    this.depth++;
    if (this.depth > MAX_NESTING_DEPTH) {
      throw new PatternSyntaxError(
        `nesting deeper than ${MAX_NESTING_DEPTH} levels at ${this.token.start}`,
        this.token.start,
      );
    }
  }

  protected leave(): void {
    this.depth--;
  }
}
