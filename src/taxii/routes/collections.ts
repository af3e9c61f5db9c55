/**
 * Collections (TAXII 2.1 sections 5.1 and 5.2): only those the caller may read or write
 * are listed, each with the caller's own can_read and can_write.
 */
import type { Hono } from 'hono';
import type { CollectionRights } from '../../sharing/access.ts';
import type { CollectionRecord } from '../../store/store.ts';
import {
  type TaxiiEnv,
  loadApiRoot,
  loadCollection,
  taxiiJson,
  visibleCollections,
} from '../context.ts';

function collectionResource(collection: CollectionRecord, rights: CollectionRights) {
  return {
    id: collection.id,
    title: collection.title,
    ...(collection.description ? { description: collection.description } : {}),
    ...(collection.alias ? { alias: collection.alias } : {}),
    can_read: rights.canRead,
    can_write: rights.canWrite,
    media_types: collection.mediaTypes,
  };
}

export function registerCollections(app: Hono<TaxiiEnv>): void {
  app.get('/:root/collections', async (c) => {
    const root = await loadApiRoot(c);
    const visible = (await visibleCollections(c, root.name)).map(({ collection, rights }) =>
      collectionResource(collection, rights),
    );
    // An empty list is never sent: no collections is an empty object (section 5.1.1).
    return taxiiJson(200, visible.length > 0 ? { collections: visible } : {});
  });

  app.get('/:root/collections/:collection', async (c) => {
    const { collection, rights } = await loadCollection(c, 'any');
    return taxiiJson(200, collectionResource(collection, rights));
  });
}
