/**
 * Indicators of a CSV or text list that follow the feed from run to run. Indicator ids
 * are derived from the connector's URL and the pattern, so each run looks up the ids it
 * read in the store, batch by batch, and stores only what changes:
 *
 * - A value seen for the first time gets an indicator whose `created` and `valid_from` are
 *   the time of the run (or `valid_from` from a mapped `first_seen` column).
 * - A value already stored and still valid adds nothing, and neither does its SCO.
 * - A value whose stored indicator expired (its `valid_until` passed) gets a new version,
 *   with the original `created`, that is valid again from this run.
 *
 * In `snapshot` mode each read contains every value currently listed. Listed values carry
 * `valid_until` at `listedValiditySeconds` after the run, moved forward by a new version
 * once a run finds less than half of that left. Without it, scoring would end a long-listed
 * value after the default lifetime of its type (30 days for an IP address), counted from
 * `valid_from`. After a complete read, each indicator of this list that the read did not
 * list gets a new version with `valid_until` at the run time, which takes it out of
 * exports while an analyst still finds it by search. Such versions use `valid_until`,
 * not `revoked`, because a revoked object takes no further version (STIX 2.1 section
 * 3.6), and a value may come back on the list.
 *
 * NOTE: an indicator whose value reached the correlation index's cap of references per
 * value has no reference to the connector, so it is never expired, only left to its
 * `valid_until`.
 *
 * In `delta` mode each read contains only new values: nothing is expired or extended, so
 * indicators end at their own `valid_until` or the scoring lifetime.
 */
import { INDICATOR_ID_NAMESPACE } from '../normalise/index.ts';
import { uuidBytes, uuidv5 } from '../normalise/uuid5.ts';
import { microsToTaxii, timestampToMicros } from '../stix/timestamp.ts';
import { LATEST_VERSION, type Store } from '../store/store.ts';
import { connectorSource, type ListMode } from './definition.ts';
import { UuidSet } from './uuid-set.ts';

const INDICATOR_NAMESPACE = uuidBytes(INDICATOR_ID_NAMESPACE);

type StixRecord = Record<string, unknown>;

export interface ListRunOptions {
  store: Store;
  collectionId: string;
  /** The connector's URL, from which the converters derive indicator ids. */
  source: string;
  /** The connector's id, under which the correlation index records what it stored. */
  connectorId: string;
  mode: ListMode;
  /** Time of the run in microseconds: `created` of new indicators and `valid_until` of expired ones. */
  runAt: number;
  /** How long a listed value stays valid after a run lists it, in microseconds. */
  listedValidity: number;
}

/** Counts of the changes a run made to the stored indicators. */
export interface ListRunCounts {
  /** Objects read that the store already contains as they are. */
  unchanged: number;
  /** Listed values whose `valid_until` moved forward. */
  extended: number;
  /** Expired values that were listed again. */
  relisted: number;
  /** Values no longer listed whose indicators were expired. */
  expired: number;
}

/** Returns `value` as microseconds when it is a STIX timestamp. */
function micros(value: unknown): number | undefined {
  return typeof value === 'string' ? timestampToMicros(value) : undefined;
}

export class ListRun {
  /** Ids of the indicators this run read, whether stored or not. */
  private readonly listed = new UuidSet();
  readonly counts: ListRunCounts = { unchanged: 0, extended: 0, relisted: 0, expired: 0 };

  constructor(private readonly options: ListRunOptions) {}

  /** Number of distinct indicators read so far. */
  get listedCount(): number {
    return this.listed.size;
  }

  /** Notes an object the converter produced, stored or skipped by a resumed run alike. */
  note(object: unknown): void {
    const record = object as StixRecord;
    if (record?.type === 'indicator' && typeof record.id === 'string') this.listed.add(record.id);
  }

  /**
   * Returns the objects of a batch to store: new ones, with `valid_until` in snapshot mode,
   * and new versions of indicators that expired or need a later `valid_until`. Objects the
   * store already contains as they are, left out, are counted in `counts.unchanged`.
   * `versions` counts the new versions of stored objects among them, `unchanged` the
   * objects left out.
   */
  async reconcile(
    objects: readonly unknown[],
  ): Promise<{ objects: StixRecord[]; versions: number; unchanged: number }> {
    const records = objects as StixRecord[];
    const stored = await this.latest(records.map((record) => String(record.id)));
    const result: StixRecord[] = [];
    let versions = 0;
    let unchanged = 0;
    for (const record of records) {
      const current = stored.get(String(record.id));
      if (current === undefined) {
        result.push(record.type === 'indicator' ? this.withListedUntil(record) : record);
        continue;
      }
      const version = record.type === 'indicator' ? this.nextVersion(record, current) : undefined;
      if (version === undefined) {
        unchanged++;
      } else {
        result.push(version);
        versions++;
      }
    }
    this.counts.unchanged += unchanged;
    return { objects: result, versions, unchanged };
  }

  /**
   * Yields, in pages of up to `pageSize`, a new version with `valid_until` at the run time
   * of every valid indicator of this list that the run did not read. Call it only after a
   * complete read. It pages through the collection's indicators by date_added, so its memory
   * does not grow with the collection. The new versions come after the last page it read,
   * and as they are expired they are passed over when reached.
   * NOTE: it reads every indicator of the collection, other sources' too, on each complete
   * run, so a list in a large shared collection costs a scan per run.
   */
  async *expireUnlisted(pageSize: number): AsyncGenerator<StixRecord[]> {
    const { store, collectionId, runAt } = this.options;
    let addedAfter: number | undefined;
    for (;;) {
      const page = await store.queryObjects({
        collectionId,
        types: ['indicator'],
        versions: LATEST_VERSION,
        limit: pageSize,
        ...(addedAfter === undefined ? {} : { addedAfter }),
      });
      const expired: StixRecord[] = [];
      for (const indicator of await this.ownUnlisted(page.items.map((item) => item.json))) {
        const validFrom = micros(indicator.valid_from) ?? runAt;
        // valid_until must be later than valid_from (STIX 2.1 section 4.7).
        const until = Math.max(runAt, validFrom + 1000);
        expired.push({
          ...indicator,
          modified: this.modifiedAfter(indicator),
          valid_until: microsToTaxii(until),
        });
      }
      this.counts.expired += expired.length;
      if (expired.length > 0) yield expired;
      if (!page.more || page.items.length === 0) return;
      addedAfter = page.items[page.items.length - 1]!.dateAdded;
    }
  }

  /**
   * Returns the indicators of this connector among stored ones that are still valid and
   * were not read. Another connector of the same URL in the collection derives the same
   * ids, so an indicator counts as this connector's only when the correlation index names
   * the connector as one of its sources.
   */
  private async ownUnlisted(jsons: readonly string[]): Promise<StixRecord[]> {
    const candidates = jsons
      .map((json) => JSON.parse(json) as StixRecord)
      .filter((indicator) => this.isUnlisted(indicator));
    if (candidates.length === 0) return [];
    const source = connectorSource(this.options.connectorId);
    const refs = await this.options.store.objectRefs(candidates.map(({ id }) => String(id)));
    const own = new Set(refs.filter((ref) => ref.source === source).map((ref) => ref.objectId));
    return candidates.filter(({ id }) => own.has(String(id)));
  }

  /** Checks that a stored indicator comes from this list, is still valid and was not read. */
  private isUnlisted(indicator: StixRecord): boolean {
    if (indicator.revoked === true || typeof indicator.pattern !== 'string') return false;
    const until = micros(indicator.valid_until);
    if (until !== undefined && until <= this.options.runAt) return false;
    const id = String(indicator.id);
    const derived = uuidv5(
      `${this.options.source}\n${indicator.pattern}`,
      INDICATOR_NAMESPACE,
      'indicator--',
    );
    return id === derived && !this.listed.has(id);
  }

  /** Reads the latest stored versions of these ids in the collection. */
  private async latest(ids: readonly string[]): Promise<Map<string, StixRecord>> {
    const found = new Map<string, StixRecord>();
    if (ids.length === 0) return found;
    const page = await this.options.store.queryObjects({
      collectionId: this.options.collectionId,
      ids: [...new Set(ids)],
      versions: LATEST_VERSION,
      limit: ids.length,
    });
    for (const item of page.items) found.set(item.id, JSON.parse(item.json) as StixRecord);
    return found;
  }

  /**
   * Returns the version to store for an indicator read again, or undefined when the stored
   * one stays. A revoked indicator stays revoked, as STIX allows no later version.
   */
  private nextVersion(read: StixRecord, stored: StixRecord): StixRecord | undefined {
    if (stored.revoked === true) return undefined;
    const { runAt, mode, listedValidity } = this.options;
    const until = micros(stored.valid_until);
    if (until !== undefined && until <= runAt) {
      this.counts.relisted++;
      return this.withListedUntil({
        ...read,
        created: stored.created,
        modified: this.modifiedAfter(stored),
      });
    }
    if (mode === 'delta') return undefined;
    if (until !== undefined && until - runAt >= listedValidity / 2) return undefined;
    this.counts.extended++;
    return this.withListedUntil({ ...stored, modified: this.modifiedAfter(stored) });
  }

  /** Sets `valid_until` of a listed indicator in snapshot mode; returns it unchanged in delta mode. */
  private withListedUntil(indicator: StixRecord): StixRecord {
    const { runAt, mode, listedValidity } = this.options;
    if (mode === 'delta') {
      const { valid_until: _ignored, ...rest } = indicator;
      return rest;
    }
    const validFrom = micros(indicator.valid_from) ?? runAt;
    const until = Math.max(runAt, validFrom) + listedValidity;
    return { ...indicator, valid_until: microsToTaxii(until) };
  }

  /** `modified` of a new version: the run time, or just after the stored one if that is later. */
  private modifiedAfter(stored: StixRecord): string {
    const previous = micros(stored.modified) ?? 0;
    return microsToTaxii(Math.max(this.options.runAt, previous + 1000));
  }
}
