/**
 * The bulk look-up: lines of text in (proxy logs, DNS logs, CSV, plain lists), one NDJSON
 * line out per input line that mentions a known observable. The observables of each line
 * are found with src/normalise (refang, then classify each token) and looked up in the
 * value index (stored indicators, SCOs, observed data) and in the caller's watch lists.
 * Each hit is checked against the store with the caller's access before it is reported,
 * with the sightings and related objects of what it found.
 *
 * Lines are handled in chunks, so store reads are batched, and answers for a value are
 * cached for the session, since logs repeat the same few values many times.
 */
import type { Caller } from '../auth/tokens.ts';
import { AccessLookups, EventReader } from '../events/filter.ts';
import { classify, refang, type Observable } from '../normalise/index.ts';
import { accessFilter } from '../sharing/access.ts';
import type { Store } from '../store/store.ts';
import { readerJson } from './access.ts';
import { describeEntry, type WatchIndex } from './engine.ts';
import { formatIpv4, parseIpv4 } from './ip.ts';
import type { WatchList } from './model.ts';
import { valueKeyOf } from './observables.ts';
import { mentionedObservables, type ValueIndex } from './value-index.ts';
import { ValueMatcher, type MatchHow } from './value-matcher.ts';

/** Longest line read, in characters; the rest of a longer line is ignored. */
export const MAX_LINE_LENGTH = 8_192;
/** Lines looked up together, so their store reads are batched. */
const CHUNK_LINES = 2_000;
/** Look-up results and objects cached per session. */
const CACHE_SIZE = 100_000;
/** Tokens of one line looked at, at most. */
const MAX_TOKENS_PER_LINE = 64;
/** Related objects and sightings reported per found object. */
const MAX_RELATED = 50;

const SEPARATORS = /[\s,;"'`<>|{}()]+/;

export interface FoundObject {
  id: string;
  type: string;
  how: MatchHow;
  watched: string;
  name?: string;
  pattern?: string;
  confidence?: number;
  revoked?: boolean;
}

export interface RelatedObject {
  id: string;
  type: string;
  name?: string;
  relationship: string;
  relationshipId: string;
  /** The id of the matched object it relates to. */
  of: string;
}

export interface SightingSummary {
  id: string;
  of: string;
  count?: number;
  firstSeen?: string;
  lastSeen?: string;
}

export interface WatchHit {
  watchlistId: string;
  watchlist: string;
  entryId: string;
  how: MatchHow;
  watched: string;
}

export interface ValueAnswer {
  kind: Observable['kind'];
  value: string;
  objects: FoundObject[];
  sightings: SightingSummary[];
  related: RelatedObject[];
  watch: WatchHit[];
}

export interface CheckLine {
  line: number;
  matches: ValueAnswer[];
}

export interface CheckSummary {
  lines: number;
  /** Lines of MAX_LINE_LENGTH characters or more: only their start was checked. */
  longLines: number;
  observables: number;
  matchedLines: number;
  matchedValues: number;
}

export interface CheckDeps {
  store: Store;
  index: ValueIndex;
  /** The caller's watch lists are looked up too when given. */
  engine?: WatchIndex;
  caller: Caller;
  /** Whether the caller may see a watch list. */
  listVisible: (list: WatchList) => boolean;
}

/**
 * A cache of at most about `capacity` entries in two generations: when the newer one is
 * full it becomes the older one and the previous older one is dropped, and a hit in the
 * older one is copied forward. Dropping one oldest entry at a time from a Map instead
 * costs a scan over its deleted slots on every insert, which made long checks quadratic.
 */
export class BoundedCache<K, V> {
  private newer = new Map<K, V>();
  private older = new Map<K, V>();
  private readonly generation: number;

  constructor(capacity: number) {
    this.generation = Math.max(1, Math.ceil(capacity / 2));
  }

  get(key: K): V | undefined {
    const value = this.newer.get(key);
    if (value !== undefined || this.newer.has(key)) return value;
    if (!this.older.has(key)) return undefined;
    const moved = this.older.get(key) as V;
    this.set(key, moved);
    return moved;
  }

  has(key: K): boolean {
    return this.newer.has(key) || this.older.has(key);
  }

  set(key: K, value: V): void {
    if (this.newer.size >= this.generation) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(key, value);
  }
}

/**
 * Returns the observables a line mentions, each once. A token such as `key=value` is read
 * as its value. Tokens that cannot be an observable (no dot, colon or @, and not a hash or
 * AS number) are skipped before classify, which is the costly step.
 */
export function lineObservables(
  line: string,
  cache?: BoundedCache<string, Observable | null>,
): Observable[] {
  const text = refang(line.length > MAX_LINE_LENGTH ? line.slice(0, MAX_LINE_LENGTH) : line);
  const found = new Map<string, Observable>();
  const tokens = text.split(SEPARATORS);
  for (let i = 0; i < tokens.length && i < MAX_TOKENS_PER_LINE; i++) {
    let token: string | undefined = tokens[i]!;
    if (token.length < 4) continue;
    const equals = token.indexOf('=');
    if (equals >= 0 && !token.includes('://')) token = token.slice(equals + 1);
    token = candidate(token);
    if (token === undefined || token.length < 4) continue;
    let observable = cache?.get(token);
    if (observable === undefined) {
      // A canonical dotted quad is its own normal form, so classify is skipped for it.
      const address = parseIpv4(token);
      if (address >= 0 && formatIpv4(address) === token) {
        observable = { kind: 'ip', version: 4, value: token };
      } else {
        const result = classify(token);
        observable = result.ok ? result.value : null;
      }
      cache?.set(token, observable);
    }
    if (observable) found.set(`${observable.kind}|${observable.value}`, observable);
  }
  return [...found.values()];
}

/**
 * Returns the part of a token worth classifying, or undefined when it cannot be an
 * observable. This runs before classify, which is the costly step, and whose slowest path
 * is a token that is neither host nor URL, such as squid's `DIRECT/203.0.113.5`.
 */
function candidate(token: string): string | undefined {
  let marked = false;
  let slash = -1;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    // '.', ':' and '@' appear in every address, domain, URL and e-mail address.
    if (code === 46 || code === 58 || code === 64) marked = true;
    else if (code === 47 && slash < 0) slash = i;
  }
  if (!marked) {
    // Hashes and AS numbers have none of them.
    return /^(?:[0-9a-fA-F]{32,128}|[Aa][Ss][Nn]?[0-9]+)$/.test(token) ? token : undefined;
  }
  if (slash > 0 && !token.includes('://')) {
    const head = token.slice(0, slash);
    // `host/path` is a URL and `10.0.0.0/8` a block; `WORD/value` is a label and a value.
    if (!/[.:]/.test(head)) return candidate(token.slice(token.lastIndexOf('/') + 1));
  }
  // Digits with one or two dots are numbers and times, not addresses or names.
  if (/^[0-9]+(?:\.[0-9]+){0,2}$/.test(token)) return undefined;
  return token;
}

interface ResolvedObject {
  object: Record<string, unknown>;
}

export class CheckSession {
  readonly summary: CheckSummary = {
    lines: 0,
    longLines: 0,
    observables: 0,
    matchedLines: 0,
    matchedValues: 0,
  };
  private readonly tokens = new BoundedCache<string, Observable | null>(CACHE_SIZE);
  private readonly answers = new BoundedCache<string, ValueAnswer | null>(CACHE_SIZE);
  private readonly resolved = new BoundedCache<number, ResolvedObject | null>(CACHE_SIZE);
  private readonly reader: EventReader;
  private readonly lookups: AccessLookups;

  constructor(private readonly deps: CheckDeps) {
    this.reader = new EventReader(deps.store, deps.caller);
    this.lookups = new AccessLookups(deps.store);
  }

  /** Looks up every line; yields one result per line that mentions a known observable. */
  async *run(lines: AsyncIterable<string>): AsyncGenerator<CheckLine> {
    let chunk: Array<{ line: number; observables: Observable[] }> = [];
    for await (const line of lines) {
      this.summary.lines++;
      if (line.length >= MAX_LINE_LENGTH) this.summary.longLines++;
      const observables = lineObservables(line, this.tokens);
      this.summary.observables += observables.length;
      if (observables.length > 0) chunk.push({ line: this.summary.lines, observables });
      if (chunk.length >= CHUNK_LINES) {
        yield* this.answerChunk(chunk);
        chunk = [];
      }
    }
    yield* this.answerChunk(chunk);
  }

  private async *answerChunk(
    chunk: Array<{ line: number; observables: Observable[] }>,
  ): AsyncGenerator<CheckLine> {
    const pending = new Map<string, Observable>();
    for (const { observables } of chunk) {
      for (const observable of observables) {
        const key = `${observable.kind}|${observable.value}`;
        if (!this.answers.has(key)) pending.set(key, observable);
      }
    }
    if (pending.size > 0) await this.answerValues(pending);

    for (const { line, observables } of chunk) {
      const matches: ValueAnswer[] = [];
      for (const observable of observables) {
        const answer = this.answers.get(`${observable.kind}|${observable.value}`);
        if (answer) matches.push(answer);
      }
      if (matches.length === 0) continue;
      this.summary.matchedLines++;
      this.summary.matchedValues += matches.length;
      yield { line, matches };
    }
  }

  private async answerValues(pending: Map<string, Observable>): Promise<void> {
    const { index } = this.deps;
    const hits = new Map<string, Array<{ object: number; how: MatchHow; watched: string }>>();
    const wanted = new Set<number>();
    for (const [key, observable] of pending) {
      const found: Array<{ object: number; how: MatchHow; watched: string }> = [];
      index.lookupObservable(observable, (object, how, watched) => {
        found.push({ object, how, watched });
        wanted.add(object);
      });
      hits.set(key, found);
    }
    // Related objects are read with the objects found, in the same batch. The far end of a
    // relationship is not indexed itself, so it is looked for in the relationship's
    // collections.
    const hints = new Map<number, string[]>();
    for (const object of [...wanted]) {
      for (const neighbour of index.neighboursOf(object).slice(0, MAX_RELATED)) {
        wanted.add(neighbour);
        const ends = index.endsOf(neighbour);
        if (!ends) continue;
        for (const end of ends) {
          if (end < 0) continue;
          wanted.add(end);
          hints.set(end, index.collectionsOf(neighbour));
        }
      }
    }
    await this.resolve([...wanted], hints);

    for (const [key, observable] of pending) {
      const answer = this.buildAnswer(observable, hits.get(key) ?? []);
      this.answers.set(key, answer);
    }
  }

  /**
   * Reads the objects the caller may see, in batches per collection. `hints` names where to
   * look for objects the index does not place.
   */
  private async resolve(objects: number[], hints: Map<number, string[]>): Promise<void> {
    const { index, store, caller } = this.deps;
    const byCollection = new Map<string, number[]>();
    for (const object of objects) {
      if (this.resolved.has(object)) continue;
      const placed = index.collectionsOf(object);
      const collections = placed.length > 0 ? placed : (hints.get(object) ?? []);
      for (const collectionId of collections) {
        const list = byCollection.get(collectionId) ?? [];
        list.push(object);
        byCollection.set(collectionId, list);
      }
    }
    await this.reader.load(byCollection.keys(), this.lookups);

    const found = new Map<number, ResolvedObject>();
    for (const [collectionId, members] of byCollection) {
      const rights = this.reader.rights(collectionId);
      if (!rights.canRead) continue;
      for (let start = 0; start < members.length; start += 500) {
        const batch = members.slice(start, start + 500).filter((object) => !found.has(object));
        if (batch.length === 0) continue;
        const ids = batch.map((object) => index.objects.idOf(object));
        const page = await store.queryObjects({
          collectionId,
          ids,
          limit: ids.length,
          access: accessFilter(caller, rights),
        });
        for (const item of page.items) {
          const json = readerJson(item, rights.widest);
          found.set(index.objects.find(item.id), {
            object: JSON.parse(json) as Record<string, unknown>,
          });
        }
      }
    }
    for (const object of objects) {
      if (!this.resolved.has(object)) this.resolved.set(object, found.get(object) ?? null);
    }
  }

  private buildAnswer(
    observable: Observable,
    hits: Array<{ object: number; how: MatchHow; watched: string }>,
  ): ValueAnswer | null {
    const answer: ValueAnswer = {
      kind: observable.kind,
      value: observable.value,
      objects: [],
      sightings: [],
      related: [],
      watch: this.watchHits(observable),
    };
    const seen = new Set<number>();
    for (const hit of hits) {
      if (seen.has(hit.object)) continue;
      seen.add(hit.object);
      const resolved = this.resolved.get(hit.object);
      if (!resolved) continue;
      const current = currentMatch(resolved.object, observable);
      if (!current) continue;
      answer.objects.push(foundObject(resolved.object, current.how, current.watched));
      this.addNeighbours(hit.object, String(resolved.object.id), answer);
    }
    if (answer.objects.length === 0 && answer.watch.length === 0) return null;
    return answer;
  }

  private addNeighbours(object: number, objectId: string, answer: ValueAnswer): void {
    const { index } = this.deps;
    for (const neighbour of index.neighboursOf(object).slice(0, MAX_RELATED)) {
      const resolved = this.resolved.get(neighbour)?.object;
      if (!resolved) continue;
      if (resolved.type === 'sighting') {
        answer.sightings.push(sightingSummary(resolved, objectId));
      } else if (resolved.type === 'observed-data') {
        // Sightings that cite observed data holding the object.
        for (const further of index.neighboursOf(neighbour).slice(0, MAX_RELATED)) {
          const sighting = this.resolved.get(further)?.object;
          if (sighting?.type === 'sighting')
            answer.sightings.push(sightingSummary(sighting, objectId));
        }
      } else if (resolved.type === 'relationship') {
        const ends = index.endsOf(neighbour);
        if (!ends) continue;
        const other = ends[0] === object ? ends[1] : ends[0];
        const end = other >= 0 ? this.resolved.get(other)?.object : undefined;
        if (!end) continue;
        answer.related.push({
          id: String(end.id),
          type: String(end.type),
          ...(typeof end.name === 'string' ? { name: end.name } : {}),
          relationship: String(resolved.relationship_type),
          relationshipId: String(resolved.id),
          of: objectId,
        });
      }
    }
  }

  private watchHits(observable: Observable): WatchHit[] {
    const { engine, listVisible } = this.deps;
    if (!engine) return [];
    const hits: WatchHit[] = [];
    engine.lookupValue(observable, (entry, how, watched) => {
      const list = entry.owner.list;
      if (!list.enabled || !listVisible(list)) return;
      hits.push({
        watchlistId: list.id,
        watchlist: list.name,
        entryId: entry.entry.id,
        how,
        watched: watched || describeEntry(entry.entry),
      });
    });
    return hits;
  }
}

/**
 * Checks that the current version of an object still mentions the observable (the index
 * keeps values of earlier versions) and returns how it matches.
 */
function currentMatch(
  object: Readonly<Record<string, unknown>>,
  observable: Observable,
): { how: MatchHow; watched: string } | undefined {
  const matcher = new ValueMatcher<{ path: string }>();
  for (const found of mentionedObservables(object)) {
    matcher.add(valueKeyOf(found.observable), { path: found.path });
  }
  let match: { how: MatchHow; watched: string } | undefined;
  const key = valueKeyOf(observable);
  matcher.lookup(key.kind, key.value, (_item, how, watched) => {
    match ??= { how, watched };
  });
  return match;
}

function foundObject(
  object: Readonly<Record<string, unknown>>,
  how: MatchHow,
  watched: string,
): FoundObject {
  return {
    id: String(object.id),
    type: String(object.type),
    how,
    watched,
    ...(typeof object.name === 'string' ? { name: object.name } : {}),
    ...(typeof object.pattern === 'string' ? { pattern: object.pattern } : {}),
    ...(typeof object.confidence === 'number' ? { confidence: object.confidence } : {}),
    ...(object.revoked === true ? { revoked: true } : {}),
  };
}

function sightingSummary(sighting: Readonly<Record<string, unknown>>, of: string): SightingSummary {
  return {
    id: String(sighting.id),
    of,
    ...(typeof sighting.count === 'number' ? { count: sighting.count } : {}),
    ...(typeof sighting.first_seen === 'string' ? { firstSeen: sighting.first_seen } : {}),
    ...(typeof sighting.last_seen === 'string' ? { lastSeen: sighting.last_seen } : {}),
  };
}
