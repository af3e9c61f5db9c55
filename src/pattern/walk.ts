/** Visitors over a pattern's syntax tree, in pattern order. */

import type {
  Comparison,
  ComparisonExpression,
  ObservationExpression,
  PatternAst,
  Qualifier,
} from './ast.ts';

export interface PatternVisitor {
  observationGroup?(operator: 'AND' | 'OR' | 'FOLLOWEDBY'): void;
  qualifier?(qualifier: Qualifier): void;
  comparison?(comparison: Comparison): void;
}

/** Visits every node of the pattern. Recursion depth is bounded by the parser's nesting limit. */
export function walkPattern(ast: PatternAst, visitor: PatternVisitor): void {
  walkObservation(ast.expression, visitor);
}

function walkObservation(expression: ObservationExpression, visitor: PatternVisitor): void {
  switch (expression.type) {
    case 'observation':
      walkComparison(expression.comparison, visitor);
      return;
    case 'observation-group':
      visitor.observationGroup?.(expression.operator);
      for (const operand of expression.operands) walkObservation(operand, visitor);
      return;
    case 'qualified':
      walkObservation(expression.expression, visitor);
      for (const qualifier of expression.qualifiers) visitor.qualifier?.(qualifier);
      return;
  }
}

function walkComparison(expression: ComparisonExpression, visitor: PatternVisitor): void {
  if (expression.type === 'comparison') {
    visitor.comparison?.(expression);
    return;
  }
  for (const operand of expression.operands) walkComparison(operand, visitor);
}
