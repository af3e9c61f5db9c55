/**
 * Correlation tables on PostgreSQL: which objects, in which collections and from which
 * sources, mention each observable value, and the sighting and false-positive reports of each
 * organisation on an object within one feedback scope (see Store.addObservableRefs and
 * Store.addFeedback).
 *
 * A value's references stop growing at the cap the caller gives; the value is then marked
 * capped. Adding references locks the rows of their values (in value order, so two writers
 * cannot deadlock) before counting, so writers on several nodes never pass the cap together.
 */
import { checkCount } from '../checks.ts';
import type { FeedbackChange, FeedbackReport, ObservableRef, ObservableStats } from '../store.ts';
import type { Connection } from './connection.ts';

const REF_COLUMNS = 'v.value, r.object_id, r.collection_id, r.source';
const FEEDBACK_COLUMNS =
  'object_id, scope, organisation_id, sightings, false_positive, last_sighting_at';

const SQL = {
  // The no-op update locks a value that exists, and RETURNING reports every value.
  lockValues:
    'INSERT INTO observable_values (value, refs, capped)' +
    ' SELECT value, 0, false FROM unnest($1::text[]) AS value ORDER BY value' +
    ' ON CONFLICT (value) DO UPDATE SET refs = observable_values.refs' +
    ' RETURNING vid, value, refs, capped',
  // The LIMIT keeps the lateral lookup one primary key probe per candidate. A join could
  // read the whole table instead, and the table grows with every feed.
  existingRefs:
    'SELECT u.vid, u.collection_id, u.object_id, u.source' +
    ' FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])' +
    ' AS u (vid, collection_id, object_id, source) CROSS JOIN LATERAL (SELECT 1' +
    ' FROM observable_refs AS r WHERE r.vid = u.vid AND r.collection_id = u.collection_id' +
    ' AND r.object_id = u.object_id AND r.source = u.source LIMIT 1) AS found',
  insertRefs:
    'INSERT INTO observable_refs (vid, collection_id, object_id, source)' +
    ' SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])' +
    ' ON CONFLICT DO NOTHING',
  setCounts:
    'UPDATE observable_values AS v SET refs = u.refs, capped = u.capped' +
    ' FROM unnest($1::bigint[], $2::integer[], $3::boolean[]) AS u (vid, refs, capped)' +
    ' WHERE v.vid = u.vid',
  removeRefs:
    'WITH gone AS (DELETE FROM observable_refs WHERE object_id = $1 AND collection_id = $2' +
    ' RETURNING vid), counted AS (UPDATE observable_values AS v SET refs = v.refs - g.n' +
    ' FROM (SELECT vid, count(*) AS n FROM gone GROUP BY vid) AS g WHERE v.vid = g.vid)' +
    ' SELECT count(*) AS removed FROM gone',
  findRefs:
    `SELECT ${REF_COLUMNS} FROM observable_values AS v JOIN observable_refs AS r` +
    ' ON r.vid = v.vid WHERE v.value = $1 ORDER BY r.collection_id, r.object_id, r.source' +
    ' LIMIT $2',
  objectRefs:
    `SELECT ${REF_COLUMNS} FROM observable_refs AS r JOIN observable_values AS v` +
    ' ON v.vid = r.vid WHERE r.object_id = ANY ($1::text[])' +
    ' ORDER BY r.object_id, r.collection_id, v.value, r.source',
  stats:
    'SELECT value, refs, capped FROM observable_values WHERE value = ANY ($1::text[])' +
    ' ORDER BY value',
  // greatest() ignores NULL, so a change without a sighting keeps the last sighting time.
  addFeedback:
    `INSERT INTO feedback_reports (${FEEDBACK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)` +
    ' ON CONFLICT (object_id, scope, organisation_id) DO UPDATE SET' +
    ` sightings = least(feedback_reports.sightings + excluded.sightings, ${Number.MAX_SAFE_INTEGER}),` +
    ' false_positive = feedback_reports.false_positive OR excluded.false_positive,' +
    ' last_sighting_at = greatest(feedback_reports.last_sighting_at, excluded.last_sighting_at)' +
    ` RETURNING ${FEEDBACK_COLUMNS}`,
  getFeedback:
    `SELECT ${FEEDBACK_COLUMNS} FROM feedback_reports WHERE object_id = ANY ($1::text[])` +
    ' AND scope = ANY ($2::text[]) ORDER BY object_id, scope, organisation_id',
} as const;

interface RefRow {
  value: string;
  object_id: string;
  collection_id: string;
  source: string;
}

interface FeedbackRow {
  object_id: string;
  scope: string;
  organisation_id: string;
  sightings: number;
  false_positive: boolean;
  last_sighting_at: number | null;
}

interface ValueState {
  vid: number;
  refs: number;
  capped: boolean;
  changed: boolean;
}

function toRef(row: RefRow): ObservableRef {
  return {
    value: row.value,
    objectId: row.object_id,
    collectionId: row.collection_id,
    source: row.source,
  };
}

function toFeedback(row: FeedbackRow): FeedbackReport {
  const feedback: FeedbackReport = {
    objectId: row.object_id,
    scope: row.scope,
    organisationId: row.organisation_id,
    sightings: row.sightings,
    falsePositive: row.false_positive,
  };
  if (row.last_sighting_at !== null) feedback.lastSightingAt = row.last_sighting_at;
  return feedback;
}

function refKey(vid: number, ref: ObservableRef): string {
  return JSON.stringify([vid, ref.collectionId, ref.objectId, ref.source]);
}

export class CorrelationTables {
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /**
   * Adds references in one transaction and returns how many were new. The references are
   * taken in the order given: once a value has `capPerValue` references, later ones of that
   * value are dropped and the value is marked capped.
   */
  async addRefs(refs: readonly ObservableRef[], capPerValue: number): Promise<number> {
    checkCount(capPerValue, 'cap per value', 1);
    if (refs.length === 0) return 0;
    return this.#connection.transaction(async (client) => {
      const values = [...new Set(refs.map((ref) => ref.value))];
      const locked = await client.query<{
        vid: number;
        value: string;
        refs: number;
        capped: boolean;
      }>({ name: 'cairn_lock_values', text: SQL.lockValues, values: [values] });
      const states = new Map<string, ValueState>(
        locked.map((row) => [row.value, { ...row, changed: false }]),
      );

      const candidates = refs.map((ref) => ({ ref, state: states.get(ref.value)! }));
      const existing = await client.query<{
        vid: number;
        collection_id: string;
        object_id: string;
        source: string;
      }>({
        name: 'cairn_existing_refs',
        text: SQL.existingRefs,
        values: [
          candidates.map(({ state }) => state.vid),
          candidates.map(({ ref }) => ref.collectionId),
          candidates.map(({ ref }) => ref.objectId),
          candidates.map(({ ref }) => ref.source),
        ],
      });
      const present = new Set(
        existing.map((row) =>
          JSON.stringify([row.vid, row.collection_id, row.object_id, row.source]),
        ),
      );

      const added: Array<{ ref: ObservableRef; state: ValueState }> = [];
      for (const candidate of candidates) {
        const { ref, state } = candidate;
        if (state.refs >= capPerValue) {
          if (!state.capped) state.capped = state.changed = true;
          continue;
        }
        const key = refKey(state.vid, ref);
        if (present.has(key)) continue;
        present.add(key);
        state.refs++;
        state.changed = true;
        added.push(candidate);
      }
      if (added.length > 0) {
        await client.run({
          name: 'cairn_insert_refs',
          text: SQL.insertRefs,
          values: [
            added.map(({ state }) => state.vid),
            added.map(({ ref }) => ref.collectionId),
            added.map(({ ref }) => ref.objectId),
            added.map(({ ref }) => ref.source),
          ],
        });
      }
      const changed = [...states.values()].filter((state) => state.changed);
      if (changed.length > 0) {
        await client.run({
          name: 'cairn_set_value_counts',
          text: SQL.setCounts,
          values: [
            changed.map((state) => state.vid),
            changed.map((state) => state.refs),
            changed.map((state) => state.capped),
          ],
        });
      }
      return added.length;
    });
  }

  async removeObjectRefs(collectionId: string, objectId: string): Promise<number> {
    const [row] = await this.#connection.query<{ removed: number }>({
      name: 'cairn_remove_refs',
      text: SQL.removeRefs,
      values: [objectId, collectionId],
    });
    return row?.removed ?? 0;
  }

  async findRefs(value: string, limit: number): Promise<ObservableRef[]> {
    checkCount(limit, 'limit', 0);
    const rows = await this.#connection.query<RefRow>({
      name: 'cairn_find_refs',
      text: SQL.findRefs,
      values: [value, limit],
    });
    return rows.map(toRef);
  }

  async objectRefs(objectIds: readonly string[]): Promise<ObservableRef[]> {
    const rows = await this.#connection.query<RefRow>({
      name: 'cairn_object_refs',
      text: SQL.objectRefs,
      values: [objectIds],
    });
    return rows.map(toRef);
  }

  async stats(values: readonly string[]): Promise<ObservableStats[]> {
    return this.#connection.query<ObservableStats>({
      name: 'cairn_value_stats',
      text: SQL.stats,
      values: [values],
    });
  }

  async addFeedback(change: FeedbackChange): Promise<FeedbackReport> {
    const sightings = change.sightings ?? 0;
    checkCount(sightings, 'sightings change', 0);
    const [row] = await this.#connection.query<FeedbackRow>({
      name: 'cairn_add_feedback_report',
      text: SQL.addFeedback,
      values: [
        change.objectId,
        change.scope,
        change.organisationId,
        sightings,
        change.falsePositive === true,
        sightings > 0 ? change.at : null,
      ],
    });
    return toFeedback(row!);
  }

  async getFeedback(
    objectIds: readonly string[],
    scopes: readonly string[],
  ): Promise<FeedbackReport[]> {
    const rows = await this.#connection.query<FeedbackRow>({
      name: 'cairn_get_feedback_reports',
      text: SQL.getFeedback,
      values: [objectIds, scopes],
    });
    return rows.map(toFeedback);
  }
}
