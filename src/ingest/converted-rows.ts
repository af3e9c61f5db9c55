/**
 * Converted objects as the bulk path stores them: the prepared version (id, version key,
 * JSON) and the markings that decide its sharing. This module imports neither the
 * validator nor the store, so the conversion worker (formats/conversion-worker.ts) can
 * prepare rows itself and hand the main thread text instead of object graphs.
 */
import { hasTlpGranularMarkings, objectTlp } from '../sharing/markings.ts';
import { parseIdentifier } from '../stix/ids.ts';
import { timestampKey } from '../stix/timestamp.ts';
import type { PreparedObject, TlpLevel } from '../store/store.ts';

/** The SCO types that toSco builds. */
const BUILT_SCO_TYPES: ReadonlySet<string> = new Set([
  'ipv4-addr',
  'ipv6-addr',
  'domain-name',
  'url',
  'email-addr',
  'file',
  'autonomous-system',
]);

let lastTimestamp = '';
let lastTimestampKey: string | undefined;

/**
 * Returns timestampKey of `value`, remembering the last one: the indicators of a list
 * share one created, modified and valid_from, so most calls repeat it.
 */
function listTimestampKey(value: string): string | undefined {
  if (value !== lastTimestamp) {
    lastTimestampKey = timestampKey(value);
    lastTimestamp = value;
  }
  return lastTimestampKey;
}

/**
 * Returns the prepared version of an object that has the shape toSco or toIndicator give,
 * or undefined when it does not and must be validated in full.
 */
export function prepareConverted(value: unknown): PreparedObject | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const object = value as Record<string, unknown>;
  const { type, id } = object;
  if (object.spec_version !== '2.1' || typeof type !== 'string' || typeof id !== 'string') {
    return undefined;
  }
  if (parseIdentifier(id)?.type !== type) return undefined;

  let version = '';
  let versionKey = '0';
  if (type === 'indicator') {
    const { created, modified } = object;
    if (typeof created !== 'string' || typeof modified !== 'string') return undefined;
    const createdKey = listTimestampKey(created);
    const modifiedKey = listTimestampKey(modified);
    if (createdKey === undefined || modifiedKey === undefined || modifiedKey < createdKey) {
      return undefined;
    }
    if (typeof object.pattern !== 'string' || object.pattern_type !== 'stix') return undefined;
    if (
      typeof object.valid_from !== 'string' ||
      listTimestampKey(object.valid_from) === undefined
    ) {
      return undefined;
    }
    version = modified;
    versionKey = modifiedKey;
  } else if (!BUILT_SCO_TYPES.has(type) || 'created' in object || 'modified' in object) {
    return undefined;
  }

  // JSON.stringify escapes lone surrogates (ES2019), so the text is always storable.
  return { id, type, specVersion: '2.1', version, versionKey, json: JSON.stringify(object) };
}

/**
 * One object of a converted batch: either prepared, with the TLP levels its markings name
 * and whether it has TLP granular markings, or an object that failed the cheap checks and
 * must be validated in full.
 */
export type ConvertedRow =
  { prepared: PreparedObject; tlp: TlpLevel[]; granular: boolean } | { unchecked: unknown };

/** Returns the row of one converted object. */
export function toConvertedRow(value: unknown): ConvertedRow {
  const prepared = prepareConverted(value);
  if (prepared === undefined) return { unchecked: value };
  const object = value as Record<string, unknown>;
  return { prepared, tlp: objectTlp(object), granular: hasTlpGranularMarkings(object) };
}

/** Fields of one packed row; see packRows. */
const ROW_FIELDS = 8;

const PREPARED = 'p';
const UNCHECKED = 'u';

/**
 * Packs rows into one string, ROW_FIELDS lines per row: kind, id, type, version, version
 * key, TLP levels, granular flag and JSON. Sending one string to another thread is one
 * copy, where a structured clone of the rows is a walk over thousands of small objects.
 * No field contains a line feed: JSON.stringify escapes it, prepareConverted accepts only
 * ids that parseIdentifier accepts and versions that timestampKey accepts, and TLP levels
 * are fixed words.
 */
export function packRows(rows: readonly ConvertedRow[]): string {
  let text = '';
  for (const row of rows) {
    if (text.length > 0) text += '\n';
    if ('unchecked' in row) {
      text += `${UNCHECKED}\n\n\n\n\n\n\n${JSON.stringify(row.unchecked) ?? 'null'}`;
      continue;
    }
    const { prepared, tlp, granular } = row;
    text +=
      `${PREPARED}\n${prepared.id}\n${prepared.type}\n${prepared.version}\n` +
      `${prepared.versionKey}\n${tlp.join(',')}\n${granular ? '1' : '0'}\n${prepared.json}`;
  }
  return text;
}

/** Unpacks the rows that packRows packed. */
export function unpackRows(text: string): ConvertedRow[] {
  if (text.length === 0) return [];
  const fields = text.split('\n');
  if (fields.length % ROW_FIELDS !== 0) {
    throw new Error(`packed rows have ${fields.length} fields, not a multiple of ${ROW_FIELDS}`);
  }
  const rows: ConvertedRow[] = [];
  for (let at = 0; at < fields.length; at += ROW_FIELDS) {
    const json = fields[at + 7]!;
    if (fields[at] === UNCHECKED) {
      rows.push({ unchecked: JSON.parse(json) as unknown });
      continue;
    }
    const tlp = fields[at + 5]!;
    rows.push({
      prepared: {
        id: fields[at + 1]!,
        type: fields[at + 2]!,
        specVersion: '2.1',
        version: fields[at + 3]!,
        versionKey: fields[at + 4]!,
        json,
      },
      tlp: tlp.length === 0 ? [] : (tlp.split(',') as TlpLevel[]),
      granular: fields[at + 6] === '1',
    });
  }
  return rows;
}
