/**
 * MISP events (the MISP core format) to STIX 2.1:
 * - attributes become SCOs, and indicators with patterns when `to_ids` is set;
 * - objects are flattened into their attributes;
 * - `tlp:` tags become TLP 2.0 marking definitions, other tags (PAP, taxonomies) labels;
 * - galaxy clusters become attack-pattern, intrusion-set, threat-actor, malware or tool;
 * - attribute sightings become sightings of the indicator;
 * - the event becomes a report whose object_refs list everything made from it.
 */
import { type IndicatorOptions, type StixObject, toSco } from '../../normalise/index.ts';
import { isUuid } from '../../stix/ids.ts';
import {
  TLP_2_AMBER,
  TLP_2_AMBER_STRICT,
  TLP_2_CLEAR,
  TLP_2_GREEN,
  TLP_2_RED,
  type TlpMarking,
} from '../../stix/tlp.ts';
import { StixEmitter } from './emit.ts';
import { stableUuid } from './ids.ts';
import { type JsonStreamOptions } from './json-paths.ts';
import { MISP_REFERENCE_TIME, clusterObject } from './misp-galaxy.ts';
import { type MispRecord, readEventBodies, readEventFields } from './misp-reader.ts';
import { attributeObservables } from './misp-types.ts';
import type { ConvertOptions } from './options.ts';
import type { ConversionReport } from './report.ts';
import { toTimestamp } from './timestamps.ts';

const TLP_TAGS: Record<string, TlpMarking> = {
  'tlp:white': TLP_2_CLEAR,
  'tlp:clear': TLP_2_CLEAR,
  'tlp:green': TLP_2_GREEN,
  'tlp:amber': TLP_2_AMBER,
  'tlp:amber+strict': TLP_2_AMBER_STRICT,
  'tlp:red': TLP_2_RED,
};

/** Object relations whose hash is a certificate's, which has no file SCO. */
const CERTIFICATE_RELATION = /certificate|x509|fingerprint|pubkey/i;

/** Labels and TLP marking read from a MISP `Tag` array. */
interface TagInfo {
  labels: string[];
  tlp?: TlpMarking;
}

function readTags(tags: unknown): TagInfo {
  const info: TagInfo = { labels: [] };
  if (!Array.isArray(tags)) return info;
  for (const tag of tags as MispRecord[]) {
    const name = typeof tag?.name === 'string' ? tag.name.trim() : '';
    if (name === '') continue;
    const tlp = TLP_TAGS[name.toLowerCase()];
    if (tlp) info.tlp = tlp;
    // Galaxy tags repeat the clusters of the Galaxy array, which become objects.
    else if (!name.startsWith('misp-galaxy:')) info.labels.push(name);
  }
  return info;
}

/** Returns a string or number field as text, and anything else as the empty string. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return '';
}

/** Explains why a MISP sighting has no STIX sighting. */
function sightingGap(kind: string, undated: boolean): string {
  if (kind === '1') return 'a false-positive report';
  if (kind === '2') return 'an expiration';
  if (undated) return 'undated';
  return 'of an attribute without indicator';
}

/** The STIX objects made from one event so far, and what they share. */
interface EventContext {
  uuid: string;
  name: string;
  where: string;
  created: string;
  modified: string;
  published: string;
  identityId?: string;
  markingRefs: string[];
  labels: string[];
  /** Ids for the report's object_refs. */
  refs: Set<string>;
  externalReferences: Array<Record<string, string>>;
  attributeCount: number;
}

export class MispConverter {
  private readonly emitter: StixEmitter;

  constructor(
    private readonly options: ConvertOptions,
    private readonly report: ConversionReport,
    emitter?: StixEmitter,
  ) {
    this.emitter = emitter ?? new StixEmitter(report, options.warninglists);
  }

  /**
   * Converts every event of one MISP JSON document. `open` is called twice and must give
   * the same bytes each time (see misp-reader.ts). Invalid JSON raises CairnError in the
   * first pass, before any object is yielded.
   */
  async *convertDocument(
    open: () => AsyncIterable<Uint8Array | string>,
    streamOptions: JsonStreamOptions = {},
  ): AsyncGenerator<StixObject> {
    const events = await readEventFields(open(), { name: streamOptions.name });
    const contexts = new Map<number, EventContext>();
    let index = 0;
    const context = (event: number): { context: EventContext; head: StixObject[] } => {
      let current = contexts.get(event);
      const head: StixObject[] = [];
      if (!current) {
        current = this.startEvent(events[event] ?? {}, head);
        contexts.set(event, current);
      }
      return { context: current, head };
    };

    for await (const item of readEventBodies(open(), streamOptions)) {
      const { context: event, head } = context(item.event);
      yield* head;
      if (item.kind === 'end') {
        yield* this.finishEvent(event);
        contexts.delete(item.event);
        index = item.event + 1;
      } else if (item.kind === 'Attribute') {
        yield* this.attribute(event, item.value);
      } else {
        yield* this.object(event, item.value);
      }
    }
    // Events the second pass never reached: an event with no keys at all.
    for (; index < events.length; index++) {
      const { context: event, head } = context(index);
      yield* head;
      yield* this.finishEvent(event);
    }
  }

  /** Sets up an event: its identity, marking and galaxy objects go into `head`. */
  private startEvent(fields: MispRecord, head: StixObject[]): EventContext {
    const uuid = isUuid(text(fields.uuid))
      ? text(fields.uuid).toLowerCase()
      : stableUuid(`${this.options.source}\n${JSON.stringify(fields.info ?? '')}`);
    const modified =
      toTimestamp(text(fields.timestamp)) ??
      toTimestamp(text(fields.date)) ??
      this.options.created ??
      new Date().toISOString();
    const dated = toTimestamp(text(fields.date));
    const created = dated !== undefined && dated <= modified ? dated : modified;
    const publishedAt = toTimestamp(text(fields.publish_timestamp));
    const tags = readTags(fields.Tag);
    const context: EventContext = {
      uuid,
      name: text(fields.info).trim() || `MISP event ${uuid}`,
      where: `event ${uuid}`,
      created,
      modified,
      published: publishedAt !== undefined && publishedAt >= created ? publishedAt : modified,
      markingRefs: tags.tlp ? [tags.tlp.id] : (this.options.markingRefs ?? []),
      labels: [...(this.options.labels ?? []), ...tags.labels],
      refs: new Set(),
      externalReferences: [],
      attributeCount: 0,
    };
    if (tags.tlp) head.push(...this.emitter.once(tags.tlp.object as StixObject));

    const identity = this.identity(fields.Orgc);
    if (identity) {
      context.identityId = identity.id;
      head.push(...this.emitter.once(identity));
    }
    for (const object of this.galaxies(fields.Galaxy, context)) {
      context.refs.add(object.id);
      head.push(...this.emitter.once(object));
    }
    if (Array.isArray(fields.EventReport) && fields.EventReport.length > 0) {
      this.report.lose(
        context.where,
        'event-report',
        `${fields.EventReport.length} event report(s) were not carried over`,
      );
    }
    return context;
  }

  private identity(organisation: unknown): StixObject | undefined {
    const org = organisation as MispRecord | undefined;
    const name = text(org?.name).trim();
    if (!name) return undefined;
    const uuid = isUuid(text(org?.uuid))
      ? text(org?.uuid).toLowerCase()
      : stableUuid(`misp-organisation\n${name}`);
    return {
      type: 'identity',
      spec_version: '2.1',
      id: `identity--${uuid}`,
      created: MISP_REFERENCE_TIME,
      modified: MISP_REFERENCE_TIME,
      name,
      identity_class: 'organization',
    };
  }

  /** Builds the objects of the clusters in a `Galaxy` array; unmapped galaxies are reported. */
  private galaxies(galaxies: unknown, context: EventContext): StixObject[] {
    if (!Array.isArray(galaxies)) return [];
    const objects: StixObject[] = [];
    for (const galaxy of galaxies as MispRecord[]) {
      const type = text(galaxy?.type);
      const clusters = Array.isArray(galaxy?.GalaxyCluster)
        ? (galaxy.GalaxyCluster as MispRecord[])
        : [];
      for (const cluster of clusters) {
        const object = clusterObject(type, cluster ?? {});
        if (object) {
          objects.push(object);
        } else {
          this.report.lose(
            context.where,
            'unmapped-galaxy',
            `the cluster ${JSON.stringify(text(cluster?.value))} of galaxy ${JSON.stringify(type)} has no STIX type in Cairn`,
          );
        }
      }
    }
    return objects;
  }

  private *attribute(context: EventContext, attribute: MispRecord): Generator<StixObject> {
    this.report.records++;
    context.attributeCount++;
    const uuid = text(attribute.uuid);
    const where = `${context.where}, attribute ${uuid || context.attributeCount}`;
    if (attribute.deleted === true) {
      this.report.skip(where, 'deleted', 'the attribute is marked deleted');
      return;
    }
    const type = text(attribute.type);
    const value = text(attribute.value);
    if (type === 'link') {
      if (/^https?:\/\//i.test(value) && context.externalReferences.length < 100) {
        context.externalReferences.push({ source_name: 'misp-link', url: value });
      }
      return;
    }
    if (type === 'vulnerability') {
      yield* this.vulnerability(context, value, where);
      return;
    }
    const relation = text(attribute.object_relation);
    if (CERTIFICATE_RELATION.test(relation)) {
      // In android-app, x509 and similar objects a hash is a certificate fingerprint.
      this.report.skip(
        where,
        'unsupported-type',
        `the ${type} of ${JSON.stringify(relation)} is a certificate fingerprint, not a file hash`,
      );
      return;
    }
    const found = attributeObservables(type, value);
    if (!found) {
      this.report.skip(
        where,
        'unsupported-type',
        `MISP type ${JSON.stringify(type)} has no STIX observable in Cairn`,
      );
      return;
    }
    if (found.lost)
      this.report.lose(where, 'composite-part', `the ${found.lost} has no place in the observable`);

    const tags = readTags(attribute.Tag);
    const single = found.observables.length === 1 && isUuid(uuid);
    const indicatorIds: string[] = [];
    for (const observable of found.observables) {
      if (!observable.ok) {
        this.report.skip(where, 'invalid-value', observable.reason);
        continue;
      }
      const options =
        attribute.to_ids === true || attribute.to_ids === '1'
          ? this.indicatorOptions(
              context,
              attribute,
              tags,
              single ? `indicator--${uuid.toLowerCase()}` : undefined,
            )
          : false;
      if (tags.tlp) yield* this.emitter.once(tags.tlp.object as StixObject);
      const objects = this.emitter.observable(observable.value, options, where);
      for (const object of objects) {
        context.refs.add(object.id);
        if (object.type === 'indicator') indicatorIds.push(object.id);
        yield object;
      }
      // The emitter leaves out an SCO it already emitted for an earlier event; this
      // event's report still refers to it, unless a warning list dropped the value.
      if (!this.emitter.dropped && !objects.some((object) => object.type !== 'indicator')) {
        context.refs.add(toSco(observable.value).id);
      }
    }
    const targets = this.galaxies(attribute.Galaxy, context);
    for (const object of targets) {
      context.refs.add(object.id);
      yield* this.emitter.once(object);
      for (const indicatorId of indicatorIds)
        yield* this.relationship(context, indicatorId, 'indicates', object.id);
    }
    yield* this.sightings(context, attribute.Sighting, indicatorIds, where);
  }

  private indicatorOptions(
    context: EventContext,
    attribute: MispRecord,
    tags: TagInfo,
    id: string | undefined,
  ): IndicatorOptions {
    const stamped = toTimestamp(text(attribute.timestamp));
    const modified = stamped !== undefined && stamped > context.created ? stamped : context.created;
    const firstSeen = toTimestamp(text(attribute.first_seen));
    const lastSeen = toTimestamp(text(attribute.last_seen));
    const comment = text(attribute.comment).trim();
    const labels = [...(this.options.labels ?? []), ...tags.labels];
    const markings = tags.tlp ? [tags.tlp.id] : context.markingRefs;
    return {
      ...(id ? { id } : {}),
      source: `${this.options.source}\n${context.uuid}`,
      created: context.created,
      modified,
      validFrom: firstSeen ?? context.created,
      ...(lastSeen !== undefined && lastSeen > (firstSeen ?? context.created)
        ? { validUntil: lastSeen }
        : {}),
      ...(comment ? { description: comment } : {}),
      ...(labels.length ? { labels } : {}),
      ...(this.options.confidence === undefined ? {} : { confidence: this.options.confidence }),
      ...(context.identityId ? { createdByRef: context.identityId } : {}),
      ...(markings.length ? { objectMarkingRefs: markings } : {}),
    };
  }

  private *vulnerability(
    context: EventContext,
    value: string,
    where: string,
  ): Generator<StixObject> {
    const name = value.trim().toUpperCase();
    if (!/^CVE-[0-9]{4}-[0-9]{4,}$/.test(name)) {
      this.report.skip(where, 'invalid-value', `${JSON.stringify(value)} is not a CVE id`);
      return;
    }
    const object: StixObject = {
      type: 'vulnerability',
      spec_version: '2.1',
      id: `vulnerability--${stableUuid(`cve\n${name}`)}`,
      created: MISP_REFERENCE_TIME,
      modified: MISP_REFERENCE_TIME,
      name,
      external_references: [{ source_name: 'cve', external_id: name }],
    };
    context.refs.add(object.id);
    yield* this.emitter.once(object);
  }

  private *relationship(
    context: EventContext,
    source: string,
    type: string,
    target: string,
  ): Generator<StixObject> {
    const object: StixObject = {
      type: 'relationship',
      spec_version: '2.1',
      id: `relationship--${stableUuid(`${source}\n${type}\n${target}`)}`,
      created: context.created,
      modified: context.created,
      relationship_type: type,
      source_ref: source,
      target_ref: target,
      ...(context.markingRefs.length ? { object_marking_refs: context.markingRefs } : {}),
    };
    context.refs.add(object.id);
    yield* this.emitter.once(object);
  }

  /** Sightings of type 0 become STIX sightings; false positives and expirations are reported. */
  private *sightings(
    context: EventContext,
    sightings: unknown,
    indicatorIds: string[],
    where: string,
  ): Generator<StixObject> {
    if (!Array.isArray(sightings)) return;
    for (const sighting of sightings as MispRecord[]) {
      const kind = text(sighting?.type) || '0';
      const seen = toTimestamp(text(sighting?.date_sighting));
      if (kind !== '0' || seen === undefined || indicatorIds.length === 0) {
        const reason = sightingGap(kind, seen === undefined);
        this.report.lose(where, 'sighting', `a sighting was not carried over: it is ${reason}`);
        continue;
      }
      const organisation = this.identity(sighting.Organisation);
      if (organisation) yield* this.emitter.once(organisation);
      for (const indicatorId of indicatorIds) {
        const uuid =
          isUuid(text(sighting.uuid)) && indicatorIds.length === 1
            ? text(sighting.uuid).toLowerCase()
            : stableUuid(`${text(sighting.uuid)}\n${indicatorId}\n${seen}`);
        const object: StixObject = {
          type: 'sighting',
          spec_version: '2.1',
          id: `sighting--${uuid}`,
          created: seen,
          modified: seen,
          first_seen: seen,
          last_seen: seen,
          count: 1,
          sighting_of_ref: indicatorId,
          ...(organisation ? { where_sighted_refs: [organisation.id] } : {}),
          ...(context.markingRefs.length ? { object_marking_refs: context.markingRefs } : {}),
        };
        context.refs.add(object.id);
        yield* this.emitter.emit(object);
      }
    }
  }

  private *object(context: EventContext, object: MispRecord): Generator<StixObject> {
    const attributes = Array.isArray(object.Attribute) ? (object.Attribute as MispRecord[]) : [];
    if (attributes.length > 1) {
      this.report.lose(
        `${context.where}, object ${text(object.uuid) || text(object.name)}`,
        'object-flattened',
        `the ${JSON.stringify(text(object.name))} object was imported as ${attributes.length} separate attributes`,
      );
    }
    for (const attribute of attributes) yield* this.attribute(context, attribute ?? {});
  }

  /** Yields the report of a finished event, unless nothing was made from it. */
  private *finishEvent(context: EventContext): Generator<StixObject> {
    if (context.refs.size === 0) {
      this.report.skip(
        context.where,
        'empty-event',
        'no STIX object was made from the event, so it has no report',
      );
      return;
    }
    const report: StixObject = {
      type: 'report',
      spec_version: '2.1',
      id: `report--${context.uuid}`,
      created: context.created,
      modified: context.modified,
      name: context.name,
      report_types: ['threat-report'],
      published: context.published,
      object_refs: [...context.refs],
      ...(context.identityId ? { created_by_ref: context.identityId } : {}),
      ...(context.labels.length ? { labels: context.labels } : {}),
      ...(context.markingRefs.length ? { object_marking_refs: context.markingRefs } : {}),
      external_references: [
        { source_name: 'misp', external_id: context.uuid },
        ...context.externalReferences,
      ],
    };
    yield* this.emitter.emit(report);
  }
}
