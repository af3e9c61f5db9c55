/**
 * Objects (TAXII 2.1 sections 5.4 to 5.7): get objects, add objects, get an object and
 * delete an object.
 */
import type { Hono } from 'hono';
import { randomUUID } from 'node:crypto';
import { CairnError } from '../../errors.ts';
import { submitValidated, validateChunks, type ValidatedChunk } from '../../ingest/submit.ts';
import { nowMicros } from '../../stix/timestamp.ts';
import { auditActor, recordAudit, writeDetails } from '../../sharing/audit.ts';
import { redactGranular } from '../../sharing/granular.ts';
import type { AccessFilter, StatusRecord, Store } from '../../store/store.ts';
import { parseJsonBytes, readBodyBytes } from '../body.ts';
import {
  type TaxiiContext,
  type TaxiiEnv,
  fail,
  loadCollection,
  searchParams,
  taxiiJson,
  taxiiResponse,
} from '../context.ts';
import { envelopeObjects } from '../envelope.ts';
import { isTaxiiContentType } from '../media.ts';
import { pageOutput, startAfter } from '../paging.ts';
import { parseObjectFilters, type ObjectFilters } from '../params.ts';
import { objectIdParam, visibleVersion } from './shared.ts';
import { statusResource } from './status.ts';

async function getObjects(c: TaxiiContext, objectId?: string): Promise<Response> {
  const { collection, rights, access } = await loadCollection(c, 'read');
  const { store, config } = c.var.deps;
  if (objectId !== undefined && !(await store.hasObject(collection.id, objectId, access))) {
    fail('not-found', `object ${objectId} not found in collection "${collection.id}"`);
  }
  const filters = parseObjectFilters(searchParams(c), config.taxii.pageSize, {
    ids: objectId === undefined,
    types: objectId === undefined,
    versions: true,
  });
  const resource =
    objectId === undefined ? `objects:${collection.id}` : `object:${collection.id}:${objectId}`;
  const { addedAfter, scope } = startAfter(c, filters, resource);
  const page = await store.queryObjects({
    collectionId: collection.id,
    ...(objectId !== undefined ? { ids: [objectId] } : filters.ids ? { ids: filters.ids } : {}),
    ...(filters.types ? { types: filters.types } : {}),
    ...(filters.versions ? { versions: filters.versions } : {}),
    ...(filters.specVersions ? { specVersions: filters.specVersions } : {}),
    ...(addedAfter !== undefined ? { addedAfter } : {}),
    limit: filters.limit,
    access,
  });
  const { members, headers } = pageOutput(c, page, scope);
  // Objects go out as stored, without a parse and re-serialise, unless granular markings
  // hide some of their properties from this reader. An empty page is an envelope without
  // "objects" (section 3.7).
  const served = page.items.map((item) =>
    item.granularMarkings
      ? redactGranular(item.json, {
          widest: rights.widest,
          contributed: item.contributed,
          recipient: item.recipient,
        })
      : item.json,
  );
  if (served.length > 0) members.push(`"objects":[${served.join(',')}]`);
  return taxiiResponse(200, `{${members.join(',')}}`, headers);
}

async function addObjects(c: TaxiiContext): Promise<Response> {
  const { root, collection } = await loadCollection(c, 'write');
  const { caller } = c.var;
  const { store, config, logger } = c.var.deps;
  if (!isTaxiiContentType(c.req.header('content-type'), config.taxii.lenientMediaTypes)) {
    fail(
      'unsupported-media-type',
      `Content-Type ${JSON.stringify(c.req.header('content-type') ?? '')} is not accepted: send application/taxii+json;version=2.1`,
    );
  }
  const requestTimestamp = nowMicros();
  const { total, chunks } = await readEnvelope(c, root.maxContentLength);
  const community = collection.communityId
    ? await store.getCommunity(collection.communityId)
    : undefined;
  // TAXII cannot name RED recipients or ask for anonymity; the sharing API can.
  const result = await submitValidated(store, collection.id, chunks, {
    contributor: { userId: caller.user.id, organisationId: caller.user.organisationId },
    anonymous: false,
    recipients: [],
    ...(community ? { community } : {}),
  });
  await recordAudit(
    store,
    auditActor(c.var.caller, c.var.sourceAddress),
    'objects.add',
    collection.id,
    writeDetails(result),
  );

  const status: StatusRecord = {
    id: randomUUID(),
    apiRoot: root.name,
    ownerId: c.var.caller.user.id,
    status: 'complete',
    requestTimestamp,
    totalCount: total,
    successCount: result.successes.length,
    failureCount: result.failures.length,
    pendingCount: 0,
    // A duplicate is reported exactly like a new version, so a poster cannot learn that a
    // copy they may not read is stored here. NOTE: an object without created or modified
    // (an SCO) still shows its original date_added as its version when it is a duplicate.
    successes: result.successes.map(({ id, version, dateAdded }) => ({
      id,
      version: visibleVersion({ version, dateAdded }),
    })),
    failures: result.failures.map(({ id, version, message }) => ({ id, version, message })),
    pendings: [],
    expiresAt: nowMicros() + config.taxii.statusRetentionHours * 3600 * 1_000_000,
  };
  await store.saveStatus(status);
  logger.info(
    {
      requestId: c.var.requestId,
      collection: collection.id,
      status: status.id,
      total: status.totalCount,
      added: result.successes.filter((s) => s.outcome === 'added').length,
      duplicates: result.successes.filter((s) => s.outcome === 'duplicate').length,
      failed: status.failureCount,
    },
    'objects added',
  );
  return taxiiJson(202, statusResource(status));
}

/**
 * Reads a TAXII envelope or a STIX bundle and returns its objects' count and their
 * validation. An envelope worker parses and validates a large body at once. A small body
 * is parsed here, and its objects are validated a chunk at a time as they are stored.
 */
async function readEnvelope(
  c: TaxiiContext,
  maxContentLength: number,
): Promise<{ total: number; chunks: Iterable<ValidatedChunk> }> {
  const bytes = await readBodyBytes(c, maxContentLength);
  const pool = c.var.deps.envelopes;
  if (pool?.takes(bytes.length)) {
    const outcome = await pool.validate(bytes);
    if (!outcome.ok) throw new CairnError(outcome.code, outcome.message, outcome.details);
    return { total: outcome.total, chunks: outcome.chunks };
  }
  const objects = envelopeObjects(parseJsonBytes(bytes));
  return { total: objects.length, chunks: validateChunks(objects) };
}

async function deleteObject(c: TaxiiContext): Promise<Response> {
  const { collection, rights, access } = await loadCollection(c, 'any');
  const id = objectIdParam(c);
  const { store, config, logger } = c.var.deps;
  // An object the caller cannot see does not exist for them, so its absence is checked
  // before the rights: a 403 would reveal it. A caller without can_read sees no object.
  if (!rights.canRead || !(await store.hasObject(collection.id, id, access))) {
    fail('not-found', `object ${id} not found in collection "${collection.id}"`);
  }
  // Section 5.7: deleting needs both can_read and can_write.
  if (!rights.canWrite) {
    fail(
      'forbidden',
      `deleting from collection "${collection.id}" needs both can_read and can_write`,
    );
  }
  const filters = parseObjectFilters(searchParams(c), config.taxii.pageSize, { versions: true });
  const removed = await deleteVisibleVersions(store, collection.id, id, access, filters);
  await recordAudit(
    store,
    auditActor(c.var.caller, c.var.sourceAddress),
    'objects.delete',
    collection.id,
    { object: id, removed },
  );
  logger.info(
    { requestId: c.var.requestId, collection: collection.id, object: id, removed },
    'object deleted',
  );
  return taxiiResponse(200, '');
}

/**
 * Deletes the selected versions the caller sees, and no others: versions hidden from the
 * caller are left alone, because deleting them would reveal that they exist.
 */
async function deleteVisibleVersions(
  store: Store,
  collectionId: string,
  id: string,
  access: AccessFilter,
  filters: ObjectFilters,
): Promise<number> {
  const visible = await store.queryManifest({
    collectionId,
    ids: [id],
    versions: filters.versions ?? { all: true },
    ...(filters.specVersions ? { specVersions: filters.specVersions } : {}),
    access,
    limit: Number.MAX_SAFE_INTEGER - 1,
  });
  if (visible.items.length === 0) return 0;

  const exact = visible.items.map((item) => item.versionKey);
  return store.deleteObject(collectionId, id, { first: false, last: false, exact });
}

export function registerObjects(app: Hono<TaxiiEnv>): void {
  const list = '/:root/collections/:collection/objects';
  const one = '/:root/collections/:collection/objects/:object';
  app.get(list, (c) => getObjects(c));
  app.post(list, (c) => addObjects(c));
  app.get(one, (c) => getObjects(c, objectIdParam(c)));
  app.delete(one, (c) => deleteObject(c));
}
