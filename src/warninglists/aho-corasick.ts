/**
 * Aho-Corasick matching of many substrings at once (Aho and Corasick, "Efficient string
 * matching", CACM 1975): one pass over the value finds every entry it contains, so the
 * 8,201 entries of a disposable-e-mail list cost the same as one. No well-kept npm package
 * implements it for Node 20 with typed arrays, hence this one.
 *
 * The automaton is a full transition table over the characters the entries use, and any
 * other character leads back to the root. It is built once, and matching is one table
 * read per character. `matchLabels` also keeps the length of each entry, to accept only
 * occurrences that are whole labels of a host name.
 */

export class AhoCorasick {
  /** Column of each character code below 128; 0 is "any other character". */
  private readonly columns = new Uint8Array(128);
  private readonly width: number;
  private readonly next: Int32Array;
  /** Lists ending at each state, its own and those of its suffix states. */
  private readonly output: Array<number[] | undefined>;
  /** The same entries as pairs of list and entry length, flat: list, length, list, length. */
  private readonly ends: Array<number[] | undefined>;

  /** `entries` pairs each lowercase substring with the number of its list. */
  constructor(entries: ReadonlyArray<{ text: string; list: number }>) {
    let width = 1;
    for (const { text } of entries) {
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code < 128 && this.columns[code] === 0) this.columns[code] = width++;
      }
    }
    this.width = width;

    // The trie of the entries, as a sparse table first.
    const goto: Array<Map<number, number>> = [new Map()];
    const output: Array<number[] | undefined> = [undefined];
    const ends: Array<number[] | undefined> = [undefined];
    for (const { text, list } of entries) {
      let state = 0;
      for (let i = 0; i < text.length; i++) {
        const column = this.column(text.charCodeAt(i));
        if (column === 0) {
          state = -1;
          break;
        }
        let target = goto[state]!.get(column);
        if (target === undefined) {
          target = goto.length;
          goto.push(new Map());
          output.push(undefined);
          ends.push(undefined);
          goto[state]!.set(column, target);
        }
        state = target;
      }
      // An entry with a character outside ASCII can never match a normalised value.
      if (state <= 0) continue;
      const lists = (output[state] ??= []);
      if (!lists.includes(list)) lists.push(list);
      const pairs = (ends[state] ??= []);
      if (!hasPair(pairs, list, text.length)) pairs.push(list, text.length);
    }

    // Renumber the states breadth-first, so the shallow states that a scan visits most
    // sit together at the start of the table and stay in cache.
    const order = [0];
    for (let head = 0; head < order.length; head++) {
      for (const target of goto[order[head]!]!.values()) order.push(target);
    }
    const renumbered = new Int32Array(goto.length);
    order.forEach((state, index) => {
      renumbered[state] = index;
    });
    const trie = order.map(
      (state) =>
        new Map([...goto[state]!].map(([column, target]) => [column, renumbered[target]!])),
    );
    const outputs = order.map((state) => output[state]);
    const endPairs = order.map((state) => ends[state]);

    // Breadth-first: each state's failure link, then its full row of transitions.
    const next = new Int32Array(trie.length * width);
    const failure = new Int32Array(trie.length);
    const queue: number[] = [];
    for (const [column, target] of trie[0]!) {
      next[column] = target;
      queue.push(target);
    }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head]!;
      const fallback = failure[state]!;
      const inherited = outputs[fallback];
      if (inherited) outputs[state] = [...new Set([...(outputs[state] ?? []), ...inherited])];
      // A suffix state ends entries of other lengths, so its pairs are added, not merged.
      const inheritedPairs = endPairs[fallback];
      if (inheritedPairs) endPairs[state] = [...(endPairs[state] ?? []), ...inheritedPairs];
      for (let column = 0; column < width; column++) {
        const target = trie[state]!.get(column);
        if (target === undefined) {
          next[state * width + column] = next[fallback * width + column]!;
        } else {
          next[state * width + column] = target;
          failure[target] = next[fallback * width + column]!;
          queue.push(target);
        }
      }
    }
    this.next = next;
    this.output = outputs;
    this.ends = endPairs;
  }

  /** Adds to `found` the list of every entry that occurs in `value` (lowercase). */
  match(value: string, found: (list: number) => void): void {
    let state = 0;
    for (let i = 0; i < value.length; i++) {
      state = this.next[state * this.width + this.column(value.charCodeAt(i))]!;
      const lists = this.output[state];
      if (lists) for (const list of lists) found(list);
    }
  }

  /**
   * Adds to `found` the list of every entry that occurs in `host` (lowercase) as whole
   * labels: starting at the start of `host` or after a dot, and ending at its end or before
   * a dot. So `99.com` is found in `99.com` and `mail.99.com`, not in `aaaaa299.com`.
   */
  matchLabels(host: string, found: (list: number) => void): void {
    let state = 0;
    const last = host.length - 1;
    for (let i = 0; i <= last; i++) {
      state = this.next[state * this.width + this.column(host.charCodeAt(i))]!;
      const pairs = this.ends[state];
      // 46 is the dot: an occurrence must end at the end of a label.
      if (pairs === undefined || (i !== last && host.charCodeAt(i + 1) !== 46)) continue;
      for (let k = 0; k < pairs.length; k += 2) {
        const start = i + 1 - pairs[k + 1]!;
        if (start === 0 || host.charCodeAt(start - 1) === 46) found(pairs[k]!);
      }
    }
  }

  private column(code: number): number {
    return code < 128 ? this.columns[code]! : 0;
  }
}

function hasPair(pairs: readonly number[], list: number, length: number): boolean {
  for (let k = 0; k < pairs.length; k += 2) {
    if (pairs[k] === list && pairs[k + 1] === length) return true;
  }
  return false;
}
