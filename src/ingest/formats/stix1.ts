/**
 * STIX 1.x XML packages to STIX 2.1. Indicators get patterns from their CybOX observables,
 * and Snort and YARA test mechanisms become indicators of those pattern types. Observables
 * become SCOs, and TTPs malware, attack-pattern, tool or infrastructure. Campaigns, threat
 * actors, courses of action, exploit targets with CVE ids (as vulnerabilities) and TLP
 * markings convert too. Relationships follow the 1.x references (Indicated_TTP,
 * Attribution, Observed_TTPs, Related_TTPs, Suggested_COAs). Everything else is listed in
 * the report as not carried over.
 *
 * The package is read one top-level construct at a time. References are resolved at the
 * end, because a 1.x reference may point to a construct further down.
 */
import type { Observable, StixObject } from '../../normalise/index.ts';
import { escapePatternString, normalise, patternFor, toSco } from '../../normalise/index.ts';
import { isUuid } from '../../stix/ids.ts';
import {
  TLP_2_AMBER,
  TLP_2_CLEAR,
  TLP_2_GREEN,
  TLP_2_RED,
  type TlpMarking,
} from '../../stix/tlp.ts';
import { StixEmitter } from './emit.ts';
import { stableUuid } from './ids.ts';
import type { ConvertOptions } from './options.ts';
import type { ConversionReport } from './report.ts';
import { toTimestamp } from './timestamps.ts';
import {
  type XmlElement,
  child,
  children,
  descend,
  textOf,
  xmlSubtrees,
  xsiType,
} from './xml-tree.ts';

/** Containers of top-level constructs in a STIX_Package, and the construct they hold. */
const CONTAINERS: Record<string, string> = {
  Observables: 'Observable',
  Indicators: 'Indicator',
  TTPs: 'TTP',
  Exploit_Targets: 'Exploit_Target',
  Incidents: 'Incident',
  Courses_Of_Action: 'Course_Of_Action',
  Campaigns: 'Campaign',
  Threat_Actors: 'Threat_Actor',
  Reports: 'Report',
};

const TLP_COLOURS: Record<string, TlpMarking> = {
  WHITE: TLP_2_CLEAR,
  CLEAR: TLP_2_CLEAR,
  GREEN: TLP_2_GREEN,
  AMBER: TLP_2_AMBER,
  RED: TLP_2_RED,
};

/** A relationship whose ends are 1.x ids, resolved once the whole package is read. */
interface PendingRelationship {
  source: string;
  type: string;
  target: string;
  where: string;
}

/** Pattern text of one CybOX object, with the observable it names when Cairn can normalise it. */
interface Comparison {
  pattern: string;
  observable?: Observable;
}

export class Stix1Converter {
  private readonly emitter: StixEmitter;
  /** 2.1 ids of converted constructs, by their 1.x id. */
  private readonly ids = new Map<string, string>();
  /** CybOX observables by 1.x id, for indicators that reference them. */
  private readonly observables = new Map<string, Comparison[]>();
  private readonly pending: PendingRelationship[] = [];
  private packageMarkings: string[] = [];
  private readonly created: string;

  constructor(
    private readonly options: ConvertOptions,
    private readonly report: ConversionReport,
  ) {
    this.emitter = new StixEmitter(report, options.warninglists);
    this.created = options.created ?? new Date().toISOString();
  }

  async *convert(
    source: AsyncIterable<Uint8Array | string>,
    onBytes?: (bytes: number) => void,
  ): AsyncGenerator<StixObject> {
    const wanted = (path: readonly string[]): boolean =>
      (path.length === 2 && path[1] === 'STIX_Header') ||
      (path.length === 3 && CONTAINERS[path[1]!] === path[2]);
    for await (const element of xmlSubtrees(source, wanted, onBytes)) {
      if (element.name === 'STIX_Header') {
        this.packageMarkings = this.markings(element);
        continue;
      }
      this.report.records++;
      yield* this.construct(element);
    }
    yield* this.relationships();
  }

  private *construct(element: XmlElement): Generator<StixObject> {
    switch (element.name) {
      case 'Observable':
        yield* this.observable(element);
        return;
      case 'Indicator':
        yield* this.indicator(element);
        return;
      case 'TTP':
        yield* this.ttp(element);
        return;
      case 'Campaign':
        yield* this.campaign(element);
        return;
      case 'Threat_Actor':
        yield* this.threatActor(element);
        return;
      case 'Course_Of_Action':
        yield* this.courseOfAction(element);
        return;
      case 'Exploit_Target':
        yield* this.exploitTarget(element);
        return;
      default:
        this.report.skip(
          this.where(element),
          'not-carried',
          `STIX 1.x ${element.name} has no conversion in Cairn`,
        );
    }
  }

  private where(element: XmlElement): string {
    return `${element.name} ${element.attributes.get('id') ?? element.attributes.get('idref') ?? '(no id)'}`;
  }

  /** Returns the 2.1 id of a 1.x construct: its UUID when the 1.x id has one, else a UUIDv5 of the id. */
  private idFor(type: string, element: XmlElement): string {
    const original = element.attributes.get('id');
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.exec(
      original ?? '',
    )?.[0];
    const id = `${type}--${uuid && isUuid(uuid) ? uuid.toLowerCase() : stableUuid(`${this.options.source}\n${original ?? JSON.stringify(element)}`)}`;
    if (original) this.ids.set(original, id);
    return id;
  }

  /** Common properties of an SDO made from a 1.x construct. */
  private common(type: string, element: XmlElement, name: string): StixObject {
    const stamp = toTimestamp(element.attributes.get('timestamp') ?? '') ?? this.created;
    const markings = this.markings(element);
    const object: StixObject = {
      type,
      spec_version: '2.1',
      id: this.idFor(type, element),
      created: stamp,
      modified: stamp,
      name,
    };
    const description = textOf(element, 'Description');
    if (description) object.description = description;
    const refs = markings.length ? markings : this.packageMarkings;
    if (refs.length) object.object_marking_refs = refs;
    return object;
  }

  /** TLP markings in a construct's Handling; other marking structures are reported. */
  private markings(element: XmlElement): string[] {
    const refs: string[] = [];
    for (const marking of children(child(element, 'Handling'), 'Marking')) {
      for (const structure of children(marking, 'Marking_Structure')) {
        const tlp = TLP_COLOURS[(structure.attributes.get('color') ?? '').toUpperCase()];
        if (tlp && xsiType(structure).startsWith('TLP')) {
          refs.push(tlp.id);
        } else {
          this.report.lose(
            this.where(element),
            'marking',
            `the ${xsiType(structure) || 'marking'} structure has no STIX 2.1 equivalent in Cairn`,
          );
        }
      }
    }
    return [...new Set(refs)];
  }

  private *markingObjects(object: StixObject): Generator<StixObject> {
    for (const ref of (object.object_marking_refs as string[] | undefined) ?? []) {
      const tlp = Object.values(TLP_COLOURS).find((marking) => marking.id === ref);
      if (tlp) yield* this.emitter.once(tlp.object as StixObject);
    }
  }

  private *observable(element: XmlElement): Generator<StixObject> {
    const comparisons = this.cybox(element);
    const id = element.attributes.get('id');
    if (id) this.observables.set(id, comparisons);
    if (comparisons.length === 0) {
      this.report.skip(
        this.where(element),
        'not-carried',
        'the observable has no object Cairn can convert',
      );
    }
    for (const comparison of comparisons) {
      if (comparison.observable)
        yield* this.emitter.observable(comparison.observable, false, this.where(element));
    }
  }

  /**
   * Returns the comparisons of an Observable: of its Object, of each member of an
   * Observable_Composition, or those of the observable it references.
   */
  private cybox(observable: XmlElement): Comparison[] {
    const idref = observable.attributes.get('idref');
    if (idref) return this.observables.get(idref) ?? [];
    const composition = child(observable, 'Observable_Composition');
    if (composition)
      return children(composition, 'Observable').flatMap((member) => this.cybox(member));
    const properties = descend(observable, 'Object', 'Properties');
    if (!properties) return [];
    return this.objectComparisons(properties, this.where(observable));
  }

  private objectComparisons(properties: XmlElement, where: string): Comparison[] {
    const type = xsiType(properties);
    const compare = (
      kind: Parameters<typeof normalise>[0],
      value: XmlElement | undefined,
      algorithm?: string,
    ): Comparison[] => this.valueComparisons(kind, value, where, algorithm);
    switch (type) {
      case 'AddressObjectType': {
        const category = properties.attributes.get('category') ?? 'ipv4-addr';
        const value = child(properties, 'Address_Value');
        if (category === 'e-mail') return compare('email', value);
        return compare(category.startsWith('cidr') ? 'cidr' : 'ip', value);
      }
      case 'DomainNameObjectType':
        return compare('domain', child(properties, 'Value'));
      case 'URIObjectType':
        return compare('url', child(properties, 'Value'));
      case 'FileObjectType': {
        const hashes = children(child(properties, 'Hashes'), 'Hash').flatMap((hash) =>
          compare('hash', child(hash, 'Simple_Hash_Value'), textOf(hash, 'Type')),
        );
        const name = child(properties, 'File_Name');
        return name?.text
          ? [...hashes, { pattern: `file:name = '${escapePatternString(name.text)}'` }]
          : hashes;
      }
      case 'EmailMessageObjectType': {
        const header = child(properties, 'Header');
        const found = compare('email', descend(header, 'From', 'Address_Value')).map((item) => ({
          ...item,
          pattern: item.pattern.replace(/^email-addr:value/, 'email-message:from_ref.value'),
        }));
        const subject = textOf(header, 'Subject');
        if (subject)
          found.push({ pattern: `email-message:subject = '${escapePatternString(subject)}'` });
        return found;
      }
      default:
        this.report.lose(
          where,
          'cybox-object',
          `the CybOX ${type || 'object'} has no conversion in Cairn`,
        );
        return [];
    }
  }

  /**
   * Returns the comparisons of one CybOX value: `Equals` (or no condition) as `=`, a list
   * with `apply_condition` as one comparison per item, and `Contains`, `StartsWith` and
   * `EndsWith` as LIKE.
   */
  private valueComparisons(
    kind: Parameters<typeof normalise>[0],
    element: XmlElement | undefined,
    where: string,
    algorithm?: string,
  ): Comparison[] {
    if (!element?.text) return [];
    const condition = element.attributes.get('condition') ?? 'Equals';
    const values = element.text
      .split('##comma##')
      .map((item) => item.trim())
      .filter(Boolean);
    const result: Comparison[] = [];
    for (const value of values) {
      if (condition === 'Equals') {
        const observable = normalise(kind, value, algorithm);
        if (observable.ok) {
          result.push({
            pattern: patternFor(observable.value).slice(1, -1),
            observable: observable.value,
          });
        } else {
          this.report.lose(where, 'invalid-value', observable.reason);
        }
        continue;
      }
      const like = { Contains: `%${value}%`, StartsWith: `${value}%`, EndsWith: `%${value}` }[
        condition
      ];
      if (like === undefined) {
        this.report.lose(
          where,
          'condition',
          `the condition ${condition} on ${JSON.stringify(value)} has no STIX pattern equivalent in Cairn`,
        );
        continue;
      }
      const path = {
        ip: 'ipv4-addr:value',
        cidr: 'ipv4-addr:value',
        domain: 'domain-name:value',
        url: 'url:value',
        email: 'email-addr:value',
      }[kind as string];
      if (path) result.push({ pattern: `${path} LIKE '${escapePatternString(like)}'` });
    }
    return result;
  }

  private *indicator(element: XmlElement): Generator<StixObject> {
    const where = this.where(element);
    const name = textOf(element, 'Title') || 'STIX 1.x indicator';
    const object = this.common('indicator', element, name);
    const validFrom = toTimestamp(textOf(element, 'Valid_Time_Position', 'Start_Time'));
    const validUntil = toTimestamp(textOf(element, 'Valid_Time_Position', 'End_Time'));
    object.valid_from = validFrom ?? object.created;
    if (validUntil && validUntil > String(object.valid_from)) object.valid_until = validUntil;
    const types = children(element, 'Type')
      .map((type) => type.text)
      .filter(Boolean);
    if (types.length) object.labels = types;
    const phases = children(child(element, 'Kill_Chain_Phases'), 'Kill_Chain_Phase').map(
      (phase) => ({
        kill_chain_name: (
          phase.attributes.get('kill_chain_name') ?? 'lockheed-martin-cyber-kill-chain'
        )
          .toLowerCase()
          .replace(/\s+/g, '-'),
        phase_name: (phase.attributes.get('name') ?? phase.attributes.get('phase_id') ?? 'unknown')
          .toLowerCase()
          .replace(/\s+/g, '-'),
      }),
    );
    if (phases.length) object.kill_chain_phases = phases;

    const observable = child(element, 'Observable');
    const composite = child(element, 'Composite_Indicator_Expression');
    if (composite)
      this.report.lose(
        where,
        'composite-indicator',
        'a composite indicator expression was not carried over',
      );
    const comparisons = observable ? this.cybox(observable) : [];
    const operator =
      child(observable, 'Observable_Composition')?.attributes.get('operator') === 'AND'
        ? ' AND '
        : ' OR ';
    const made: StixObject[] = [];
    if (comparisons.length > 0) {
      made.push({
        ...object,
        pattern: `[${comparisons.map((item) => item.pattern).join(operator)}]`,
        pattern_type: 'stix',
      });
      for (const comparison of comparisons) {
        if (comparison.observable)
          yield* this.emitter.observable(comparison.observable, false, where);
      }
    }
    for (const mechanism of children(child(element, 'Test_Mechanisms'), 'Test_Mechanism')) {
      const kind = xsiType(mechanism);
      const rule = kind.startsWith('Snort')
        ? children(mechanism, 'Rule')
            .map((item) => item.text)
            .join('\n')
        : kind.startsWith('Yara')
          ? textOf(mechanism, 'Rule')
          : '';
      if (!rule) {
        this.report.lose(
          where,
          'test-mechanism',
          `the ${kind || 'test'} mechanism has no STIX 2.1 pattern type in Cairn`,
        );
        continue;
      }
      const suffix = made.length === 0 ? '' : `-${made.length}`;
      const id =
        made.length === 0 ? object.id : `indicator--${stableUuid(`${object.id}${suffix}`)}`;
      made.push({
        ...object,
        id,
        pattern: rule,
        pattern_type: kind.startsWith('Snort') ? 'snort' : 'yara',
      });
    }
    if (made.length === 0) {
      this.report.skip(
        where,
        'no-pattern',
        'the indicator has no observable or test mechanism Cairn can turn into a pattern',
      );
      return;
    }
    const original = element.attributes.get('id');
    for (const ttp of children(child(element, 'Indicated_TTP'), 'TTP')) {
      this.relate(original, 'indicates', this.reference(ttp), where);
    }
    for (const coa of children(child(element, 'Suggested_COAs'), 'Suggested_COA')) {
      this.relate(this.reference(child(coa, 'Course_Of_Action')), 'mitigates', original, where);
    }
    yield* this.markingObjects(object);
    for (const indicator of made) yield* this.emitter.emit(indicator);
    yield* this.convertNested();
  }

  /**
   * Returns the 1.x id a reference element names. An inline construct (with `id` rather
   * than `idref`) is queued for conversion after the construct that contains it.
   */
  private reference(element: XmlElement | undefined): string | undefined {
    const idref = element?.attributes.get('idref');
    if (idref) return idref;
    const id = element?.attributes.get('id');
    if (id) this.nested.push(element!);
    return id;
  }

  /** Queues a relationship between two 1.x ids, resolved at the end of the package. */
  private relate(
    source: string | undefined,
    type: string,
    target: string | undefined,
    where: string,
  ): void {
    if (source && target) this.pending.push({ source, type, target, where });
  }

  /** Constructs defined inline inside another, converted after it. */
  private readonly nested: XmlElement[] = [];

  private *ttp(element: XmlElement): Generator<StixObject> {
    const where = this.where(element);
    const title = textOf(element, 'Title');
    const made: StixObject[] = [];
    const original = element.attributes.get('id');
    for (const malware of children(descend(element, 'Behavior', 'Malware'), 'Malware_Instance')) {
      const object = this.common(
        'malware',
        made.length === 0 ? element : malware,
        textOf(malware, 'Name') || textOf(malware, 'Title') || title || 'malware',
      );
      object.is_family = true;
      const types = children(malware, 'Type')
        .map((type) => type.text.toLowerCase().replace(/\s+/g, '-'))
        .filter(Boolean);
      if (types.length) object.malware_types = types;
      made.push(object);
    }
    for (const pattern of children(
      descend(element, 'Behavior', 'Attack_Patterns'),
      'Attack_Pattern',
    )) {
      const object = this.common(
        'attack-pattern',
        made.length === 0 ? element : pattern,
        textOf(pattern, 'Title') || title || 'attack pattern',
      );
      const capec = pattern.attributes.get('capec_id');
      if (capec) object.external_references = [{ source_name: 'capec', external_id: capec }];
      made.push(object);
    }
    for (const tool of children(descend(element, 'Resources', 'Tools'), 'Tool')) {
      made.push(
        this.common(
          'tool',
          made.length === 0 ? element : tool,
          textOf(tool, 'Name') || title || 'tool',
        ),
      );
    }
    const infrastructure = descend(element, 'Resources', 'Infrastructure');
    if (infrastructure) {
      const object = this.common(
        'infrastructure',
        made.length === 0 ? element : infrastructure,
        title || textOf(infrastructure, 'Title') || 'infrastructure',
      );
      made.push(object);
      yield* this.infrastructure(object, infrastructure, where);
    }
    if (child(element, 'Victim_Targeting'))
      this.report.lose(where, 'victim-targeting', 'victim targeting was not carried over');
    if (made.length === 0) {
      this.report.skip(
        where,
        'not-carried',
        'the TTP has no malware, attack pattern, tool or infrastructure',
      );
      return;
    }
    if (original) this.ids.set(original, made[0]!.id);
    for (const object of made) {
      yield* this.markingObjects(object);
      yield* this.emitter.emit(object);
    }
  }

  /** Fills in an infrastructure object and yields the SCOs of its observables. */
  private *infrastructure(
    object: StixObject,
    element: XmlElement,
    where: string,
  ): Generator<StixObject> {
    const types = children(element, 'Type')
      .map((type) => type.text.toLowerCase().replace(/\s+/g, '-'))
      .filter(Boolean);
    if (types.length) object.infrastructure_types = types;
    for (const observable of children(
      child(element, 'Observable_Characterization'),
      'Observable',
    )) {
      for (const comparison of this.cybox(observable)) {
        if (!comparison.observable) continue;
        yield* this.emitter.observable(comparison.observable, false, where);
        const target = toSco(comparison.observable).id;
        this.pendingResolved.push({ source: object.id, type: 'consists-of', target, where });
      }
    }
  }

  /** Relationships whose ends are already 2.1 ids. */
  private readonly pendingResolved: PendingRelationship[] = [];

  private *campaign(element: XmlElement): Generator<StixObject> {
    const where = this.where(element);
    const object = this.common(
      'campaign',
      element,
      textOf(element, 'Title') || textOf(element, 'Names', 'Name') || 'campaign',
    );
    const original = element.attributes.get('id');
    for (const actor of children(
      descend(element, 'Attribution'),
      'Attributed_Threat_Actor',
    ).flatMap((item) => children(item, 'Threat_Actor'))) {
      this.relate(original, 'attributed-to', this.reference(actor), where);
    }
    for (const related of children(child(element, 'Related_TTPs'), 'Related_TTP')) {
      this.relate(original, 'uses', this.reference(child(related, 'TTP')), where);
    }
    if (child(element, 'Related_Incidents'))
      this.report.lose(where, 'incident', 'related incidents were not carried over');
    yield* this.markingObjects(object);
    yield* this.emitter.emit(object);
    yield* this.convertNested();
  }

  private *threatActor(element: XmlElement): Generator<StixObject> {
    const where = this.where(element);
    const object = this.common(
      'threat-actor',
      element,
      textOf(element, 'Title') || textOf(element, 'Identity', 'Name') || 'threat actor',
    );
    const types = children(element, 'Type')
      .map((type) => textOf(type, 'Value') || type.text)
      .filter(Boolean)
      .map((type) => type.toLowerCase().replace(/\s+/g, '-'));
    if (types.length) object.threat_actor_types = types;
    const original = element.attributes.get('id');
    for (const observed of children(child(element, 'Observed_TTPs'), 'Observed_TTP')) {
      this.relate(original, 'uses', this.reference(child(observed, 'TTP')), where);
    }
    for (const name of ['Motivation', 'Intended_Effect', 'Sophistication']) {
      if (child(element, name))
        this.report.lose(where, name.toLowerCase(), `${name} was not carried over`);
    }
    yield* this.markingObjects(object);
    yield* this.emitter.emit(object);
    yield* this.convertNested();
  }

  private *courseOfAction(element: XmlElement): Generator<StixObject> {
    const object = this.common(
      'course-of-action',
      element,
      textOf(element, 'Title') || 'course of action',
    );
    yield* this.markingObjects(object);
    yield* this.emitter.emit(object);
  }

  private *exploitTarget(element: XmlElement): Generator<StixObject> {
    const cves = children(element, 'Vulnerability')
      .map((vulnerability) => textOf(vulnerability, 'CVE_ID'))
      .filter(Boolean);
    if (cves.length === 0) {
      this.report.skip(this.where(element), 'not-carried', 'the exploit target names no CVE');
      return;
    }
    for (const [index, cve] of cves.entries()) {
      const object = this.common('vulnerability', element, cve);
      if (index > 0) object.id = `vulnerability--${stableUuid(`${object.id}\n${cve}`)}`;
      object.external_references = [{ source_name: 'cve', external_id: cve }];
      yield* this.markingObjects(object);
      yield* this.emitter.emit(object);
    }
  }

  private *convertNested(): Generator<StixObject> {
    for (const element of this.nested.splice(0)) {
      this.report.records++;
      yield* this.construct(element);
    }
  }

  /** Yields the relationships whose two ends were converted; reports the others. */
  private *relationships(): Generator<StixObject> {
    yield* this.convertNested();
    const resolved = this.pending.flatMap(({ source, type, target, where }) => {
      const sourceId = this.ids.get(source);
      const targetId = this.ids.get(target);
      if (sourceId && targetId) return [{ source: sourceId, type, target: targetId, where }];
      this.report.lose(
        where,
        'unresolved-reference',
        `the ${type} reference to ${sourceId ? target : source} names nothing converted in the package`,
      );
      return [];
    });
    for (const { source, type, target } of [...resolved, ...this.pendingResolved]) {
      yield* this.emitter.once({
        type: 'relationship',
        spec_version: '2.1',
        id: `relationship--${stableUuid(`${source}\n${type}\n${target}`)}`,
        created: this.created,
        modified: this.created,
        relationship_type: type,
        source_ref: source,
        target_ref: target,
      });
    }
  }
}
