/**
 * What the API tells about one object or one value, limited to what the caller may read:
 * the collections the object is in, its score with the facts behind it, and for each of
 * its observable values the objects, sources and communities that mention it. A mention in
 * a collection or version the caller may not read is not counted, so the counts never
 * reveal what the caller cannot see. Sightings and false-positive reports are recorded here,
 * and counted only within the scopes the caller shares (see scoring/feedback.ts).
 */
import type { Caller } from '../auth/tokens.ts';
import { CairnError } from '../errors.ts';
import {
  feedbackScope,
  sharesFeedback,
  summariseFeedback,
  type FeedbackSummary,
} from '../scoring/feedback.ts';
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
  /** Whether the caller's organisation may give feedback here: a member, or a platform admin on a collection without community. */
  givesFeedback: boolean;
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
  /** Feedback given in the scopes the caller shares. */
  feedback: FeedbackSummary;
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
      if (rights.canRead) {
        const access = accessFilter(this.caller, rights);
        const givesFeedback =
          sharesFeedback(access) && (context.community === undefined || context.relation.member);
        entry = { collection, access, givesFeedback };
      }
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
    const counters = await this.feedback(objectId, holders);
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
    feedback: FeedbackSummary,
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
        sightings: feedback.countedSightings,
        falsePositives: feedback.falsePositives,
        ...(feedback.lastSightingAt !== undefined
          ? { lastSightingAt: feedback.lastSightingAt }
          : {}),
      },
      nowMicros(),
    );
  }

  /** Feedback on the object given in the scopes where the caller reads it as a member. */
  private async feedback(objectId: string, holders: Readable[]): Promise<FeedbackSummary> {
    const scopes = holders
      .filter((holder) => sharesFeedback(holder.access))
      .map((holder) => feedbackScope(holder.collection));
    if (scopes.length === 0) return summariseFeedback([]);
    return summariseFeedback(await this.store.getFeedback([objectId], [...new Set(scopes)]));
  }

  /**
   * The scopes in which the caller may give feedback on the object. The error for an object
   * the caller cannot read is the same as for one they read but may not give feedback on,
   * so it does not tell whether the object exists.
   */
  private async feedbackScopes(
    objectId: string,
  ): Promise<{ holders: Readable[]; scopes: string[] }> {
    const holders = await this.holders(objectId);
    const scopes = [
      ...new Set(
        holders.filter((holder) => holder.givesFeedback).map((h) => feedbackScope(h.collection)),
      ),
    ].sort();
    if (scopes.length === 0) {
      throw new CairnError(
        'not-found',
        `object ${objectId} not found in any collection where your organisation is a member`,
      );
    }
    return { holders, scopes };
  }

  /**
   * Records a sighting by the caller's organisation in every scope where it reads the object
   * as a member, and returns the feedback the caller now counts.
   */
  async recordSighting(
    objectId: string,
    count: number,
    sourceAddress?: string,
  ): Promise<FeedbackSummary> {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SIGHTING_COUNT) {
      throw new CairnError(
        'invalid-parameter',
        `count ${count} is invalid: give a whole number from 1 to ${MAX_SIGHTING_COUNT}`,
      );
    }
    const { holders, scopes } = await this.feedbackScopes(objectId);
    const organisationId = this.caller.user.organisationId;
    const at = nowMicros();
    for (const scope of scopes) {
      await this.store.addFeedback({ objectId, scope, organisationId, sightings: count, at });
    }
    await recordAudit(
      this.store,
      auditActor(this.caller, sourceAddress),
      'object.sighting',
      objectId,
      { count, scopes },
    );
    return this.feedback(objectId, holders);
  }

  /**
   * Records that the caller's organisation found the object to be a false positive, in
   * every scope where it reads the object as a member. Each organisation counts once per
   * object and scope, so a second report in the same scopes is a 409.
   */
  async reportFalsePositive(
    objectId: string,
    note: string | undefined,
    sourceAddress?: string,
  ): Promise<FeedbackSummary> {
    const { holders, scopes } = await this.feedbackScopes(objectId);
    const organisationId = this.caller.user.organisationId;
    const at = nowMicros();
    const added: string[] = [];
    for (const scope of scopes) {
      try {
        await this.store.putDocument(
          {
            kind: FALSE_POSITIVE_DOCUMENT,
            id: `${objectId}|${scope}|${organisationId}`,
            owner: organisationId,
            body: JSON.stringify({
              objectId,
              scope,
              organisationId,
              userId: this.caller.user.id,
              at,
              ...(note ? { note } : {}),
            }),
          },
          0,
        );
      } catch (error) {
        if (error instanceof StoreConflictError) continue;
        throw error;
      }
      await this.store.addFeedback({ objectId, scope, organisationId, falsePositive: true, at });
      added.push(scope);
    }
    if (added.length === 0) {
      throw new CairnError(
        'conflict',
        `your organisation already reported ${objectId} as a false positive`,
      );
    }
    await recordAudit(
      this.store,
      auditActor(this.caller, sourceAddress),
      'object.false-positive',
      objectId,
      { scopes: added },
    );
    return this.feedback(objectId, holders);
  }
}
