/**
 * Compares every read path of a built world against the oracle, for every token: TAXII
 * discovery, collections, objects (each `match[version]`, paged by `next` and by
 * `added_after`), manifest, single objects, versions, DELETE, and the JSON API reads.
 * Each disagreement becomes a finding that names the caller, path, object and rule.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { call, type CallResult, type TestServer } from '../testing/server.ts';
import { api, describeCaller, describeCollection, type BuiltWorld, type Json } from './build.ts';
import { checkFeedback } from './feedback.ts';
import type { Finding } from './findings.ts';
import {
  authenticate,
  collectionRights,
  compareVersion,
  finalCharters,
  hiddenObjectIds,
  isMember,
  matchVersions,
  replay,
  scopeAllows,
  tokenOf,
  userOf,
  type ServedVersion,
  type ShareIndexEntry,
  type StoredVersion,
  type VersionMatch,
} from './oracle.ts';
import type { World } from './world.ts';

export interface CheckOptions {
  /** Page size for the paging checks. */
  pageLimit: number;
  /** Per-object requests (GET object, versions) for at most this many ids per collection. */
  maxObjectsPerCollection: number;
  /** Whether to send DELETE requests for hidden and read-only objects. */
  deletes: boolean;
  /** Whether to post sightings and check who counts them (see feedback.ts). */
  feedback?: boolean;
}

export const DEFAULT_CHECK: CheckOptions = {
  pageLimit: 3,
  maxObjectsPerCollection: Number.POSITIVE_INFINITY,
  deletes: true,
  feedback: true,
};

interface Context {
  server: TestServer;
  built: BuiltWorld;
  world: World;
  state: ShareIndexEntry;
  options: CheckOptions;
  findings: Finding[];
}

function versionKey(id: string, version: string): string {
  return `${id} version ${version}`;
}

/** Explains why a version is hidden from or visible to a caller, from its stored facts. */
function explain(context: Context, collection: string, id: string, version?: string): string {
  const stored = context.state.stored.filter(
    (v) => v.collection === collection && v.id === id && (!version || v.version === version),
  );
  if (stored.length === 0) return 'not stored in this collection';
  return stored
    .map(
      (v: StoredVersion) =>
        `${v.version}: TLP ${v.levels.join('+')}${v.defaulted ? ' (community default)' : ''}, contributor ${v.contributor}` +
        (v.recipients.length > 0 ? `, recipients ${v.recipients.join(',')}` : ''),
    )
    .join('; ');
}

function withoutGranular(object: Json): Json {
  const copy = { ...object };
  delete copy.granular_markings;
  return copy;
}

function differingProperties(actual: Json, expected: Json): string[] {
  const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  keys.delete('granular_markings');
  return [...keys].filter((key) => !isDeepStrictEqual(actual[key], expected[key]));
}

async function taxii(
  context: Context,
  tokenKey: string,
  path: string,
  method = 'GET',
): Promise<CallResult> {
  const token = context.built.tokens.get(tokenKey);
  if (!token) throw new Error(`token ${tokenKey} was not built`);
  const url = path.startsWith('http') ? path : `${context.server.url}/${path}`;
  return call(context.server, url, { method, token });
}

function collectionPath(context: Context, collection: string): string {
  const built = context.built.collections.get(collection);
  if (!built) throw new Error(`collection ${collection} was not built`);
  return `${built.apiRoot}/collections/${built.id}/`;
}

/**
 * Compares a set of served objects against expected versions: nothing extra, nothing
 * missing, no duplicate, and every property as the oracle serves it.
 */
function compareObjects(
  context: Context,
  tokenKey: string,
  collection: string,
  path: string,
  actual: Json[],
  expected: ServedVersion[],
  optional: ReadonlySet<string> = new Set(),
): void {
  const caller = describeCaller(context.world, tokenKey);
  const expectedByKey = new Map(expected.map((v) => [versionKey(v.id, v.version), v]));
  const seen = new Set<string>();
  for (const object of actual) {
    const key = versionKey(String(object.id), String(object.modified));
    if (seen.has(key)) {
      context.findings.push({
        caller,
        path,
        object: key,
        rule: 'a version appears once in a list',
        detail: 'served twice',
      });
    }
    seen.add(key);
    const wanted = expectedByKey.get(key);
    if (!wanted) {
      context.findings.push({
        caller,
        path,
        object: key,
        rule: 'a version appears only to its audience ("Which object versions a reader sees")',
        detail: `served but must be hidden: ${explain(context, collection, String(object.id), String(object.modified))}`,
      });
      continue;
    }
    const differing = differingProperties(object, wanted.object);
    if (differing.length > 0) {
      context.findings.push({
        caller,
        path,
        object: key,
        rule: 'granular TLP markings hide the properties they select; anonymous shares show the community identity',
        detail: `properties differ from the oracle: ${differing.join(', ')}; served ${JSON.stringify(
          Object.fromEntries(differing.map((k) => [k, object[k]])),
        ).slice(0, 400)}; expected ${JSON.stringify(
          Object.fromEntries(differing.map((k) => [k, withoutGranular(wanted.object)[k]])),
        ).slice(0, 400)}`,
      });
    }
  }
  for (const [key, wanted] of expectedByKey) {
    if (seen.has(key) || optional.has(key)) continue;
    context.findings.push({
      caller,
      path,
      object: key,
      rule: 'a reader sees every version in their audience',
      detail: `missing: ${explain(context, collection, wanted.id, wanted.version)}`,
    });
  }
}

function statusFinding(
  context: Context,
  tokenKey: string,
  path: string,
  object: string,
  rule: string,
  result: CallResult,
  expected: string,
): void {
  context.findings.push({
    caller: describeCaller(context.world, tokenKey),
    path,
    object,
    rule,
    detail: `expected ${expected}, got ${result.status}: ${result.text.slice(0, 300)}`,
  });
}

/** Pages through objects with `next` and checks page sizes and the `more` flag. */
async function checkPagingByNext(
  context: Context,
  tokenKey: string,
  collection: string,
  expected: ServedVersion[],
): Promise<void> {
  const base = `${collectionPath(context, collection)}objects/?match[version]=all&limit=${context.options.pageLimit}`;
  const label = `GET objects/?match[version]=all&limit=${context.options.pageLimit} paged by next`;
  const served: Json[] = [];
  let url = base;
  for (let page = 0; page < expected.length + 3; page++) {
    const result = await taxii(context, tokenKey, url);
    if (result.status !== 200) {
      statusFinding(context, tokenKey, label, collection, 'a reader may page', result, '200');
      return;
    }
    const objects = (result.json?.objects ?? []) as Json[];
    served.push(...objects);
    const remaining = expected.length - served.length;
    const more = result.json?.more === true;
    if (more !== remaining > 0 || (more && objects.length !== context.options.pageLimit)) {
      context.findings.push({
        caller: describeCaller(context.world, tokenKey),
        path: `${label}, page ${page + 1}`,
        object: describeCollection(context.world, collection),
        rule: 'a page holds `limit` visible items while more remain, and `more` says whether they do',
        detail: `page had ${objects.length} objects, more=${String(result.json?.more)}, ${remaining} visible versions left by the oracle`,
      });
    }
    if (!more) break;
    const next = result.json?.next as string | undefined;
    if (!next) break;
    url = `${base}&next=${encodeURIComponent(next)}`;
  }
  compareObjects(context, tokenKey, collection, label, served, expected);
}

/** Pages through objects with `added_after` taken from X-TAXII-Date-Added-Last. */
async function checkPagingByAddedAfter(
  context: Context,
  tokenKey: string,
  collection: string,
  expected: ServedVersion[],
): Promise<void> {
  const base = `${collectionPath(context, collection)}objects/?match[version]=all&limit=${context.options.pageLimit}`;
  const label = `GET objects/?match[version]=all&limit=${context.options.pageLimit} paged by added_after`;
  const served: Json[] = [];
  let url = base;
  for (let page = 0; page < expected.length + 3; page++) {
    const result = await taxii(context, tokenKey, url);
    if (result.status !== 200) {
      statusFinding(context, tokenKey, label, collection, 'a reader may page', result, '200');
      return;
    }
    const objects = (result.json?.objects ?? []) as Json[];
    served.push(...objects);
    const last = result.headers.get('x-taxii-date-added-last');
    if (objects.length === 0 || !last) break;
    url = `${base}&added_after=${encodeURIComponent(last)}`;
  }
  compareObjects(context, tokenKey, collection, label, served, expected);
}

async function checkReadableCollection(
  context: Context,
  tokenKey: string,
  collection: string,
): Promise<void> {
  const { world, state } = context;
  const path = collectionPath(context, collection);
  const all = matchVersions(world, tokenKey, collection, 'all', state);

  for (const match of ['all', 'first', 'last', undefined] as Array<VersionMatch | undefined>) {
    const query = match ? `?match[version]=${match}` : '';
    const label = `GET objects/${query}`;
    const result = await taxii(context, tokenKey, `${path}objects/${query}`);
    if (result.status !== 200) {
      statusFinding(
        context,
        tokenKey,
        label,
        collection,
        'a reader may list objects',
        result,
        '200',
      );
      continue;
    }
    const expected = matchVersions(world, tokenKey, collection, match ?? 'last', state);
    const optional =
      match === 'first' ? firstOptional(context, collection, expected) : new Set<string>();
    compareObjects(
      context,
      tokenKey,
      collection,
      label,
      result.json?.objects ?? [],
      expected,
      optional,
    );
  }

  await checkPagingByNext(context, tokenKey, collection, all);
  await checkPagingByAddedAfter(context, tokenKey, collection, all);

  const manifest = await taxii(context, tokenKey, `${path}manifest/?match[version]=all`);
  if (manifest.status !== 200) {
    statusFinding(
      context,
      tokenKey,
      'GET manifest/',
      collection,
      'a reader may list the manifest',
      manifest,
      '200',
    );
  } else {
    const entries = (manifest.json?.objects ?? []) as Json[];
    const asObjects = entries.map((entry) => ({ id: entry.id, modified: entry.version }));
    const expected = all.map((v) => ({ ...v, object: { id: v.id, modified: v.version } }));
    compareObjects(
      context,
      tokenKey,
      collection,
      'GET manifest/?match[version]=all',
      asObjects,
      expected,
    );
  }

  const manifestLast = await taxii(context, tokenKey, `${path}manifest/`);
  if (manifestLast.status === 200) {
    const entries = (manifestLast.json?.objects ?? []) as Json[];
    const asObjects = entries.map((entry) => ({ id: entry.id, modified: entry.version }));
    const expected = matchVersions(world, tokenKey, collection, 'last', state).map((v) => ({
      ...v,
      object: { id: v.id, modified: v.version },
    }));
    compareObjects(context, tokenKey, collection, 'GET manifest/', asObjects, expected);
  }

  const types = [
    ...new Set(state.stored.filter((v) => v.collection === collection).map((v) => v.object.type)),
  ];
  for (const type of types.slice(0, 2)) {
    const label = `GET objects/?match[type]=${type}&match[version]=all`;
    const result = await taxii(
      context,
      tokenKey,
      `${path}objects/?match[type]=${type}&match[version]=all`,
    );
    if (result.status !== 200) {
      statusFinding(context, tokenKey, label, collection, 'a reader may filter', result, '200');
      continue;
    }
    const expected = all.filter((v) => v.object.type === type);
    compareObjects(context, tokenKey, collection, label, result.json?.objects ?? [], expected);
  }

  await checkObjects(context, tokenKey, collection, all);
}

/**
 * Returns the `first` versions that may be missing. The oracle's `first` is the oldest
 * version the reader may see. An implementation that shows the collection's oldest version
 * only when it is visible also fits docs/sharing.md, so those versions are optional.
 */
function firstOptional(
  context: Context,
  collection: string,
  expected: ServedVersion[],
): Set<string> {
  const optional = new Set<string>();
  for (const version of expected) {
    const oldest = context.state.stored
      .filter((v) => v.collection === collection && v.id === version.id)
      .sort(compareVersion)[0];
    if (oldest && oldest.version !== version.version) {
      optional.add(versionKey(version.id, version.version));
    }
  }
  return optional;
}

/**
 * Compares the 404 for a hidden object with the 404 for an id that was never stored: the
 * bodies must match once the ids are masked, or the message reveals which one exists.
 */
async function checkSameAsUnknown(
  context: Context,
  tokenKey: string,
  collection: string,
  id: string,
  hidden: CallResult,
): Promise<void> {
  const type = id.slice(0, id.indexOf('--'));
  const unknownId = `${type}--${randomUUID()}`;
  const unknown = await taxii(
    context,
    tokenKey,
    `${collectionPath(context, collection)}objects/${unknownId}/`,
  );
  const hiddenText = hidden.text.replaceAll(id, '<id>');
  const unknownText = unknown.text.replaceAll(unknownId, '<id>');
  if (hidden.status === unknown.status && hiddenText === unknownText) return;
  context.findings.push({
    caller: describeCaller(context.world, tokenKey),
    path: 'GET objects/{id}/',
    object: `${id} in ${describeCollection(context.world, collection)}`,
    rule: 'a hidden object answers exactly like one that does not exist',
    detail: `hidden: ${hidden.status} ${hiddenText.slice(0, 200)}; unknown: ${unknown.status} ${unknownText.slice(0, 200)}`,
  });
}

/** GET of each object and its versions: 404 when hidden, the visible versions otherwise. */
async function checkObjects(
  context: Context,
  tokenKey: string,
  collection: string,
  all: ServedVersion[],
): Promise<void> {
  const { world, state } = context;
  const path = collectionPath(context, collection);
  const ids = [
    ...new Set(state.stored.filter((v) => v.collection === collection).map((v) => v.id)),
  ];
  const hidden = new Set(hiddenObjectIds(world, tokenKey, collection, state));
  const last = matchVersions(world, tokenKey, collection, 'last', state);
  for (const id of ids.slice(0, context.options.maxObjectsPerCollection)) {
    const mine = all.filter((v) => v.id === id);
    const object = `${id} in ${describeCollection(world, collection)}`;

    const versions = await taxii(context, tokenKey, `${path}objects/${id}/versions/`);
    const single = await taxii(context, tokenKey, `${path}objects/${id}/?match[version]=all`);
    const latest = await taxii(context, tokenKey, `${path}objects/${id}/`);
    if (hidden.has(id)) {
      const filtered = await taxii(
        context,
        tokenKey,
        `${path}objects/?match[id]=${id}&match[version]=all`,
      );
      const manifest = await taxii(
        context,
        tokenKey,
        `${path}manifest/?match[id]=${id}&match[version]=all`,
      );
      for (const [label, result] of [
        ['GET objects/?match[id]={id}', filtered],
        ['GET manifest/?match[id]={id}', manifest],
      ] as const) {
        const dated = result.headers.get('x-taxii-date-added-first') !== null;
        if (result.status !== 200 || (result.json?.objects?.length ?? 0) > 0 || dated) {
          statusFinding(
            context,
            tokenKey,
            label,
            `${object}: ${explain(context, collection, id)}`,
            'a hidden object appears in no list, count or header',
            result,
            '200 without objects or X-TAXII-Date-Added headers',
          );
        }
      }
      const rule = 'an object none of whose versions the reader may see answers 404';
      for (const [label, result] of [
        ['GET objects/{id}/versions/', versions],
        ['GET objects/{id}/?match[version]=all', single],
        ['GET objects/{id}/', latest],
      ] as const) {
        if (result.status !== 404) {
          statusFinding(
            context,
            tokenKey,
            label,
            `${object}: ${explain(context, collection, id)}`,
            rule,
            result,
            '404',
          );
        }
      }
      await checkSameAsUnknown(context, tokenKey, collection, id, latest);
      continue;
    }

    if (versions.status !== 200) {
      statusFinding(
        context,
        tokenKey,
        'GET objects/{id}/versions/',
        object,
        'a reader sees the versions they may see',
        versions,
        '200',
      );
    } else {
      const served = [...((versions.json?.versions ?? []) as string[])].sort();
      const expected = mine.map((v) => v.version).sort();
      if (!isDeepStrictEqual(served, expected)) {
        context.findings.push({
          caller: describeCaller(world, tokenKey),
          path: 'GET objects/{id}/versions/',
          object,
          rule: 'versions lists only the versions the reader may see',
          detail: `served ${served.join(', ')}; expected ${expected.join(', ')}; ${explain(context, collection, id)}`,
        });
      }
    }
    if (single.status !== 200) {
      statusFinding(
        context,
        tokenKey,
        'GET objects/{id}/?match[version]=all',
        object,
        'a reader gets an object they may see',
        single,
        '200',
      );
    } else {
      compareObjects(
        context,
        tokenKey,
        collection,
        'GET objects/{id}/?match[version]=all',
        single.json?.objects ?? [],
        mine,
      );
    }
    const hiddenVersions = state.stored.filter(
      (v) =>
        v.collection === collection &&
        v.id === id &&
        !mine.some((visible) => visible.version === v.version),
    );
    for (const version of hiddenVersions) {
      const exact = await taxii(
        context,
        tokenKey,
        `${path}objects/${id}/?match[version]=${encodeURIComponent(version.version)}`,
      );
      if (exact.status === 404 || (exact.status === 200 && !exact.json?.objects?.length)) continue;
      statusFinding(
        context,
        tokenKey,
        'GET objects/{id}/?match[version]={hidden version}',
        `${versionKey(id, version.version)}: ${explain(context, collection, id, version.version)}`,
        'a hidden version is served under no filter',
        exact,
        '404 or 200 without objects',
      );
    }
    // NOTE: when only the newest version is hidden, docs/sharing.md shows no "last" version;
    // an empty 200 and a 404 both fit, so only the content is compared.
    const expectedLast = last.filter((v) => v.id === id);
    if (latest.status === 200) {
      compareObjects(
        context,
        tokenKey,
        collection,
        'GET objects/{id}/',
        latest.json?.objects ?? [],
        expectedLast,
      );
    } else if (expectedLast.length > 0 || latest.status !== 404) {
      statusFinding(
        context,
        tokenKey,
        'GET objects/{id}/',
        object,
        'match[version]=last shows the newest version when visible',
        latest,
        '200',
      );
    }
  }
}

async function checkCollections(context: Context, tokenKey: string): Promise<void> {
  const { world, built } = context;
  const charters = finalCharters(world);
  const caller = describeCaller(world, tokenKey);

  const apiRoots = [...new Set([...built.collections.values()].map((c) => c.apiRoot))];
  const worldIds = new Map([...built.collections].map(([key, c]) => [c.id, key]));
  for (const apiRoot of apiRoots) {
    const result = await taxii(context, tokenKey, `${apiRoot}/collections/`);
    if (result.status !== 200) {
      statusFinding(
        context,
        tokenKey,
        `GET ${apiRoot}/collections/`,
        apiRoot,
        'an authenticated caller may list collections',
        result,
        '200',
      );
      continue;
    }
    const listed = ((result.json?.collections ?? []) as Json[]).filter((c) => worldIds.has(c.id));
    const listedKeys = new Set(listed.map((c) => worldIds.get(c.id) as string));
    for (const [key, target] of built.collections) {
      if (target.apiRoot !== apiRoot) continue;
      const rights = collectionRights(world, tokenKey, key, charters);
      const entry = listed.find((c) => c.id === target.id);
      if (!rights && entry) {
        context.findings.push({
          caller,
          path: `GET ${apiRoot}/collections/`,
          object: describeCollection(world, key),
          rule: 'the collections list shows only collections the caller may read or write',
          detail: `listed with can_read=${entry.can_read} can_write=${entry.can_write}`,
        });
      } else if (rights && !listedKeys.has(key)) {
        context.findings.push({
          caller,
          path: `GET ${apiRoot}/collections/`,
          object: describeCollection(world, key),
          rule: 'the collections list shows every collection the caller may read or write',
          detail: 'missing',
        });
      } else if (
        rights &&
        entry &&
        (entry.can_read !== rights.canRead || entry.can_write !== rights.canWrite)
      ) {
        context.findings.push({
          caller,
          path: `GET ${apiRoot}/collections/`,
          object: describeCollection(world, key),
          rule: 'can_read and can_write follow "Who may use a collection" narrowed by scopes',
          detail: `can_read=${entry.can_read} can_write=${entry.can_write}; expected ${rights.canRead}/${rights.canWrite}`,
        });
      }
    }
  }

  const discovery = await taxii(context, tokenKey, `${context.server.url}/taxii2/`);
  for (const [key, target] of built.collections) {
    if (collectionRights(world, tokenKey, key, charters)) continue;
    if (discovery.text.includes(target.id)) {
      context.findings.push({
        caller,
        path: 'GET /taxii2/',
        object: describeCollection(world, key),
        rule: 'discovery shows only collections the caller may read or write',
        detail: 'the hidden collection id appears in discovery',
      });
    }
  }

  for (const collection of world.collections) {
    const rights = collectionRights(world, tokenKey, collection.key, charters);
    const path = collectionPath(context, collection.key);
    const result = await taxii(context, tokenKey, path);
    if (!rights) {
      const builtCollection = context.built.collections.get(collection.key);
      const unknownId = randomUUID();
      const unknown = await taxii(
        context,
        tokenKey,
        `${builtCollection?.apiRoot}/collections/${unknownId}/`,
      );
      const hiddenText = result.text.replaceAll(builtCollection?.id ?? '-', '<id>');
      if (hiddenText !== unknown.text.replaceAll(unknownId, '<id>')) {
        context.findings.push({
          caller,
          path: 'GET collections/{id}/',
          object: describeCollection(world, collection.key),
          rule: 'a hidden collection answers exactly like one that does not exist',
          detail: `hidden: ${hiddenText.slice(0, 200)}; unknown: ${unknown.text.slice(0, 200)}`,
        });
      }
      if (result.status !== 404) {
        statusFinding(
          context,
          tokenKey,
          'GET collections/{id}/',
          describeCollection(world, collection.key),
          'a collection the caller may not use does not exist for them',
          result,
          '404',
        );
      }
      for (const suffix of ['objects/', 'manifest/']) {
        const hiddenResult = await taxii(context, tokenKey, `${path}${suffix}`);
        if (hiddenResult.status !== 404) {
          statusFinding(
            context,
            tokenKey,
            `GET ${suffix}`,
            describeCollection(world, collection.key),
            'a collection the caller may not use does not exist for them',
            hiddenResult,
            '404',
          );
        }
      }
      continue;
    }
    if (
      result.status !== 200 ||
      result.json?.can_read !== rights.canRead ||
      result.json?.can_write !== rights.canWrite
    ) {
      statusFinding(
        context,
        tokenKey,
        'GET collections/{id}/',
        describeCollection(world, collection.key),
        'can_read and can_write follow "Who may use a collection"',
        result,
        `200 with ${rights.canRead}/${rights.canWrite}`,
      );
    }
    if (rights.canRead) {
      await checkReadableCollection(context, tokenKey, collection.key);
    } else {
      const objects = await taxii(context, tokenKey, `${path}objects/`);
      if (objects.status === 200 || (objects.json?.objects?.length ?? 0) > 0) {
        statusFinding(
          context,
          tokenKey,
          'GET objects/',
          describeCollection(world, collection.key),
          'a token without read rights reads nothing',
          objects,
          '403',
        );
      }
    }
  }
}

/**
 * Failed authentications sent per world. Cairn rate-limits failed attempts per source
 * address (20 per 5 minutes by default, RATE_LIMIT_DEFAULTS in src/auth/http.ts), and every
 * request here comes from 127.0.0.1, so the 401 checks stay below that and run last.
 */
const FAILED_AUTHENTICATION_BUDGET = 15;

/** Checks that the token gets 401, on one path per token chosen in turn. */
async function checkUnauthenticated(
  context: Context,
  tokenKey: string,
  index: number,
): Promise<void> {
  const first = context.world.collections[0];
  const paths = [`${context.server.url}/taxii2/`, `${context.server.url}/api/v1/me`];
  if (first) paths.push(`${collectionPath(context, first.key)}objects/`);
  const path = paths[index % paths.length] as string;
  const result = await taxii(context, tokenKey, path);
  if (result.status !== 401) {
    statusFinding(
      context,
      tokenKey,
      `GET ${path.replace(context.server.url, '')}`,
      '-',
      'a disabled user, revoked or expired token gets 401',
      result,
      '401',
    );
  }
}

/** Expected access to a JSON API read: allowed, denied, or either when scopes make it open. */
type Access = 'allowed' | 'denied' | 'either';

/**
 * Checks a JSON API response status against the expected access. A denial must be 403 or
 * 404 (`notFound` demands 404, for resources the caller may not know about).
 */
function checkAccess(
  context: Context,
  tokenKey: string,
  path: string,
  object: string,
  rule: string,
  result: CallResult,
  access: Access,
  notFound = false,
): boolean {
  const allowed = result.status === 200;
  const deniedStatuses = notFound ? [404] : [403, 404];
  const ok =
    access === 'either'
      ? allowed || deniedStatuses.includes(result.status)
      : access === 'allowed'
        ? allowed
        : deniedStatuses.includes(result.status);
  if (!ok) {
    const expected = access === 'allowed' ? '200' : deniedStatuses.join(' or ');
    statusFinding(context, tokenKey, path, object, rule, result, expected);
  }
  return allowed;
}

async function checkJsonApi(context: Context, tokenKey: string): Promise<void> {
  const { world, built } = context;
  const user = authenticate(world, tokenKey);
  if (!user) return;
  const tokenFact = tokenOf(world, tokenKey);
  const token = built.tokens.get(tokenKey) as string;
  const caller = describeCaller(world, tokenKey);
  const platformAdmin = user.role === 'platform-admin';
  const organisationId = built.organisationIds.get(user.organisation) as string;
  const worldCommunityIds = new Map([...built.communityIds].map(([key, id]) => [id, key]));
  const memberOf = world.communities
    .filter((c) => isMember(world, user.organisation, c.key))
    .map((c) => c.key);
  // A token without the read scope reads nothing; docs/sharing.md does not say which scope
  // administrative reads (users, audit) need, so a read-only scope may be refused there.
  const canRead = scopeAllows(tokenFact, 'read');
  const adminScope = scopeAllows(tokenFact, 'admin');
  const readAccess = (allowed: boolean): Access => (allowed && canRead ? 'allowed' : 'denied');
  const adminAccess = (allowed: boolean): Access => {
    if (!allowed || !canRead) return 'denied';
    return adminScope ? 'allowed' : 'either';
  };

  const listed = await api(context.server, 'GET', '/communities', token);
  const listRule = "communities of the caller's organisation (platform admin: all)";
  if (
    checkAccess(
      context,
      tokenKey,
      'GET /api/v1/communities',
      '-',
      listRule,
      listed,
      readAccess(true),
    )
  ) {
    const keys = ((listed.json ?? []) as Json[])
      .map((c) => worldCommunityIds.get(c.id))
      .filter((k): k is string => !!k)
      .sort();
    const expected = platformAdmin
      ? world.communities.map((c) => c.key).sort()
      : [...memberOf].sort();
    if (!isDeepStrictEqual(keys, expected)) {
      context.findings.push({
        caller,
        path: 'GET /api/v1/communities',
        object: '-',
        rule: listRule,
        detail: `listed ${keys.join(',')}; expected ${expected.join(',')}`,
      });
    }
  }

  for (const community of world.communities) {
    const id = built.communityIds.get(community.key) as string;
    const result = await api(context.server, 'GET', `/communities/${id}`, token);
    const member = platformAdmin || memberOf.includes(community.key);
    const allowed = checkAccess(
      context,
      tokenKey,
      'GET /api/v1/communities/{id}',
      community.key,
      'a community shows to its members and platform admins, and is 404 to others',
      result,
      readAccess(member),
      canRead && !member,
    );
    if (!allowed && canRead) {
      const unknownId = randomUUID();
      const unknown = await api(context.server, 'GET', `/communities/${unknownId}`, token);
      const hiddenText = result.text.replaceAll(id, '<id>');
      if (hiddenText !== unknown.text.replaceAll(unknownId, '<id>')) {
        context.findings.push({
          caller,
          path: 'GET /api/v1/communities/{id}',
          object: community.key,
          rule: 'a community the caller may not see answers exactly like one that does not exist',
          detail: `hidden: ${hiddenText.slice(0, 200)}; unknown: ${unknown.text.slice(0, 200)}`,
        });
      }
    }
    if (allowed) {
      const collections = ((result.json?.collections ?? []) as Json[]).map((c) => c.id).sort();
      const expected = world.collections
        .filter((k) => k.community === community.key)
        .map((k) => built.collections.get(k.key)?.id)
        .sort();
      if (!isDeepStrictEqual(collections, expected)) {
        context.findings.push({
          caller,
          path: 'GET /api/v1/communities/{id}',
          object: community.key,
          rule: 'a community lists its own collections',
          detail: `listed ${collections.join(',')}; expected ${expected.join(',')}`,
        });
      }
    }
  }

  const organisations = await api(context.server, 'GET', '/organisations', token);
  const organisationsRule = 'others than platform admins see only their own organisation';
  if (
    checkAccess(
      context,
      tokenKey,
      'GET /api/v1/organisations',
      '-',
      organisationsRule,
      organisations,
      readAccess(true),
    )
  ) {
    const ids = new Set(built.organisationIds.values());
    const leaked = ((organisations.json ?? []) as Json[]).filter(
      (o) => ids.has(o.id) && !platformAdmin && o.id !== organisationId,
    );
    if (leaked.length > 0) {
      context.findings.push({
        caller,
        path: 'GET /api/v1/organisations',
        object: leaked.map((o) => o.name).join(', '),
        rule: organisationsRule,
        detail: 'listed',
      });
    }
  }
  for (const organisation of world.organisations) {
    const id = built.organisationIds.get(organisation.key) as string;
    const own = organisation.key === user.organisation;
    const result = await api(context.server, 'GET', `/organisations/${id}`, token);
    checkAccess(
      context,
      tokenKey,
      'GET /api/v1/organisations/{id}',
      organisation.key,
      'an organisation shows to its members and platform admins',
      result,
      readAccess(platformAdmin || own),
    );
    const users = await api(context.server, 'GET', `/organisations/${id}/users`, token);
    checkAccess(
      context,
      tokenKey,
      'GET /api/v1/organisations/{id}/users',
      organisation.key,
      'users are listed to platform admins and the org admin of the organisation',
      users,
      adminAccess(platformAdmin || (user.role === 'org-admin' && own)),
    );
  }

  const audit = await api(context.server, 'GET', '/audit?limit=1000', token);
  const auditAllowed = checkAccess(
    context,
    tokenKey,
    'GET /api/v1/audit',
    '-',
    'platform admins and org admins read the audit log',
    audit,
    adminAccess(platformAdmin || user.role === 'org-admin'),
  );
  if (auditAllowed && !platformAdmin)
    checkOrganisationAudit(context, tokenKey, audit.json, organisationId);
}

/** Checks an org admin's audit page: own organisation only, no anonymous contributor. */
function checkOrganisationAudit(
  context: Context,
  tokenKey: string,
  page: Json | undefined,
  organisationId: string,
): void {
  const { world } = context;
  const caller = describeCaller(world, tokenKey);
  // Objects only ever posted anonymously: any other post is a write the log may attribute.
  const shares = world.events.filter((e) => e.kind === 'share');
  const anonymousIds = context.state.stored
    .filter((v) => v.anonymous)
    .map((v) => v.id)
    .filter((id) => shares.every((e) => e.object.id !== id || e.anonymous));
  for (const entry of (page?.entries ?? []) as Json[]) {
    if (entry.organisationId !== undefined && entry.organisationId !== organisationId) {
      context.findings.push({
        caller,
        path: 'GET /api/v1/audit',
        object: `entry ${entry.id} ${entry.action}`,
        rule: "org admins read only their own organisation's actions",
        detail: `organisationId ${entry.organisationId}`,
      });
    }
    const text = JSON.stringify(entry);
    const revealed = anonymousIds.filter((id) => text.includes(id));
    if (revealed.length > 0 && (entry.actorId !== undefined || entry.actorName !== undefined)) {
      context.findings.push({
        caller,
        path: 'GET /api/v1/audit',
        object: `entry ${entry.id} ${entry.action} on ${revealed.join(', ')}`,
        rule: 'the real contributors of anonymous shares are for platform admins only',
        detail: `actor ${entry.actorId ?? ''} ${entry.actorName ?? ''}`,
      });
    }
  }
}

/**
 * DELETE of hidden objects must be 404 and must not delete; DELETE by a reader without
 * write rights of a visible object is 403. Run after the reads, since a wrong DELETE
 * changes the store.
 */
async function checkDeletes(context: Context, tokenKey: string): Promise<void> {
  const { world, state } = context;
  const charters = finalCharters(world);
  for (const collection of world.collections) {
    const rights = collectionRights(world, tokenKey, collection.key, charters);
    const path = collectionPath(context, collection.key);
    const where = describeCollection(world, collection.key);
    const stored = [
      ...new Set(state.stored.filter((v) => v.collection === collection.key).map((v) => v.id)),
    ];
    const hidden = rights ? hiddenObjectIds(world, tokenKey, collection.key, state) : stored;
    const writer = rights?.canRead === true && rights.canWrite;

    // NOTE: docs/sharing.md requires 404 for DELETE of a hidden object. A caller without
    // write rights may get the 403 of the collection instead, as long as it is the same
    // answer as for an id that does not exist, so the status reveals nothing.
    let unknownStatus = 404;
    if (rights && !writer) {
      const unknown = `indicator--${randomUUID()}`;
      unknownStatus = (await taxii(context, tokenKey, `${path}objects/${unknown}/`, 'DELETE'))
        .status;
      if (unknownStatus !== 403 && unknownStatus !== 404) {
        context.findings.push({
          caller: describeCaller(world, tokenKey),
          path: 'DELETE objects/{id}/',
          object: `${unknown} (not stored) in ${where}`,
          rule: 'a caller without write rights may not delete',
          detail: `expected 403 or 404, got ${unknownStatus}`,
        });
      }
    }
    for (const id of hidden.slice(0, 2)) {
      const result = await taxii(context, tokenKey, `${path}objects/${id}/`, 'DELETE');
      if (result.status !== unknownStatus) {
        statusFinding(
          context,
          tokenKey,
          'DELETE objects/{id}/',
          `${id} in ${where}: ${explain(context, collection.key, id)}`,
          'DELETE of an object the caller may not see answers as for one that does not exist',
          result,
          String(unknownStatus),
        );
      }
    }
    if (rights && !writer) {
      const visible = stored.filter((id) => !hidden.includes(id));
      for (const id of visible.slice(0, 1)) {
        const result = await taxii(context, tokenKey, `${path}objects/${id}/`, 'DELETE');
        if (result.status !== 403) {
          statusFinding(
            context,
            tokenKey,
            'DELETE objects/{id}/',
            `${id} in ${where}`,
            'a reader without write rights may not delete',
            result,
            '403',
          );
        }
      }
    }
  }
}

/** Checks that DELETE attempts removed nothing: each contributor still reads their versions. */
async function checkNothingDeleted(context: Context): Promise<void> {
  const { world, state } = context;
  for (const version of state.stored) {
    const contributorToken = world.tokens.find(
      (t) => t.user === version.contributor && t.scopes.length === 0 && t.state === 'active',
    );
    if (!contributorToken || !authenticate(world, contributorToken.key)) continue;
    const result = await taxii(
      context,
      contributorToken.key,
      `${collectionPath(context, version.collection)}objects/${version.id}/versions/`,
    );
    const versions = (result.json?.versions ?? []) as string[];
    if (result.status !== 200 || !versions.includes(version.version)) {
      statusFinding(
        context,
        contributorToken.key,
        'GET objects/{id}/versions/ after DELETE attempts',
        versionKey(version.id, version.version),
        'a rejected DELETE removes nothing',
        result,
        `200 listing ${version.version}`,
      );
    }
  }
}

/**
 * Replays another caller's `next` cursor: it must be rejected, or serve only versions this
 * caller may see.
 */
async function checkForeignCursors(context: Context): Promise<void> {
  const { world, state } = context;
  const limit = context.options.pageLimit;
  for (const collection of world.collections) {
    const path = `${collectionPath(context, collection.key)}objects/?match[version]=all&limit=${limit}`;
    const owner = context.world.tokens.find(
      (t) => collectionRights(world, t.key, collection.key)?.canRead && t.scopes.length === 0,
    );
    if (!owner) continue;
    const first = await taxii(context, owner.key, path);
    const next = first.json?.next as string | undefined;
    if (!next) continue;
    for (const token of world.tokens) {
      if (token.key === owner.key || !authenticate(world, token.key)) continue;
      const result = await taxii(context, token.key, `${path}&next=${encodeURIComponent(next)}`);
      if (result.status !== 200) continue;
      const visible = new Set(
        matchVersions(world, token.key, collection.key, 'all', state).map((v) =>
          versionKey(v.id, v.version),
        ),
      );
      for (const object of (result.json?.objects ?? []) as Json[]) {
        const key = versionKey(String(object.id), String(object.modified));
        if (visible.has(key)) continue;
        context.findings.push({
          caller: describeCaller(world, token.key),
          path: `GET objects/ with the next cursor of ${owner.key}`,
          object: key,
          rule: 'a version appears only to its audience, whatever the cursor',
          detail: `served: ${explain(context, collection.key, String(object.id), String(object.modified))}`,
        });
      }
    }
  }
}

/**
 * Reads the TAXII status of every share attempt as every caller. A status readable by
 * someone other than the contributor may name only objects that caller may see.
 */
async function checkStatuses(context: Context): Promise<void> {
  const { world, state } = context;
  for (const [index, status] of context.built.statuses) {
    const event = world.events[index];
    if (event?.kind !== 'share') continue;
    for (const token of world.tokens) {
      if (!authenticate(world, token.key) || token.user === event.contributor) continue;
      // NOTE: platform admins read every status, by design of the status route, even with
      // a token narrowed to the write scope; they are left out here.
      if (userOf(world, token.user).role === 'platform-admin') continue;
      const result = await taxii(context, token.key, `${status.apiRoot}/status/${status.id}/`);
      if (result.status !== 200) continue;
      const named = ['successes', 'failures', 'pendings'].flatMap(
        (list) => (result.json?.[list] ?? []) as Json[],
      );
      const stored = new Set(
        state.stored.filter((v) => v.collection === event.collection).map((v) => v.id),
      );
      for (const entry of named) {
        if (!stored.has(String(entry.id))) continue;
        const visible = matchVersions(world, token.key, event.collection, 'all', state).some(
          (v) => v.id === entry.id,
        );
        if (visible) continue;
        context.findings.push({
          caller: describeCaller(world, token.key),
          path: 'GET status/{id}/',
          object: `${String(entry.id)} version ${String(entry.version)} posted by ${event.contributor}`,
          rule: 'an object none of whose versions the reader may see appears nowhere',
          detail: `status of share #${index} readable: ${explain(context, event.collection, String(entry.id))}`,
        });
      }
    }
  }
}

/** Runs every check for every token of the built world and returns the findings. */
export async function checkWorld(
  server: TestServer,
  built: BuiltWorld,
  options: CheckOptions = DEFAULT_CHECK,
): Promise<Finding[]> {
  const world = built.world;
  const context: Context = {
    server,
    built,
    world,
    state: replay(world),
    options,
    findings: [...built.findings],
  };
  for (const token of world.tokens) {
    if (!authenticate(world, token.key)) continue;
    await checkCollections(context, token.key);
    await checkJsonApi(context, token.key);
  }
  await checkForeignCursors(context);
  await checkStatuses(context);
  if (options.deletes) {
    for (const token of world.tokens.filter((t) => authenticate(world, t.key))) {
      await checkDeletes(context, token.key);
    }
    await checkNothingDeleted(context);
  }
  if (options.feedback === true) {
    await checkFeedback(server, built, context.state, context.findings);
  }
  const rejected = world.tokens.filter((t) => !authenticate(world, t.key));
  for (const [index, token] of rejected.slice(0, FAILED_AUTHENTICATION_BUDGET).entries()) {
    await checkUnauthenticated(context, token.key, index);
  }
  return context.findings;
}
