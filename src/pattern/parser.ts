/**
 * Recursive-descent parser for STIX 2.1 patterns (STIX 2.1 section 9).
 *
 * Written by hand rather than generated from the OASIS ANTLR grammar: a generated parser
 * needs the ANTLR runtime, and recursive descent gives direct control over error messages and
 * over the nesting limit. The grammar is followed rule for rule, with these precedences
 * from loosest to tightest: FOLLOWEDBY, OR, AND between observation expressions, then
 * postfix qualifiers; OR, AND between comparison expressions. TokenReader holds the
 * token-level rules.
 */

import type {
  Comparison,
  ComparisonExpression,
  Literal,
  ObjectPath,
  ObservationExpression,
  PatternAst,
  Qualifier,
  Span,
  StringLiteral,
} from './ast.ts';
import { PatternSyntaxError } from './errors.ts';
import type { Token } from './lexer.ts';
import { TokenReader } from './token-reader.ts';

export { MAX_NESTING_DEPTH } from './token-reader.ts';

type ObservationOperator = 'AND' | 'OR' | 'FOLLOWEDBY';

export interface ParseOptions {
  /**
   * Accept a qualifier type given twice on one bracketed observation expression, such as
   * `[a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES`. The OASIS reference validator rejects this
   * (it allows it only on a parenthesized group) while the reference matcher evaluates it.
   * Default false.
   */
  allowDuplicateQualifiers?: boolean;
}

/** Parses a STIX 2.1 pattern, or throws PatternSyntaxError with the offset of the problem. */
export function parsePattern(pattern: string, options: ParseOptions = {}): PatternAst {
  return new Parser(pattern, options.allowDuplicateQualifiers ?? false).parse();
}

class Parser extends TokenReader {
  constructor(
    private readonly source: string,
    private readonly allowDuplicateQualifiers: boolean,
  ) {
    super(source);
  }

  parse(): PatternAst {
    if (this.token.kind !== '[' && this.token.kind !== '(') {
      this.fail("'[' to start an observation expression");
    }
    const expression = this.parseObservationChain('FOLLOWEDBY');
    if (!this.at('eof')) {
      this.fail('AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern');
    }
    return { type: 'pattern', source: this.source, expression };
  }

  // Observation expressions -------------------------------------------------------------

  /** Parses a left-associative chain of one observation operator as one n-ary node. */
  private parseObservationChain(operator: ObservationOperator): ObservationExpression {
    const first = this.parseObservationOperand(operator);
    if (this.token.kind !== operator) return first;

    const operands = [first];
    while (this.token.kind === operator) {
      this.advance();
      operands.push(this.parseObservationOperand(operator));
    }
    const end = operands[operands.length - 1]!.end;
    return { type: 'observation-group', operator, operands, start: first.start, end };
  }

  /** Parses an operand of `operator`: the chain of the next tighter operator. */
  private parseObservationOperand(operator: ObservationOperator): ObservationExpression {
    if (operator === 'FOLLOWEDBY') return this.parseObservationChain('OR');
    if (operator === 'OR') return this.parseObservationChain('AND');
    return this.parseQualifiedObservation();
  }

  private parseQualifiedObservation(): ObservationExpression {
    const start = this.token.start;
    let expression: ObservationExpression;
    // Qualifier types already applied to a bracketed observation; the OASIS reference
    // validator rejects a repeat there but allows one on a parenthesized group.
    let seenTypes: Set<string> | undefined;

    if (this.token.kind === '[') {
      this.enter();
      this.advance();
      const comparison = this.parseComparisonChain('OR');
      const end = this.expect(']', "']' to close the observation expression").end;
      this.leave();
      expression = { type: 'observation', comparison, start, end };
      seenTypes = new Set();
    } else if (this.token.kind === '(') {
      this.enter();
      this.advance();
      expression = this.parseObservationChain('FOLLOWEDBY');
      this.expect(')', "')' to close the group");
      this.leave();
    } else {
      this.fail("'[' or '(' to start an observation expression");
    }

    const qualifiers: Qualifier[] = [];
    for (;;) {
      const qualifier = this.parseQualifier();
      if (!qualifier) break;
      if (seenTypes?.has(qualifier.type) && !this.allowDuplicateQualifiers) {
        const name = qualifier.type === 'START' ? 'START/STOP' : qualifier.type;
        throw new PatternSyntaxError(
          `duplicate ${name} qualifier at ${qualifier.start}: an observation expression takes ` +
            'each qualifier type once unless it is put in parentheses',
          qualifier.start,
        );
      }
      seenTypes?.add(qualifier.type);
      qualifiers.push(qualifier);
    }
    if (qualifiers.length === 0) return expression;
    const end = qualifiers[qualifiers.length - 1]!.end;
    return { type: 'qualified', expression, qualifiers, start, end };
  }

  private parseQualifier(): Qualifier | undefined {
    const start = this.token.start;
    switch (this.token.kind) {
      case 'WITHIN': {
        this.advance();
        const amount = this.token;
        if (!isPositiveNumber(amount)) this.fail('a positive number of seconds after WITHIN');
        this.advance();
        const end = this.expect('SECONDS', 'SECONDS after the WITHIN amount').end;
        const seconds = amount.value as number;
        return { type: 'WITHIN', seconds, raw: amount.text, start, end };
      }
      case 'REPEATS': {
        this.advance();
        const count = this.token;
        if (count.kind !== 'integer' || count.text.startsWith('-')) {
          this.fail('a positive integer after REPEATS');
        }
        this.advance();
        const end = this.expect('TIMES', 'TIMES after the REPEATS count').end;
        return { type: 'REPEATS', times: count.value as number, raw: count.text, start, end };
      }
      case 'START': {
        this.advance();
        const startTime = this.parseTimestamp('a timestamp literal after START');
        this.expect('STOP', 'STOP after the START timestamp');
        const stopTime = this.parseTimestamp('a timestamp literal after STOP');
        return { type: 'START', startTime, stopTime, start, end: stopTime.end };
      }
      default:
        return undefined;
    }
  }

  // Comparison expressions --------------------------------------------------------------

  private parseComparisonChain(operator: 'AND' | 'OR'): ComparisonExpression {
    const first = this.parseComparisonOperand(operator);
    if (this.token.kind !== operator) return first;

    const operands = [first];
    while (this.token.kind === operator) {
      this.advance();
      operands.push(this.parseComparisonOperand(operator));
    }
    const end = operands[operands.length - 1]!.end;
    return { type: 'comparison-group', operator, operands, start: first.start, end };
  }

  private parseComparisonOperand(operator: 'AND' | 'OR'): ComparisonExpression {
    return operator === 'OR' ? this.parseComparisonChain('AND') : this.parseComparisonUnit();
  }

  private parseComparisonUnit(): ComparisonExpression {
    const start = this.token.start;

    if (this.token.kind === '(') {
      this.enter();
      this.advance();
      const inner = this.parseComparisonChain('OR');
      this.expect(')', "')' to close the comparison group");
      this.leave();
      return inner;
    }

    if (this.token.kind === 'NOT' || this.token.kind === 'EXISTS') {
      const negated = this.token.kind === 'NOT';
      if (negated) this.advance();
      const operatorText = this.expect('EXISTS', 'EXISTS after NOT').text;
      const path = this.parseObjectPath();
      return {
        type: 'comparison',
        operator: 'EXISTS',
        operatorText,
        negated,
        path,
        start,
        end: path.end,
      };
    }

    const path = this.parseObjectPath();
    return this.parseComparisonRest(path, start);
  }

  /** Parses `NOT? operator value` after an object path. */
  private parseComparisonRest(path: ObjectPath, start: number): Comparison {
    const negated = this.token.kind === 'NOT';
    if (negated) this.advance();

    const operatorToken = this.token;
    const operatorText = operatorToken.text;
    switch (operatorToken.kind) {
      case '=':
      case '!=': {
        const operator = operatorToken.kind;
        this.advance();
        const value = this.parseLiteral(true, `a literal after '${operatorText}'`);
        return {
          type: 'comparison',
          negated,
          path,
          operatorText,
          operator,
          value,
          start,
          end: value.end,
        };
      }
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const operator = operatorToken.kind;
        this.advance();
        const value = this.parseLiteral(
          false,
          `a number, string, binary, hex or timestamp literal after '${operatorText}'`,
        );
        return {
          type: 'comparison',
          negated,
          path,
          operatorText,
          operator,
          value,
          start,
          end: value.end,
        };
      }
      case 'LIKE':
      case 'MATCHES':
      case 'ISSUBSET':
      case 'ISSUPERSET': {
        const operator = operatorToken.kind;
        this.advance();
        if (this.token.kind !== 'string') this.fail(`a string literal after ${operator}`);
        const value = this.parseLiteral(false, 'a string literal') as StringLiteral;
        return {
          type: 'comparison',
          negated,
          path,
          operatorText,
          operator,
          value,
          start,
          end: value.end,
        };
      }
      case 'IN': {
        this.advance();
        const { values, setSpan } = this.parseSet();
        return {
          type: 'comparison',
          negated,
          path,
          operatorText,
          operator: 'IN',
          values,
          setSpan,
          start,
          end: setSpan.end,
        };
      }
      default:
        return this.fail(
          negated
            ? 'a comparison operator after NOT'
            : 'a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)',
        );
    }
  }

  private parseSet(): { values: Literal[]; setSpan: Span } {
    const setStart = this.expect('(', "'(' to start the IN list").start;
    const values: Literal[] = [];
    if (this.token.kind !== ')') {
      for (;;) {
        values.push(this.parseLiteral(true, 'a literal in the IN list'));
        if (this.token.kind !== ',') break;
        this.advance();
      }
    }
    const end = this.expect(')', "',' or ')' in the IN list").end;
    return { values, setSpan: { start: setStart, end } };
  }
}

function isPositiveNumber(token: Token): boolean {
  return (token.kind === 'integer' || token.kind === 'float') && !token.text.startsWith('-');
}
