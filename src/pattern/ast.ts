/**
 * Syntax tree of a STIX 2.1 pattern (STIX 2.1 section 9).
 *
 * Chains of one operator (`a AND b AND c`) are stored as one n-ary node, and a run of qualifiers
 * after one observation expression as one list. Long patterns thus give shallow trees, and code
 * that walks the tree recurses no deeper than the parenthesis nesting.
 * `start` and `end` are 0-based offsets into the pattern text (end exclusive).
 */

export interface Span {
  start: number;
  end: number;
}

/** A point in time with nanosecond precision, kept apart because a double holds only µs. */
export interface Instant {
  /** Whole seconds since 1970-01-01T00:00:00Z. */
  seconds: number;
  /** Nanoseconds within the second, 0 to 999,999,999. */
  nanos: number;
}

export type Literal =
  | (Span & { type: 'string'; value: string; raw: string })
  | (Span & { type: 'integer'; value: number; raw: string })
  | (Span & { type: 'float'; value: number; raw: string })
  | (Span & { type: 'boolean'; value: boolean; raw: string })
  | (Span & { type: 'hex'; value: Uint8Array; raw: string })
  | (Span & { type: 'binary'; value: Uint8Array; raw: string })
  | (Span & {
      type: 'timestamp';
      value: Instant;
      raw: string;
      /** False for a day the grammar accepts but the calendar lacks, such as April 31. */
      dateExists: boolean;
    });

export type LiteralType = Literal['type'];
export type TimestampLiteral = Extract<Literal, { type: 'timestamp' }>;
export type StringLiteral = Extract<Literal, { type: 'string' }>;

/** One step of an object path after the object type: a key, a list index or `[*]`. */
export type PathStep =
  { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'any-index' };

/** `type:first.second[0]` (STIX 2.1 section 9, object paths). */
export interface ObjectPath extends Span {
  objectType: string;
  /** Never empty, and the first step is always a key. */
  steps: PathStep[];
}

export type EqualityOperator = '=' | '!=';
export type OrderOperator = '<' | '<=' | '>' | '>=';
export type StringOperator = 'LIKE' | 'MATCHES' | 'ISSUBSET' | 'ISSUPERSET';
export type ComparisonOperator =
  EqualityOperator | OrderOperator | StringOperator | 'IN' | 'EXISTS';

interface ComparisonBase extends Span {
  type: 'comparison';
  /** True when the operator is preceded by NOT. */
  negated: boolean;
  path: ObjectPath;
  /** The operator as written, for example `==` or `<>`; `operator` is its canonical form. */
  operatorText: string;
}

/** One comparison such as `file:size > 10` (STIX 2.1 section 9, comparison operators). */
export type Comparison =
  | (ComparisonBase & { operator: EqualityOperator | OrderOperator; value: Literal })
  | (ComparisonBase & {
      operator: StringOperator;
      value: StringLiteral;
    })
  | (ComparisonBase & { operator: 'IN'; values: Literal[]; setSpan: Span })
  | (ComparisonBase & { operator: 'EXISTS' });

export interface ComparisonGroup extends Span {
  type: 'comparison-group';
  operator: 'AND' | 'OR';
  /** Two or more operands. */
  operands: ComparisonExpression[];
}

export type ComparisonExpression = Comparison | ComparisonGroup;

export type Qualifier =
  | (Span & { type: 'WITHIN'; seconds: number; raw: string })
  | (Span & { type: 'REPEATS'; times: number; raw: string })
  | (Span & { type: 'START'; startTime: TimestampLiteral; stopTime: TimestampLiteral });

/** `[ comparison expression ]`: what a single observation must satisfy. */
export interface Observation extends Span {
  type: 'observation';
  comparison: ComparisonExpression;
}

export interface ObservationGroup extends Span {
  type: 'observation-group';
  operator: 'AND' | 'OR' | 'FOLLOWEDBY';
  /** Two or more operands, in pattern order. */
  operands: ObservationExpression[];
}

/** An observation expression followed by one or more qualifiers, innermost first. */
export interface QualifiedObservation extends Span {
  type: 'qualified';
  expression: ObservationExpression;
  qualifiers: Qualifier[];
}

export type ObservationExpression = Observation | ObservationGroup | QualifiedObservation;

/** A parsed pattern: the top observation expression plus the source text. */
export interface PatternAst {
  type: 'pattern';
  source: string;
  expression: ObservationExpression;
}
