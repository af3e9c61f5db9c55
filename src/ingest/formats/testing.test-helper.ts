/** Helpers shared by the converter tests. */
import { openStore, type Store } from '../../store/index.ts';
import type { StixObject } from '../../normalise/index.ts';

export async function* bytesOf(...chunks: Array<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

export async function collect(objects: AsyncIterable<StixObject>): Promise<StixObject[]> {
  const all: StixObject[] = [];
  for await (const object of objects) all.push(object);
  return all;
}

export function ofType(objects: readonly StixObject[], type: string): StixObject[] {
  return objects.filter((object) => object.type === type);
}

/** Returns the ids of the SCOs: every object that is not an SDO, SRO or marking. */
export function scoIds(objects: readonly StixObject[]): Set<string> {
  const nonSco = new Set([
    'indicator',
    'report',
    'malware',
    'intrusion-set',
    'attack-pattern',
    'threat-actor',
    'sighting',
    'relationship',
    'marking-definition',
    'identity',
    'vulnerability',
    'campaign',
    'course-of-action',
    'tool',
    'note',
    'opinion',
    'observed-data',
    'grouping',
    'infrastructure',
    'location',
    'incident',
    'malware-analysis',
    'extension-definition',
    'language-content',
  ]);
  return new Set(objects.filter((object) => !nonSco.has(object.type)).map((object) => object.id));
}

/**
 * Opens a fresh SQLite store at `path` with one API root and one collection, runs `use`,
 * and closes the store.
 */
export async function withCollection(
  path: string,
  use: (store: Store, collectionId: string) => Promise<void>,
): Promise<void> {
  const store = await openStore(`sqlite:${path}`);
  try {
    await store.createApiRoot({ name: 'default', title: 'Test', maxContentLength: 10_000_000 });
    const collection = await store.createCollection({
      apiRoot: 'default',
      title: 'Test',
      alias: 'default',
    });
    await use(store, collection.id);
  } finally {
    await store.close();
  }
}
