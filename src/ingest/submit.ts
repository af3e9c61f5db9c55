/**
 * Validates STIX objects and adds the good ones to a collection. Shared by TAXII POST and
 * `cairn import`, so both report the same outcome for the same input.
 */
import { applySharing, type Contribution } from '../sharing/share.ts';
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

/**
 * Validates each object on its own: a bad object fails with its reasons and does not
 * stop the others. `offset` numbers objects without an id in messages.
 */
export function prepareObjects(
  objects: readonly unknown[],
  offset = 0,
): { prepared: PreparedObject[]; values: Record<string, unknown>[]; failures: SubmitFailure[] } {
  const prepared: PreparedObject[] = [];
  const values: Record<string, unknown>[] = [];
  const failures: SubmitFailure[] = [];
  objects.forEach((value, index) => {
    const result = validateObject(value);
    if (result.ok) {
      prepared.push(result.prepared);
      // A valid object is a plain JSON object whose JSON text is result.prepared.json.
      values.push(value as Record<string, unknown>);
      return;
    }
    failures.push({
      id: result.id ?? `objects[${offset + index}]`,
      version: result.version ?? '',
      message: describeProblems(result.problems),
      problems: result.problems,
    });
  });
  return { prepared, values, failures };
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
  const sharing = contribution ?? (await operatorContribution(store, collectionId));
  const result: SubmitResult = { successes: [], failures: [] };
  for (let start = 0; start < objects.length; start += SUBMIT_CHUNK) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    const chunk = objects.slice(start, start + SUBMIT_CHUNK);
    const validated = prepareObjects(chunk, offset + start);
    const shared = await applySharing(store, sharing, validated.prepared, validated.values);
    result.failures.push(...validated.failures, ...shared.failures);
    if (shared.accepted.length === 0) continue;

    const added = await store.addObjects(collectionId, shared.accepted);
    for (const { id, version, outcome, dateAdded } of added) {
      result.successes.push({ id, version, outcome, dateAdded });
    }
  }
  return result;
}
