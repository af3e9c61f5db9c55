/**
 * The manifest (TAXII 2.1 section 5.3) and object versions (section 5.8): the same
 * paging as objects, over entries without their content.
 */
import type { Hono } from 'hono';
import { microsToTaxii } from '../../stix/timestamp.ts';
import { type TaxiiEnv, fail, loadCollection, searchParams, taxiiResponse } from '../context.ts';
import { pageOutput, startAfter } from '../paging.ts';
import { parseObjectFilters } from '../params.ts';
import { objectIdParam, visibleVersion } from './shared.ts';

export function registerManifest(app: Hono<TaxiiEnv>): void {
  app.get('/:root/collections/:collection/manifest', async (c) => {
    const { collection, access } = await loadCollection(c, 'read');
    const { store, config } = c.var.deps;
    const filters = parseObjectFilters(searchParams(c), config.taxii.pageSize, {
      ids: true,
      types: true,
      versions: true,
    });
    const { addedAfter, scope } = startAfter(c, filters, `manifest:${collection.id}`);
    const page = await store.queryManifest({
      collectionId: collection.id,
      ...(filters.ids ? { ids: filters.ids } : {}),
      ...(filters.types ? { types: filters.types } : {}),
      ...(filters.versions ? { versions: filters.versions } : {}),
      ...(filters.specVersions ? { specVersions: filters.specVersions } : {}),
      ...(addedAfter !== undefined ? { addedAfter } : {}),
      limit: filters.limit,
      access,
    });
    const { members, headers } = pageOutput(c, page, scope);
    if (page.items.length > 0) {
      const records = page.items.map((item) => ({
        id: item.id,
        date_added: microsToTaxii(item.dateAdded),
        version: visibleVersion(item),
        media_type: item.mediaType,
      }));
      members.push(`"objects":${JSON.stringify(records)}`);
    }
    return taxiiResponse(200, `{${members.join(',')}}`, headers);
  });

  app.get('/:root/collections/:collection/objects/:object/versions', async (c) => {
    const { collection, access } = await loadCollection(c, 'read');
    const id = objectIdParam(c);
    const { store, config } = c.var.deps;
    if (!(await store.hasObject(collection.id, id, access))) {
      fail('not-found', `object ${id} not found in collection "${collection.id}"`);
    }
    const filters = parseObjectFilters(searchParams(c), config.taxii.pageSize, {});
    const { addedAfter, scope } = startAfter(c, filters, `versions:${collection.id}:${id}`);
    const page = await store.queryManifest({
      collectionId: collection.id,
      ids: [id],
      versions: { all: true },
      ...(filters.specVersions ? { specVersions: filters.specVersions } : {}),
      ...(addedAfter !== undefined ? { addedAfter } : {}),
      limit: filters.limit,
      access,
    });
    const { members, headers } = pageOutput(c, page, scope);
    if (page.items.length > 0) {
      members.push(`"versions":${JSON.stringify(page.items.map(visibleVersion))}`);
    }
    return taxiiResponse(200, `{${members.join(',')}}`, headers);
  });
}
