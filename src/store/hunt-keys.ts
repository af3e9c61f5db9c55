/**
 * Input checks of the retro-hunt key index that both stores apply (see Store.addHuntKeys),
 * and the key range that a prefix selects.
 */
import { checkCount, checkTime, isWellFormed } from './checks.ts';
import type { HuntKey, HuntKeyQuery, ObjectHuntKeys } from './store.ts';

function checkText(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`invalid ${field} ${JSON.stringify(value)}: expected a non-empty string`);
  }
  // PostgreSQL text cannot hold U+0000, and neither store can hold a lone surrogate.
  if (value.includes('\u0000') || !isWellFormed(value)) {
    throw new TypeError(
      `invalid ${field} ${JSON.stringify(value.slice(0, 100))}: it contains U+0000 or a lone` +
        ' surrogate, which the store cannot keep unchanged',
    );
  }
}

/** Rejects keys and an indexed mark that a store would not keep unchanged. */
export function checkHuntKeys(keys: readonly HuntKey[], upTo: number): void {
  checkTime(upTo, 'indexed mark');
  for (const row of keys) {
    checkText(row.key, 'hunt key');
    checkText(row.objectId, 'object id');
  }
}

/** Rejects the objects of setObjectHuntKeys that a store would not keep unchanged. */
export function checkObjectHuntKeys(objects: readonly ObjectHuntKeys[]): void {
  for (const object of objects) {
    checkText(object.objectId, 'object id');
    checkTime(object.readUpTo, 'read mark');
    for (const key of object.keys) checkText(key, 'hunt key');
  }
}

/** Rejects a query with both or neither of keys and prefix, or a prefix without a range. */
export function checkHuntKeyQuery(query: HuntKeyQuery): void {
  checkCount(query.limit, 'limit', 0);
  if ((query.keys === undefined) === (query.prefix === undefined)) {
    throw new TypeError('a hunt key query needs either keys or a prefix, not both');
  }
  if (query.prefix !== undefined) {
    checkText(query.prefix, 'hunt key prefix');
    if (query.prefix.charCodeAt(query.prefix.length - 1) >= 0x7f) {
      throw new TypeError(
        `invalid hunt key prefix ${JSON.stringify(query.prefix.slice(0, 100))}: its last` +
          ' character must be ASCII',
      );
    }
  }
}

/**
 * Returns the first text after every text that starts with `prefix`: the prefix with its
 * last (ASCII) character raised by one. In code point order, and so in the byte order of
 * UTF-8, a key starts with the prefix exactly when it lies in [prefix, prefixEnd(prefix)).
 */
export function prefixEnd(prefix: string): string {
  const last = prefix.length - 1;
  return prefix.slice(0, last) + String.fromCharCode(prefix.charCodeAt(last) + 1);
}

/** Returns the cursor of a query as two texts; empty texts sort before every stored row. */
export function cursorOf(query: HuntKeyQuery): [key: string, objectId: string] {
  return query.after ? [query.after.key, query.after.objectId] : ['', ''];
}
