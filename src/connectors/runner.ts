/**
 * Runs one connector once: reads its source from the stored checkpoint, filters warning-listed
 * values, stores each batch through the same validation and sharing rules as a TAXII POST,
 * indexes the stored objects for correlation, counts sightings, and writes the checkpoint and
 * health after each committed batch.
 *
 * Objects are contributed as the connector's creating user, so its runs never write where
 * that user may not, and stop when the user loses the right.
 */
import type { Caller } from '../auth/tokens.ts';
import type { WarninglistLookup } from '../ingest/formats/index.ts';
import { indexObjects } from '../correlation/indexer.ts';
import { CairnError } from '../errors.ts';
import { submitConverted } from '../ingest/converted.ts';
import { submitObjects, type SubmitResult } from '../ingest/submit.ts';
import type { Logger } from '../log/logger.ts';
import { feedbackScope } from '../scoring/feedback.ts';
import { collectionRights, loadCollectionContext } from '../sharing/access.ts';
import type { Contribution } from '../sharing/share.ts';
import { nowMicros } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';
import { connectorSource, type Connector } from './definition.ts';
import { openSecrets, type SecretBox } from './secrets.ts';
import type { ConnectorSource, SourceBatch } from './source.ts';
import {
  MAX_KEPT_FAILURES,
  MAX_KEPT_MESSAGES,
  emptyHealth,
  loadState,
  saveState,
  type ConnectorState,
  type RunHealth,
} from './state.ts';
import { applyWarninglistPolicy, findWarninglistHit } from './stix-warninglists.ts';

export interface RunnerDeps {
  store: Store;
  logger: Logger;
  /** Builds the source for a connector; see sources.ts. */
  sourceFor: (connector: Connector) => ConnectorSource;
  /** Warning lists; without them every policy checks nothing. */
  warninglists?: WarninglistLookup;
  /** The key of sealed connector secrets; see secrets.ts. */
  secrets?: SecretBox;
  /**
   * `connectors.allowPrivateTargets`: whether every connector may fetch from loopback,
   * private and other non-public addresses. Without it, only connectors whose url a platform
   * admin gave may.
   */
  allowPrivateTargets?: boolean;
}

/** Rights of one run: its contribution, and whether it may reach private targets. */
interface RunRights {
  contribution: Contribution;
  /** An active platform admin, an operator of the server, gave the connector's url. */
  urlByPlatformAdmin: boolean;
}

/** Builds the rights of a run, or throws when the creating user may not write. */
async function runRights(store: Store, connector: Connector): Promise<RunRights> {
  const collection = await store.getCollectionById(connector.collection);
  if (collection === undefined) {
    throw new CairnError(
      'not-found',
      `the target collection ${connector.collection} no longer exists: change the connector's collection`,
    );
  }
  const user = await store.getUser(connector.createdBy);
  if (user === undefined || user.disabled) {
    throw new CairnError(
      'forbidden',
      `user ${connector.createdBy}, whose rights the connector uses, is disabled or gone: recreate the connector as an active user`,
    );
  }
  // The user's own rights, not narrowed by any token: the connector acts for the user.
  const caller: Caller = {
    user,
    token: {
      id: 'connector',
      userId: user.id,
      label: '',
      secretHash: '',
      scopes: [],
      createdAt: 0,
    },
  };
  const context = await loadCollectionContext(store, caller, collection);
  if (!collectionRights(caller, context).canWrite) {
    throw new CairnError(
      'forbidden',
      `user ${user.name} may no longer write to collection ${collection.id}: grant the right or change the target`,
    );
  }
  return {
    contribution: {
      contributor: { userId: user.id, organisationId: user.organisationId },
      anonymous: false,
      recipients: [],
      ...(context.community ? { community: context.community } : {}),
    },
    urlByPlatformAdmin: await isActivePlatformAdmin(store, connector.urlSetBy ?? user.id),
  };
}

async function isActivePlatformAdmin(store: Store, userId: string): Promise<boolean> {
  const user = await store.getUser(userId);
  return user !== undefined && !user.disabled && user.role === 'platform-admin';
}

function keepMessage(list: string[], message: string): void {
  if (list.length < MAX_KEPT_MESSAGES) list.push(message);
}

function reject(health: RunHealth, id: string, message: string, reason: string): void {
  health.rejected++;
  health.rejectedByReason[reason] = (health.rejectedByReason[reason] ?? 0) + 1;
  if (health.failures.length < MAX_KEPT_FAILURES) health.failures.push({ id, message });
}

/**
 * Applies the connector's warning-list policy to objects no converter has checked (see
 * stix-warninglists.ts) and returns those to store.
 */
function applyWarningLists(
  connector: Connector,
  objects: unknown[],
  lookup: WarninglistLookup | undefined,
  health: RunHealth,
): unknown[] {
  if (connector.warningLists === 'off' || lookup === undefined) return objects;
  const result = applyWarninglistPolicy(objects, {
    lists: lookup,
    action: connector.warningLists,
  });
  for (const { id, message } of result.dropped) reject(health, id, message, 'warninglist');
  health.flagged += result.flagged;
  return result.kept;
}

/**
 * Counts the objects of a converted batch that are on a warning list. The converters apply
 * the policy themselves, so under `label` and `lower` the listed objects they kept are found
 * again here, as applyWarningLists counts them for objects as served.
 */
function countConverterFlagged(
  connector: Connector,
  objects: readonly unknown[],
  lookup: WarninglistLookup | undefined,
): number {
  const policy = connector.warningLists;
  if (lookup === undefined || policy === 'off' || policy === 'drop') return 0;
  let flagged = 0;
  for (const object of objects) {
    if (object === null || typeof object !== 'object' || Array.isArray(object)) continue;
    if (findWarninglistHit(object as Record<string, unknown>, lookup) !== undefined) flagged++;
  }
  return flagged;
}

/**
 * Adds the stored sightings to the feedback of the objects they sight, as reports of the
 * connector's organisation in the scope of its target collection.
 */
async function countSightings(
  store: Store,
  contribution: Contribution,
  collectionId: string,
  stored: { objects: unknown[]; added: Set<string> },
): Promise<void> {
  const { objects, added } = stored;
  const scope = feedbackScope({
    id: collectionId,
    ...(contribution.community ? { communityId: contribution.community.id } : {}),
  });
  const organisationId = contribution.contributor?.organisationId;
  if (organisationId === undefined) return;
  const at = nowMicros();
  for (const object of objects) {
    const record = object as Record<string, unknown>;
    if (record?.type !== 'sighting' || !added.has(String(record.id))) continue;
    if (typeof record.sighting_of_ref !== 'string') continue;
    const count = Number.isSafeInteger(record.count) ? Math.max(1, record.count as number) : 1;
    await store.addFeedback({
      objectId: record.sighting_of_ref,
      scope,
      organisationId,
      sightings: count,
      at,
    });
  }
}

/** Adds a converter's rejection totals; their examples are kept but not counted again. */
function countRejections(health: RunHealth, counts: SourceBatch['rejectedCounts']): void {
  if (counts === undefined) return;
  for (const [reason, count] of Object.entries(counts.byReason)) {
    health.rejected += count;
    health.objectsIn += count;
    health.rejectedByReason[reason] = (health.rejectedByReason[reason] ?? 0) + count;
  }
  for (const example of counts.examples) {
    if (health.failures.length >= MAX_KEPT_FAILURES) break;
    health.failures.push({ id: example.id, message: example.message });
  }
}

function tally(health: RunHealth, result: SubmitResult): Set<string> {
  const added = new Set<string>();
  for (const success of result.successes) {
    if (success.outcome === 'added') {
      health.added++;
      added.add(success.id);
    } else {
      health.duplicates++;
    }
  }
  for (const failure of result.failures) {
    const rules = [...new Set(failure.problems.map((problem) => problem.rule))];
    reject(health, failure.id, failure.message, rules[0] ?? 'sharing-rule');
  }
  return added;
}

export interface RunResult {
  health: RunHealth;
  state: ConnectorState;
}

/**
 * Runs the connector to the end of its source, or until `signal` aborts it, and returns the
 * health. `stored` is the definition as stored, whose secrets the run decrypts. A failure
 * of the source, the rights, a batch or the decryption ends the run as `failed` with its
 * message. It throws only when the final state cannot be saved, or with a
 * StoreConflictError when another runner took the connector over.
 */
export async function runConnector(
  deps: RunnerDeps,
  stored: Connector,
  signal: AbortSignal,
): Promise<RunResult> {
  let connector = stored;
  const { store, logger } = deps;
  const loaded = await loadState(store, connector.id);
  let revision = loaded.revision;
  const state = loaded.state;
  const health = emptyHealth(nowMicros());
  state.current = health;
  revision = await saveState(store, connector.id, connector.organisationId, state, revision);
  logger.info({ connector: connector.id, kind: connector.kind }, 'connector run started');

  let contribution: Contribution | undefined;
  const commit = async (batch: SourceBatch): Promise<void> => {
    // Without a contribution submitObjects would store as the operator, with no contributor.
    if (contribution === undefined) throw new Error('a batch came before the run was set up');
    health.batches++;
    health.objectsIn +=
      batch.objects.length + (batch.rejections?.length ?? 0) + (batch.unchanged ?? 0);
    health.duplicates += batch.unchanged ?? 0;
    for (const rejection of batch.rejections ?? []) {
      reject(health, rejection.id, rejection.message, rejection.rule);
    }
    countRejections(health, batch.rejectedCounts);
    for (const warning of batch.warnings ?? []) keepMessage(health.warnings, warning);
    if (batch.warningListsApplied) {
      health.flagged += countConverterFlagged(connector, batch.objects, deps.warninglists);
    }
    const kept = batch.warningListsApplied
      ? batch.objects
      : applyWarningLists(connector, batch.objects, deps.warninglists, health);
    if (kept.length > 0) {
      const submit = batch.bulk ? submitConverted : submitObjects;
      const result = await submit(store, connector.collection, kept, 0, contribution);
      const added = tally(health, result);
      const stored = new Set(result.successes.map((success) => success.id));
      const storedObjects = kept.filter((object) =>
        stored.has(String((object as Record<string, unknown>)?.id)),
      );
      await indexObjects(store, connector.collection, connectorSource(connector.id), storedObjects);
      await countSightings(store, contribution, connector.collection, {
        objects: storedObjects,
        added,
      });
    }
    state.checkpoint = batch.checkpoint;
    revision = await saveState(store, connector.id, connector.organisationId, state, revision);
  };

  try {
    connector = openSecrets(stored, deps.secrets);
    const rights = await runRights(store, connector);
    contribution = rights.contribution;
    const source = deps.sourceFor(connector);
    for await (const batch of source.read({
      connector,
      checkpoint: state.checkpoint,
      signal,
      logger,
      store,
      allowPrivateTargets: deps.allowPrivateTargets
        ? true
        : rights.urlByPlatformAdmin
          ? 'same-origin'
          : false,
      ...(deps.warninglists ? { warninglists: deps.warninglists } : {}),
      onRetry: (message) => {
        health.retries++;
        keepMessage(health.warnings, message);
        logger.warn({ connector: connector.id, message }, 'connector request retried');
      },
    })) {
      await commit(batch);
      if (signal.aborted) throw signal.reason as Error;
    }
    health.outcome = health.rejected > 0 ? 'partial' : 'succeeded';
  } catch (error) {
    if (error instanceof Error && error.name === 'StoreConflictError') throw error;
    health.outcome = 'failed';
    health.error = signal.aborted
      ? `the run was stopped: ${(signal.reason as Error)?.message ?? 'aborted'}`
      : (error as Error).message;
    logger.error({ connector: connector.id, err: health.error }, 'connector run failed');
  }

  health.finishedAt = nowMicros();
  state.current = undefined;
  state.lastRun = health;
  if (health.objectsIn > 0) state.lastRunWithData = health;
  state.runs++;
  if (health.outcome === 'failed') state.consecutiveFailures++;
  else {
    state.consecutiveFailures = 0;
    state.lastSuccessAt = health.finishedAt;
  }
  await saveState(store, connector.id, connector.organisationId, state, revision);
  logger.info(
    {
      connector: connector.id,
      outcome: health.outcome,
      objectsIn: health.objectsIn,
      added: health.added,
      duplicates: health.duplicates,
      rejected: health.rejected,
      ms: Math.round((health.finishedAt - health.startedAt) / 1000),
    },
    'connector run finished',
  );
  return { health, state };
}
