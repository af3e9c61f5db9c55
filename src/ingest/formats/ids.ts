/** Stable ids for objects a converter makes that have no id in their source. */
import { uuidBytes, uuidv5 } from '../../normalise/uuid5.ts';

/** Namespace of the UUIDv5 ids converters derive (a random UUID chosen once for Cairn). */
export const CONVERTER_ID_NAMESPACE = '5208b6cc-c0c5-4311-993c-9abb32fb2ab1';

const NAMESPACE = uuidBytes(CONVERTER_ID_NAMESPACE);

/** Returns a UUIDv5 of `name`: the same name always gives the same UUID. */
export function stableUuid(name: string): string {
  return uuidv5(name, NAMESPACE);
}
