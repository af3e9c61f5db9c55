/**
 * A binary trie of IP prefixes: each node is one bit of the address, and a prefix stores
 * the warning lists it belongs to at its last bit. A lookup walks at most 32 (IPv4) or
 * 128 (IPv6) nodes and collects the lists on the way, so its cost does not depend on how
 * many blocks the lists hold. Nodes live in typed arrays: 62,745 blocks take about a
 * million nodes, 8 MB.
 */

const NO_NODE = 0;

export class PrefixTrie {
  private zero: Int32Array<ArrayBuffer> = new Int32Array(1 << 12);
  private one: Int32Array<ArrayBuffer> = new Int32Array(1 << 12);
  private count = 1;
  /** Lists stored at a node, by node number. */
  private readonly lists = new Map<number, number[]>();
  /** Whether a node has lists, to skip the Map on most nodes of a walk. */
  private marked = new Uint8Array(1 << 12);

  /** Adds the prefix of `length` bits of an address given as bytes, most significant first. */
  add(bytes: ArrayLike<number>, length: number, list: number): void {
    let node = 0;
    for (let index = 0; index < length; index++) {
      const bit = bitAt(bytes, index);
      let next = (bit === 0 ? this.zero : this.one)[node]!;
      if (next === NO_NODE) {
        next = this.newNode();
        // newNode may have replaced the arrays.
        (bit === 0 ? this.zero : this.one)[node] = next;
      }
      node = next;
    }
    const at = this.lists.get(node);
    if (at === undefined) this.lists.set(node, [list]);
    else if (!at.includes(list)) at.push(list);
    this.marked[node] = 1;
  }

  /**
   * Calls `found` with the lists of every stored prefix of the address, at most `length`
   * bits deep. So a block given as address and length matches prefixes as long as its own
   * or shorter.
   */
  match(bytes: ArrayLike<number>, length: number, found: (list: number) => void): void {
    let node = 0;
    for (let index = 0; ; index++) {
      if (this.marked[node] === 1) for (const list of this.lists.get(node)!) found(list);
      if (index === length) return;
      node = (bitAt(bytes, index) === 0 ? this.zero : this.one)[node]!;
      if (node === NO_NODE) return;
    }
  }

  /** match() for an IPv4 address given as an unsigned 32-bit number, without a byte array. */
  matchIpv4(address: number, length: number, found: (list: number) => void): void {
    let node = 0;
    for (let index = 0; ; index++) {
      if (this.marked[node] === 1) for (const list of this.lists.get(node)!) found(list);
      if (index === length) return;
      node = ((address >>> (31 - index)) & 1) === 0 ? this.zero[node]! : this.one[node]!;
      if (node === NO_NODE) return;
    }
  }

  private newNode(): number {
    if (this.count === this.zero.length) {
      const size = this.zero.length * 2;
      this.zero = grow(this.zero, size);
      this.one = grow(this.one, size);
      const marked = new Uint8Array(size);
      marked.set(this.marked);
      this.marked = marked;
    }
    return this.count++;
  }
}

function grow(array: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const larger = new Int32Array(size);
  larger.set(array);
  return larger;
}

function bitAt(bytes: ArrayLike<number>, index: number): number {
  return (bytes[index >> 3]! >> (7 - (index & 7))) & 1;
}
