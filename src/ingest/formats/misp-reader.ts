/**
 * Reads MISP event JSON in its envelopes: `{"Event": {...}}`, `{"response": [{"Event":
 * {...}}, ...]}`, a bare event object, or an array of either. MISP writes an event's tags
 * and galaxies after its attributes, and converting an attribute needs them. So the
 * document is read twice. The first pass reads the event fields without the attribute and
 * object arrays, and the second reads the attributes and objects one at a time. Memory
 * stays at one event's fields and one attribute or object, whatever the size of the document.
 */
import { type JsonPath, type JsonStreamOptions, type Selection, streamJson } from './json-paths.ts';

export type MispRecord = Record<string, unknown>;

/** Event-level arrays read in the second pass, one member at a time. */
const BODY_KEYS = new Set(['Attribute', 'Object']);

/** Event-level arrays that neither pass reads. */
const IGNORED_KEYS = new Set(['ShadowAttribute', 'RelatedEvent', 'CryptographicKey']);

/** Keys that wrap events rather than belong to one. */
const WRAPPER_KEYS = new Set(['Event', 'response']);

/**
 * Splits a path into the path of the event it belongs to and the rest, or returns
 * undefined for a wrapper level. Events sit at `[]`, `["Event"]`, `["response", n]`,
 * `["response", n, "Event"]`, `[n]` or `[n, "Event"]`.
 */
export function eventPart(path: JsonPath): { event: JsonPath; rest: JsonPath } | undefined {
  let base = 0;
  if (path[0] === 'response') {
    if (path.length < 2) return undefined;
    base = 2;
  } else if (typeof path[0] === 'number') {
    base = 1;
  }
  if (path.length <= base) return undefined;
  if (path[base] === 'Event') base++;
  else if (base === 0 && WRAPPER_KEYS.has(String(path[0]))) return undefined;
  if (path.length <= base) return undefined;
  return { event: path.slice(0, base), rest: path.slice(base) };
}

function isWrapperLevel(path: JsonPath): boolean {
  return path.length === 0 || eventPart(path) === undefined;
}

/** One item of the second pass. */
export type MispBodyItem =
  | { kind: 'Attribute' | 'Object'; event: number; value: MispRecord }
  | { kind: 'end'; event: number };

/**
 * First pass: returns the fields of every event, in document order, without the
 * Attribute, Object, ShadowAttribute, RelatedEvent and CryptographicKey arrays.
 */
export async function readEventFields(
  source: AsyncIterable<Uint8Array | string>,
  options: JsonStreamOptions = {},
): Promise<MispRecord[]> {
  const events: MispRecord[] = [];
  let currentKey: string | undefined;
  let current: MispRecord = {};
  const select = (path: JsonPath): Selection => {
    if (isWrapperLevel(path)) return 'descend';
    const part = eventPart(path)!;
    if (part.rest.length !== 1) return 'skip';
    const key = String(part.rest[0]);
    return BODY_KEYS.has(key) || IGNORED_KEYS.has(key) ? 'skip' : 'assemble';
  };
  for await (const item of streamJson(source, select, options)) {
    if (item.kind !== 'value' && item.kind !== 'skipped') continue;
    const part = eventPart(item.path);
    if (!part || part.rest.length !== 1) continue;
    const key = part.event.join('/');
    if (key !== currentKey) {
      currentKey = key;
      current = {};
      events.push(current);
    }
    if (item.kind === 'value') current[String(part.rest[0])] = item.value;
  }
  return events;
}

/**
 * Second pass: yields each attribute and object with the number of its event (the index
 * into the first pass's result), and an `end` item after the last member of each event.
 */
export async function* readEventBodies(
  source: AsyncIterable<Uint8Array | string>,
  options: JsonStreamOptions = {},
): AsyncGenerator<MispBodyItem> {
  let index = -1;
  let currentKey: string | undefined;
  const select = (path: JsonPath): Selection => {
    if (isWrapperLevel(path)) return 'descend';
    const part = eventPart(path)!;
    if (!BODY_KEYS.has(String(part.rest[0]))) return 'skip';
    if (part.rest.length === 1) return 'descend';
    return part.rest.length === 2 ? 'assemble' : 'skip';
  };
  for await (const item of streamJson(source, select, options)) {
    if (item.kind === 'leave' && currentKey !== undefined && item.path.join('/') === currentKey) {
      yield { kind: 'end', event: index };
      currentKey = undefined;
      continue;
    }
    const part = eventPart(item.path);
    if (!part || item.kind === 'leave') continue;
    // Every key of an event shows up here (value, skipped or entered), in document order,
    // so events are numbered as the first pass numbered them.
    const key = part.event.join('/');
    if (key !== currentKey) {
      currentKey = key;
      index++;
    }
    if (item.kind !== 'value' || part.rest.length !== 2) continue;
    const kind = part.rest[0] as 'Attribute' | 'Object';
    const value = item.value;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      yield { kind, event: index, value: value as MispRecord };
    }
  }
}
