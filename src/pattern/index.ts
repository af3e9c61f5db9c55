/**
 * STIX 2.1 patterning language (STIX 2.1 section 9): parser, evaluator, inspector and index-key
 * extraction for indicator patterns. This folder imports nothing else from Cairn.
 */

export type * from './ast.ts';
export { PatternEvaluationError, PatternSyntaxError } from './errors.ts';
export {
  compilePattern,
  DEFAULT_MAX_STEPS,
  matchPattern,
  prepareObservations,
  type MatchOptions,
  type MatchResult,
} from './evaluate.ts';
export type { PreparedObservations } from './observations.ts';
export { CompiledPattern, type CompileOptions } from './predicates.ts';
export { MAX_REGEX_INPUT_LENGTH } from './re2.ts';
export {
  extractIndexKeys,
  formatPath,
  type IndexKey,
  type ObservationIndexKeys,
} from './index-keys.ts';
export {
  INDEX_STAR,
  inspectPattern,
  type InspectedComparison,
  type PatternInspection,
} from './inspect.ts';
export { MAX_NESTING_DEPTH, parsePattern, type ParseOptions } from './parser.ts';
