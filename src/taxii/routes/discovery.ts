/**
 * Server discovery (TAXII 2.1 section 4.1) and API root information (section 4.2).
 */
import type { Hono } from 'hono';
import { type TaxiiEnv, loadApiRoot, taxiiJson } from '../context.ts';
import { TAXII_MEDIA_TYPE } from '../media.ts';

export function registerDiscovery(app: Hono<TaxiiEnv>): void {
  app.get('/taxii2', async (c) => {
    const { store, config } = c.var.deps;
    const roots = await store.listApiRoots();
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
