/**
 * Validates STIX objects and adds the good ones to a collection. Shared by TAXII POST and
 * `cairn import`, so both report the same outcome for the same input.
 */
import {
  applySharing,
  objectMarks,
  type Contribution,
  type ObjectMarks,
} from '../sharing/share.ts';
import { validateObject, type StixProblem } from '../stix/index.ts';
import type { PreparedObject, Store } from '../store/store.ts';

export interface SubmitSuccess {
  id: string;
  version: string;
  outcome: 'added' | 'duplicate';
  /** The collection's date_added for the version (microseconds). */
  dateAdded: number;
}

export interface SubmitFailure {
  /** The object's id when it had a usable one, otherwise a placeholder naming its position. */
  id: string;
  version: string;
  message: string;
  problems: StixProblem[];
}

export interface SubmitResult {
  successes: SubmitSuccess[];
  failures: SubmitFailure[];
}

/** Most problems quoted in one failure message; the rest are counted. */
const MESSAGE_PROBLEMS = 5;

function describeProblems(problems: StixProblem[]): string {
  const shown = problems.slice(0, MESSAGE_PROBLEMS).map((problem) => problem.message);
  const hidden = problems.length - shown.length;
  return hidden > 0 ? `${shown.join('; ')}; and ${hidden} more` : shown.join('; ');
}

/** Objects validated together: the valid ones prepared, with their markings, and the failures. */
export interface ValidatedChunk {
  prepared: PreparedObject[];
  /** The markings of each prepared object, in the same order. */
  marks: ObjectMarks[];
  failures: SubmitFailure[];
}

/**
 * Validates each object on its own: a bad object fails with its reasons and does not
 * stop the others. `offset` numbers objects without an id in messages.
 */
export function prepareObjects(objects: readonly unknown[], offset = 0): ValidatedChunk {
  const prepared: PreparedObject[] = [];
  const marks: ObjectMarks[] = [];
  const failures: SubmitFailure[] = [];
  objects.forEach((value, index) => {
    const result = validateObject(value);
    if (result.ok) {
      prepared.push(result.prepared);
      // A valid object is a plain JSON object whose JSON text is result.prepared.json.
      marks.push(objectMarks(value as Record<string, unknown>));
      return;
    }
    failures.push({
      id: result.id ?? `objects[${offset + index}]`,
      version: result.version ?? '',
      message: describeProblems(result.problems),
      problems: result.problems,
    });
  });
  return { prepared, marks, failures };
}

/**
 * The contribution of an operator's import: no contributor, the collection's community
 * for the default TLP, nothing anonymous and no recipients.
 */
export async function operatorContribution(
  store: Store,
  collectionId: string,
): Promise<Contribution> {
  const collection = await store.getCollectionById(collectionId);
  const community =
    collection?.communityId === undefined
      ? undefined
      : await store.getCommunity(collection.communityId);
  return { anonymous: false, recipients: [], ...(community ? { community } : {}) };
}

/**
 * Objects validated and stored per step. Between steps the event loop runs other requests,
 * so one large POST does not stall the server for seconds.
 */
export const SUBMIT_CHUNK = 1000;

/** Validates `objects` one chunk of SUBMIT_CHUNK at a time, as the chunks are taken. */
export function* validateChunks(
  objects: readonly unknown[],
  offset = 0,
): Generator<ValidatedChunk, void, undefined> {
  for (let start = 0; start < objects.length; start += SUBMIT_CHUNK) {
    yield prepareObjects(objects.slice(start, start + SUBMIT_CHUNK), offset + start);
  }
}

/**
 * Validates, applies the sharing rules and stores a batch. Store errors propagate;
 * validation and sharing-rule failures are reported per object. Without a contribution
 * the batch is an operator's import. A batch larger than SUBMIT_CHUNK is stored in several
 * transactions, so a store error can leave its first chunks stored.
 */
export async function submitObjects(
  store: Store,
  collectionId: string,
  objects: readonly unknown[],
  offset = 0,
  contribution?: Contribution,
): Promise<SubmitResult> {
  return submitValidated(store, collectionId, validateChunks(objects, offset), contribution);
}

/**
 * Applies the sharing rules to chunks already validated (validateChunks, or an envelope
 * worker) and stores them, one transaction per chunk, as submitObjects does.
 */
export async function submitValidated(
  store: Store,
  collectionId: string,
  chunks: Iterable<ValidatedChunk>,
  contribution?: Contribution,
): Promise<SubmitResult> {
  const sharing = contribution ?? (await operatorContribution(store, collectionId));
  const result: SubmitResult = { successes: [], failures: [] };
  let first = true;
  for (const validated of chunks) {
    if (!first) await new Promise((resolve) => setImmediate(resolve));
    first = false;
    const shared = await applySharing(store, sharing, validated.prepared, validated.marks);
    result.failures.push(...validated.failures, ...shared.failures);
    if (shared.accepted.length === 0) continue;

    const added = await store.addObjects(collectionId, shared.accepted);
    for (const { id, version, outcome, dateAdded } of added) {
      result.successes.push({ id, version, outcome, dateAdded });
    }
  }
  return result;
}
