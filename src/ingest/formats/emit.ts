/**
 * Turns normalised observables into STIX objects for a converter: the SCO once per
 * conversion, an indicator for each statement about it, and the warning-list policy.
 */
import {
  type IndicatorOptions,
  type Observable,
  type ObservableKind,
  type StixObject,
  toIndicator,
  toSco,
} from '../../normalise/index.ts';
import type { ConversionReport } from './report.ts';

/** A lookup of the warning lists that contain a value (see src/warninglists). */
export interface WarninglistLookup {
  match(kind: ObservableKind, value: string): readonly string[];
}

/**
 * Action on an observable found on a warning list: `drop` leaves out its SCO and
 * indicator, `label` adds a `warninglist:<name>` label to the indicator, `lower` caps the
 * indicator's confidence at LOWERED_CONFIDENCE.
 */
export type WarninglistAction = 'drop' | 'label' | 'lower';

export interface WarninglistPolicy {
  lists: WarninglistLookup;
  action: WarninglistAction;
}

/** "Low" on the None/Low/Med/High confidence scale of STIX 2.1 Appendix A. */
export const LOWERED_CONFIDENCE = 15;

/**
 * Ids already emitted in this conversion, so a value seen a thousand times gives one SCO.
 * The set is cleared when it is full, which keeps memory bounded. A repeat after that is
 * emitted again, and the store counts it as a duplicate.
 */
class RecentIds {
  private ids = new Set<string>();
  constructor(private readonly max: number) {}

  /** Adds `id` and returns whether it was new. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    if (this.ids.size >= this.max) this.ids = new Set();
    this.ids.add(id);
    return true;
  }
}

const RECENT_IDS = 200_000;

export class StixEmitter {
  /** Whether the last call of observable() left the value out for a warning list. */
  dropped = false;
  private readonly recent = new RecentIds(RECENT_IDS);

  constructor(
    private readonly report: ConversionReport,
    private readonly warninglists?: WarninglistPolicy,
  ) {}

  /**
   * Returns the objects for one observable: its SCO unless already emitted, and an
   * indicator built with `indicator` unless that is false. `where` names the record in
   * the report when a warning list drops it.
   */
  observable(
    observable: Observable,
    indicator: IndicatorOptions | false,
    where: string,
  ): StixObject[] {
    this.dropped = false;
    let options = indicator;
    const lists = this.warninglists?.lists.match(observable.kind, observable.value) ?? [];
    if (lists.length > 0) {
      this.report.warninglistHit(lists);
      const action = this.warninglists!.action;
      if (action === 'drop') {
        this.dropped = true;
        this.report.skip(
          where,
          'warninglist',
          `${observable.value} is on the warning list ${lists.join(', ')}`,
        );
        return [];
      }
      if (options) options = applyWarning(options, action, lists);
    }

    return this.observableWithoutWarnings(observable, options);
  }

  /** Returns the objects of an observable like observable(), without the warning-list check. */
  observableWithoutWarnings(
    observable: Observable,
    indicator: IndicatorOptions | false,
  ): StixObject[] {
    const objects: StixObject[] = [];
    const sco = toSco(observable);
    if (this.recent.add(sco.id)) objects.push(sco);
    if (indicator) objects.push(toIndicator(observable, indicator));
    this.report.objects += objects.length;
    return objects;
  }

  /** Returns `[object]` the first time its id is seen in this conversion, else `[]`. */
  once(object: StixObject): StixObject[] {
    if (!this.recent.add(object.id)) return [];
    this.report.objects++;
    return [object];
  }

  /** Returns `[object]`, counted in the report. */
  emit(object: StixObject): StixObject[] {
    this.report.objects++;
    return [object];
  }
}

function applyWarning(
  options: IndicatorOptions,
  action: 'label' | 'lower',
  lists: readonly string[],
): IndicatorOptions {
  if (action === 'label') return { ...options, labels: warningLabels(options.labels, lists) };
  return { ...options, confidence: loweredConfidence(options.confidence) };
}

/** Returns a copy of an existing indicator with the `label` or `lower` action applied. */
export function markIndicator(
  indicator: StixObject,
  action: 'label' | 'lower',
  lists: readonly string[],
): StixObject {
  if (action === 'label') {
    return { ...indicator, labels: warningLabels(indicator.labels as string[] | undefined, lists) };
  }
  const confidence = typeof indicator.confidence === 'number' ? indicator.confidence : undefined;
  return { ...indicator, confidence: loweredConfidence(confidence) };
}

function warningLabels(labels: readonly string[] | undefined, lists: readonly string[]): string[] {
  return [...(labels ?? []), ...lists.map((name) => `warninglist:${name}`)];
}

function loweredConfidence(confidence: number | undefined): number {
  return Math.min(confidence ?? LOWERED_CONFIDENCE, LOWERED_CONFIDENCE);
}
