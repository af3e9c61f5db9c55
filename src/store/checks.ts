/**
 * Input checks and small helpers that every store implementation applies the same way, so
 * the stores reject the same values with the same messages.
 */
import type { NewDocument, PreparedObject, VersionQuery } from './store.ts';

/**
 * Returns whether a string is well-formed UTF-16. SQLite and PostgreSQL store text as UTF-8,
 * which cannot encode a lone surrogate, so such a string would come back altered.
 * `isWellFormed` is in Node 20 but not in the ES2023 library that TypeScript is configured
 * with here.
 */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Rejects a version query whose limit or addedAfter is not a usable number. */
export function checkVersionQuery(query: VersionQuery): void {
  if (!Number.isSafeInteger(query.limit) || query.limit < 0) {
    throw new RangeError(`invalid limit ${query.limit}: expected an integer of 0 or more`);
  }
  if (query.addedAfter !== undefined && !Number.isFinite(query.addedAfter)) {
    throw new RangeError(
      `invalid addedAfter ${query.addedAfter}: expected microseconds since the epoch`,
    );
  }
}

/** Rejects a count (a limit, a revision) that is not an integer of at least `minimum`. */
export function checkCount(value: number, name: string, minimum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new RangeError(`invalid ${name} ${value}: expected an integer of ${minimum} or more`);
  }
}

/** Rejects a time that is not an integer of microseconds since the epoch. */
export function checkTime(value: number, name: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`invalid ${name} ${value}: expected microseconds since the epoch`);
  }
}

function checkName(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(
      `invalid document ${field} ${JSON.stringify(value)}: expected a non-empty string`,
    );
  }
}

/** Rejects a document that a store would keep altered, or whose body is not JSON. */
export function checkDocument(document: NewDocument): void {
  checkName(document.kind, 'kind');
  checkName(document.id, 'id');
  if (document.owner !== undefined) checkName(document.owner, 'owner');
  if (document.key !== undefined) checkName(document.key, 'key');
  if (document.due !== undefined) checkTime(document.due, 'due time');
  const where = `${document.kind}/${document.id}`;
  if (typeof document.body !== 'string') {
    throw new TypeError(`invalid body of document ${where}: expected JSON text`);
  }
  if (!isWellFormed(document.body)) {
    throw new TypeError(
      `invalid body of document ${where}: it contains a lone UTF-16 surrogate, which cannot ` +
        'be stored; escape it as \\uXXXX',
    );
  }
  try {
    JSON.parse(document.body);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TypeError(`invalid body of document ${where}: ${reason}`, { cause: error });
  }
}

/** Returns whether an object version's JSON has `"revoked": true` at its top level. */
export function isRevoked(json: string): boolean {
  // The substring test skips the parse for the versions that cannot match, which is nearly all.
  if (!json.includes('"revoked":true')) return false;
  return (JSON.parse(json) as { revoked?: unknown }).revoked === true;
}

/**
 * Rejects a batch of addObjects or addConverted that contains a version the store would
 * keep altered: JSON with a lone surrogate. For addConverted it also rejects an id that
 * does not start with the version's type, the one structural fact the store relies on.
 */
export function checkStorable(objects: readonly PreparedObject[], converted = false): void {
  for (const object of objects) {
    if (converted && !object.id.startsWith(`${object.type}--`)) {
      throw new TypeError(
        `invalid converted object ${object.id}: its id does not start with its type ` +
          `"${object.type}--"; fix the converter that built it`,
      );
    }
    if (!isWellFormed(object.json)) {
      throw new TypeError(
        `invalid JSON text for ${object.id} version ${object.version}: it contains a lone ` +
          'UTF-16 surrogate, which cannot be stored; escape it as \\uXXXX',
      );
    }
  }
}

/**
 * Returns the message of a version that the re-share rule keeps out (see
 * Store.isHeldRestricted), worded as the sharing step words it for addObjects. The rule
 * applies only to versions the sharing organisation reads, so the message reveals nothing
 * new, and it names no community.
 */
export function heldRestrictedMessage(id: string): string {
  return (
    `${id} is held as TLP:AMBER, AMBER+STRICT or RED in a collection of another community ` +
    'that your organisation reads, so it may not be re-shared here'
  );
}
