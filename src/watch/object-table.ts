/**
 * Compact numbering of STIX ids for the in-memory value index: each id gets a small integer,
 * and the table keeps the id as a type code plus 16 UUID bytes, not as a string. One
 * million ids take about 40 MB here, against about 120 MB as strings in a Map (estimated
 * from V8's 16-byte string header plus one byte per character, and Map entry overhead).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Grows a typed array to at least `size` elements, doubling. */
function grow<A extends Uint8Array | Uint16Array>(
  array: A,
  size: number,
  make: (n: number) => A,
): A {
  if (array.length >= size) return array;
  const next = make(Math.max(size, array.length * 2));
  next.set(array);
  return next;
}

function hexValue(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

export class ObjectTable {
  private typeNames: string[] = [];
  private readonly typeCodes = new Map<string, number>();
  private typeOf = new Uint16Array(1024);
  private uuids = new Uint8Array(1024 * 16);
  /** Ids by the first 52 bits of their UUID; the first id with those bits wins. */
  private readonly byPrefix = new Map<number, number>();
  /** Ids that are not `type--uuid`, or whose prefix another id took. */
  private readonly others = new Map<string, number>();
  private readonly otherIds: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Returns the number of an id, or -1 when it is not in the table. */
  find(id: string): number {
    const split = this.split(id);
    if (split) {
      const candidate = this.byPrefix.get(split.prefix);
      if (candidate !== undefined && this.equals(candidate, split.type, split.uuid)) {
        return candidate;
      }
    }
    return this.others.get(id) ?? -1;
  }

  /** Returns the number of an id, adding it when new. */
  intern(id: string): number {
    const found = this.find(id);
    if (found >= 0) return found;

    const index = this.count++;
    this.typeOf = grow(this.typeOf, this.count, (n) => new Uint16Array(n));
    this.uuids = grow(this.uuids, this.count * 16, (n) => new Uint8Array(n));
    const split = this.split(id);
    const code = split && !this.byPrefix.has(split.prefix) ? this.typeCode(split.type) : 0;
    if (split && code !== 0) {
      this.typeOf[index] = code;
      this.writeUuid(index, split.uuid);
      this.byPrefix.set(split.prefix, index);
    } else {
      // Type code 0 marks an id kept as a string; its bytes hold its position in otherIds.
      this.typeOf[index] = 0;
      this.others.set(id, index);
      this.writeOther(index, this.otherIds.length);
      this.otherIds.push(id);
    }
    return index;
  }

  /** The STIX id of a number given by intern. */
  idOf(index: number): string {
    const code = this.typeOf[index]!;
    if (code === 0) return this.otherIds[this.readOther(index)]!;
    return `${this.typeNames[code - 1]!}--${this.readUuid(index)}`;
  }

  /** The STIX type of a number given by intern. */
  typeNameOf(index: number): string {
    const code = this.typeOf[index]!;
    if (code !== 0) return this.typeNames[code - 1]!;
    const id = this.otherIds[this.readOther(index)]!;
    const separator = id.indexOf('--');
    return separator < 0 ? id : id.slice(0, separator);
  }

  private typeCode(type: string): number {
    let code = this.typeCodes.get(type);
    if (code === undefined) {
      if (this.typeNames.length >= 65_534) return 0;
      this.typeNames.push(type);
      code = this.typeNames.length;
      this.typeCodes.set(type, code);
    }
    return code;
  }

  private split(id: string): { type: string; uuid: string; prefix: number } | undefined {
    const separator = id.indexOf('--');
    if (separator <= 0) return undefined;
    const uuid = id.slice(separator + 2);
    if (uuid.length !== 36 || !UUID.test(uuid)) return undefined;
    const prefix =
      parseInt(uuid.slice(0, 8), 16) * 0x100000 + parseInt(uuid.slice(9, 13) + uuid[14], 16);
    return { type: id.slice(0, separator), uuid, prefix };
  }

  private equals(index: number, type: string, uuid: string): boolean {
    const code = this.typeOf[index]!;
    return code !== 0 && this.typeNames[code - 1] === type && this.readUuid(index) === uuid;
  }

  private writeUuid(index: number, uuid: string): void {
    const hex = uuid.replace(/-/g, '');
    const base = index * 16;
    for (let i = 0; i < 16; i++) {
      this.uuids[base + i] =
        hexValue(hex.charCodeAt(2 * i)) * 16 + hexValue(hex.charCodeAt(2 * i + 1));
    }
  }

  private readUuid(index: number): string {
    const base = index * 16;
    let hex = '';
    for (let i = 0; i < 16; i++) hex += this.uuids[base + i]!.toString(16).padStart(2, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  private writeOther(index: number, position: number): void {
    new DataView(this.uuids.buffer).setUint32(index * 16, position);
  }

  private readOther(index: number): number {
    return new DataView(this.uuids.buffer).getUint32(index * 16);
  }
}
