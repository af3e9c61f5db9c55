/**
 * A map from a key to one or more items that stores a lone item without an array around
 * it. Most keys of the watch and value indexes have a single item, and an array per key
 * would double their memory. Items are objects or numbers, never arrays.
 */
export class MultiMap<K, T extends object | number> {
  private readonly map = new Map<K, T | T[]>();

  /** Number of keys. */
  get size(): number {
    return this.map.size;
  }

  add(key: K, item: T): void {
    const current = this.map.get(key);
    if (current === undefined) this.map.set(key, item);
    else if (Array.isArray(current)) {
      if (!current.includes(item)) current.push(item);
    } else if (current !== item) this.map.set(key, [current, item]);
  }

  /** Removes one item under the key; returns whether it was there. */
  remove(key: K, item: T): boolean {
    const current = this.map.get(key);
    if (current === undefined) return false;
    if (!Array.isArray(current)) {
      if (current !== item) return false;
      this.map.delete(key);
      return true;
    }
    const index = current.indexOf(item);
    if (index < 0) return false;
    current.splice(index, 1);
    if (current.length === 1) this.map.set(key, current[0]!);
    return true;
  }

  /** Returns the item or items under the key, for loops that avoid a callback. */
  get(key: K): T | readonly T[] | undefined {
    return this.map.get(key);
  }

  /** Calls `visit` for each item under the key. */
  forEach(key: K, visit: (item: T) => void): void {
    const current = this.map.get(key);
    if (current === undefined) return;
    if (!Array.isArray(current)) visit(current);
    else for (const item of current) visit(item);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Every key with its items, for scans that cannot use a key look-up. */
  *entries(): IterableIterator<[K, readonly T[]]> {
    for (const [key, value] of this.map) yield [key, Array.isArray(value) ? value : [value]];
  }
}
