/** Options every converter takes. */
import type { IndicatorOptions } from '../../normalise/index.ts';
import type { WarninglistPolicy } from './emit.ts';

export interface ConvertOptions {
  /**
   * A stable name of the input, such as the feed URL or the file name. Indicator ids are
   * derived from it and the pattern, so importing the same input again gives the same ids.
   */
  source: string;
  /** `created` of the indicators a flat list produces; defaults to the time of the call. */
  created?: string;
  /** Also produce an indicator per observable (default), or only the SCOs. */
  indicators?: boolean;
  /** Labels added to every indicator. */
  labels?: string[];
  /** Confidence (0 to 100) of indicators whose input states none. */
  confidence?: number;
  /** Marking definitions referenced by every object that takes markings. */
  markingRefs?: string[];
  warninglists?: WarninglistPolicy;
}

/** Builds the indicator options shared by every record of a flat list. */
export function baseIndicator(options: ConvertOptions, created: string): IndicatorOptions {
  return {
    created,
    source: options.source,
    ...(options.labels?.length ? { labels: options.labels } : {}),
    ...(options.confidence === undefined ? {} : { confidence: options.confidence }),
    ...(options.markingRefs?.length ? { objectMarkingRefs: options.markingRefs } : {}),
  };
}

/**
 * Returns the indicator options of a flat list, or false when `options.indicators` is
 * false and only SCOs are wanted. `created` defaults to the time of the call.
 */
export function listIndicator(options: ConvertOptions): IndicatorOptions | false {
  if (options.indicators === false) return false;
  return baseIndicator(options, options.created ?? new Date().toISOString());
}
