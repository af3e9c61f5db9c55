/**
 * Server discovery (TAXII 2.1 section 4.1) and API root information (section 4.2).
 */
import type { Hono } from 'hono';
import {
  type TaxiiContext,
  type TaxiiEnv,
  loadApiRoot,
  taxiiJson,
  visibleCollections,
} from '../context.ts';
import { TAXII_MEDIA_TYPE } from '../media.ts';

/** API roots in which the caller sees a collection; platform admins see every root. */
async function visibleApiRoots<T extends { name: string }>(
  c: TaxiiContext,
  roots: T[],
): Promise<T[]> {
  if (c.var.caller.user.role === 'platform-admin') return roots;

  const visible: T[] = [];
  for (const root of roots) {
    if ((await visibleCollections(c, root.name)).length > 0) visible.push(root);
  }
  return visible;
}

export function registerDiscovery(app: Hono<TaxiiEnv>): void {
  app.get('/taxii2', async (c) => {
    const { store, config } = c.var.deps;
    const roots = await visibleApiRoots(c, await store.listApiRoots());
    const base = config.publicUrl?.replace(/\/+$/, '') ?? '';
    const urls = roots.map((root) => `${base}/${root.name}/`);
    const defaultUrl = urls.find((url) => url.endsWith(`/${config.taxii.defaultApiRoot}/`));
    return taxiiJson(200, {
      title: config.taxii.title,
      ...(config.taxii.description ? { description: config.taxii.description } : {}),
      ...(config.taxii.contact ? { contact: config.taxii.contact } : {}),
      ...(defaultUrl ? { default: defaultUrl } : {}),
      ...(urls.length > 0 ? { api_roots: urls } : {}),
    });
  });

  app.get('/:root', async (c) => {
    const root = await loadApiRoot(c);
    return taxiiJson(200, {
      title: root.title,
      ...(root.description ? { description: root.description } : {}),
      versions: [TAXII_MEDIA_TYPE],
      max_content_length: root.maxContentLength,
    });
  });
}
