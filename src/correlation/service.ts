/**
 * What the API tells about one object or one value, limited to what the caller may read:
 * the collections the object is in, its score with the facts behind it, and for each of
 * its observable values the objects, sources and communities that mention it. A mention in
 * a collection or version the caller may not read is not counted, so the counts never
 * reveal what the caller cannot see. Sightings and false-positive reports are recorded here.
 */
import type { Caller } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import { scoreIndicator, type IndicatorScore } from '../scoring/score.ts';
import { loadReliability } from '../scoring/reliability.ts';
import { accessFilter, collectionRights, loadCollectionContext } from '../sharing/access.ts';
import { redactGranular } from '../sharing/granular.ts';
import { auditActor, recordAudit } from '../sharing/audit.ts';
import { nowMicros, timestampToMicros } from '../stix/timestamp.ts';
import {
  LATEST_VERSION,
  StoreConflictError,
  type AccessFilter,
  type CollectionRecord,
  type ObjectFeedback,
  type Store,
} from '../store/store.ts';
import { VALUE_CAP } from './indexer.ts';
import {
  LOOKUP_ALIASES,
  OBSERVABLE_TYPES,
  normaliseLookup,
  objectObservables,
  observableKey,
  patternObservables,
} from './observables.ts';

export const FALSE_POSITIVE_DOCUMENT = 'false-positive';

/** Largest sighting count one report may add. */
export const MAX_SIGHTING_COUNT = 1_000_000;

interface Readable {
  collection: CollectionRecord;
  access: AccessFilter;
}

export interface ValueCorrelation {
  value: string;
  /** Objects the caller may read that mention the value, this one included. */
  objects: number;
  /** Distinct sources of those mentions. */
  sources: string[];
  /** Distinct communities owning the collections of those mentions. */
  communities: string[];
  /** The value had more mentions than the index keeps, so the counts are lower bounds. */
  common: boolean;
}

export interface ObjectCorrelation {
  id: string;
  /** Collections the caller reads that hold the object. */
  collections: string[];
  /** Distinct sources over all its values: "seen in N sources". */
  sources: string[];
  values: ValueCorrelation[];
  feedback: Omit<ObjectFeedback, 'objectId'>;
  /** The score, for an indicator. */
  score?: IndicatorScore;
}

export class CorrelationService {
  /** Rights of the caller per collection, for the length of one request. */
  private readonly readable = new Map<string, Readable | undefined>();

  constructor(
    private readonly store: Store,
    private readonly caller: Caller,
  ) {}

  private async readableCollection(collectionId: string): Promise<Readable | undefined> {
    if (this.readable.has(collectionId)) return this.readable.get(collectionId);
    const collection = await this.store.getCollectionById(collectionId);
    let entry: Readable | undefined;
    if (collection) {
      const context = await loadCollectionContext(this.store, this.caller, collection);
      const rights = collectionRights(this.caller, context);
      if (rights.canRead) entry = { collection, access: accessFilter(this.caller, rights) };
    }
    this.readable.set(collectionId, entry);
    return entry;
  }

  /** Collections the caller reads that hold a version of the object visible to them. */
  private async holders(objectId: string): Promise<Readable[]> {
    const found: Readable[] = [];
    const roots = await this.store.listApiRoots();
    for (const root of roots) {
      for (const collection of await this.store.listCollections(root.name)) {
        const readable = await this.readableCollection(collection.id);
        if (readable && (await this.store.hasObject(collection.id, objectId, readable.access))) {
          found.push(readable);
        }
      }
    }
    return found;
  }

  private notFound(id: string): CairnError {
    return new CairnError('not-found', `object ${id} not found in any collection you may read`);
  }

  /** The latest version of the object the caller may read, as they may see it. */
  private async latest(objectId: string, holders: Readable[]): Promise<Record<string, unknown>> {
    let best: { json: string; version: string } | undefined;
    for (const { collection, access } of holders) {
      const page = await this.store.queryObjects({
        collectionId: collection.id,
        ids: [objectId],
        versions: LATEST_VERSION,
        limit: 1,
        access,
      });
      const item = page.items[0];
      if (!item || (best && best.version >= item.versionKey)) continue;
      const json = item.granularMarkings
        ? redactGranular(item.json, {
            widest: access.widest,
            contributed: item.contributed,
            recipient: item.recipient,
          })
        : item.json;
      best = { json, version: item.versionKey };
    }
    if (!best) throw this.notFound(objectId);
    return JSON.parse(best.json) as Record<string, unknown>;
  }

  /** Mentions of one value the caller may read. */
  async value(value: string): Promise<ValueCorrelation> {
    const refs = await this.store.findObservableRefs(value, VALUE_CAP);
    const [stats] = await this.store.observableStats([value]);
    const objects = new Set<string>();
    const sources = new Set<string>();
    const communities = new Set<string>();
    for (const ref of refs) {
      const readable = await this.readableCollection(ref.collectionId);
      if (!readable) continue;
      if (!(await this.store.hasObject(ref.collectionId, ref.objectId, readable.access))) continue;
      objects.add(ref.objectId);
      sources.add(ref.source);
      if (readable.collection.communityId) communities.add(readable.collection.communityId);
    }
    return {
      value,
      objects: objects.size,
      sources: [...sources].sort(),
      communities: [...communities].sort(),
      common: stats?.capped ?? false,
    };
  }

  /**
   * Looks up a value given as `type:value`, normalising it as the index does. The type may
   * also be `ip` or `hash` (LOOKUP_ALIASES); the result names the stored type.
   */
  async lookup(key: string): Promise<ValueCorrelation> {
    const normalised = normaliseLookup(key);
    if (!normalised) {
      throw new CairnError(
        'invalid-parameter',
        `value ${JSON.stringify(key.slice(0, 100))} is not a valid type:value, with a type among ${[...LOOKUP_ALIASES, ...OBSERVABLE_TYPES].join(', ')}`,
      );
    }
    return this.value(observableKey(normalised));
  }

  async object(objectId: string): Promise<ObjectCorrelation> {
    const holders = await this.holders(objectId);
    if (holders.length === 0) throw this.notFound(objectId);
    const object = await this.latest(objectId, holders);
    const values: ValueCorrelation[] = [];
    for (const observable of objectObservables(object)) {
      values.push(await this.value(observableKey(observable)));
    }
    const sources = new Set(values.flatMap((entry) => entry.sources));
    const [feedback] = await this.store.getFeedback([objectId]);
    const counters = {
      sightings: feedback?.sightings ?? 0,
      falsePositives: feedback?.falsePositives ?? 0,
      ...(feedback?.lastSightingAt !== undefined
        ? { lastSightingAt: feedback.lastSightingAt }
        : {}),
    };
    const result: ObjectCorrelation = {
      id: objectId,
      collections: holders.map((holder) => holder.collection.id).sort(),
      sources: [...sources].sort(),
      values,
      feedback: counters,
    };
    if (object.type === 'indicator') {
      result.score = await this.score(object, sources, counters);
    }
    return result;
  }

  private async score(
    object: Record<string, unknown>,
    sources: Set<string>,
    feedback: Omit<ObjectFeedback, 'objectId'>,
  ): Promise<IndicatorScore> {
    const micros = (value: unknown) =>
      typeof value === 'string' ? timestampToMicros(value) : undefined;
    const reliability = await loadReliability(this.store);
    const validUntil = micros(object.valid_until);
    const observables =
      object.pattern_type === 'stix' && typeof object.pattern === 'string'
        ? patternObservables(object.pattern).observables
        : [];
    return scoreIndicator(
      {
        validFrom: micros(object.valid_from) ?? micros(object.created) ?? 0,
        ...(validUntil !== undefined ? { validUntil } : {}),
        ...(typeof object.confidence === 'number' ? { confidence: object.confidence } : {}),
        ...reliability.of(sources),
        ...(observables[0] ? { observableType: observables[0].type } : {}),
        revoked: object.revoked === true,
        ...feedback,
      },
      nowMicros(),
    );
  }

  /** Records a sighting by the caller's organisation; the caller must read the object. */
  async recordSighting(
    objectId: string,
    count: number,
    sourceAddress?: string,
  ): Promise<ObjectFeedback> {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SIGHTING_COUNT) {
      throw new CairnError(
        'invalid-parameter',
        `count ${count} is invalid: give a whole number from 1 to ${MAX_SIGHTING_COUNT}`,
      );
    }
    if ((await this.holders(objectId)).length === 0) throw this.notFound(objectId);
    const feedback = await this.store.addFeedback(objectId, { sightings: count, at: nowMicros() });
    await recordAudit(
      this.store,
      auditActor(this.caller, sourceAddress),
      'object.sighting',
      objectId,
      { count },
    );
    return feedback;
  }

  /**
   * Records that the caller's organisation found the object to be a false positive. Each
   * organisation counts once per object; a second report is a 409.
   */
  async reportFalsePositive(
    objectId: string,
    note: string | undefined,
    sourceAddress?: string,
  ): Promise<ObjectFeedback> {
    if ((await this.holders(objectId)).length === 0) throw this.notFound(objectId);
    const organisationId = this.caller.user.organisationId;
    try {
      await this.store.putDocument(
        {
          kind: FALSE_POSITIVE_DOCUMENT,
          id: `${objectId}|${organisationId}`,
          owner: organisationId,
          body: JSON.stringify({
            objectId,
            organisationId,
            userId: this.caller.user.id,
            at: nowMicros(),
            ...(note ? { note } : {}),
          }),
        },
        0,
      );
    } catch (error) {
      if (error instanceof StoreConflictError) {
        throw new CairnError(
          'conflict',
          `your organisation already reported ${objectId} as a false positive`,
        );
      }
      throw error;
    }
    const feedback = await this.store.addFeedback(objectId, { falsePositives: 1, at: nowMicros() });
    await recordAudit(
      this.store,
      auditActor(this.caller, sourceAddress),
      'object.false-positive',
      objectId,
      {},
    );
    return feedback;
  }
}
