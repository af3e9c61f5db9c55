/**
 * The bulk path of converted imports: objects that Cairn's own list converters built
 * (plain-text lists, free text and CSV, see formats/text.ts, freetext.ts and csv.ts) are
 * stored through Store.addConverted instead of the validate-and-store path of a TAXII POST.
 *
 * Why the full STIX validation is skipped for them: every such object is an SCO made by
 * toSco or an indicator made by toIndicator (src/normalise/stix.ts) from a value that a
 * normaliser accepted, so that code fixes its structure. The converter tests in
 * formats/lists.test.ts run every object they produce through validateObject. The full
 * path validates each object again, parses its JSON again for the sharing rules and
 * queries the re-share rule per object. In bench/import-text.ts that costs 20 to 30 µs of
 * CPU time per line more than this path (runs under load, so an estimate), which is more
 * than converting the line takes. What is cheap is still checked here: the shape of ids,
 * types, spec_version and timestamps. An object that fails those checks goes through
 * submitObjects, which validates it in full and reports why it is rejected. Objects from
 * outside (TAXII, bundles, the STIX, STIX 1 and MISP converters, which carry the source's
 * own content) always take submitObjects.
 */
import { audienceOf } from '../sharing/markings.ts';
import { applySharing, type Contribution } from '../sharing/share.ts';
import type { EntrySharing, PreparedObject, Store, TlpLevel } from '../store/store.ts';
import { type ConvertedRow, toConvertedRow } from './converted-rows.ts';
import {
  SUBMIT_CHUNK,
  operatorContribution,
  submitObjects,
  type SubmitFailure,
  type SubmitResult,
} from './submit.ts';

export { type ConvertedRow, prepareConverted, toConvertedRow } from './converted-rows.ts';

/** TLP of versions in a collection that no community owns, as the sharing step sets it. */
const NO_COMMUNITY_TLP: TlpLevel = 'green';

/**
 * The sharing facts of converted objects in one batch, computed as applySharing does but
 * from the TLP levels of their markings instead of their JSON. Objects with the same TLP
 * levels share one EntrySharing, so the store serialises it once per run of them.
 */
class SharingFacts {
  readonly #contribution: Contribution;
  readonly #byKey = new Map<string, EntrySharing>();

  constructor(contribution: Contribution) {
    this.#contribution = contribution;
  }

  /**
   * Returns the facts of an object whose markings name the TLP levels `marked`, or
   * undefined when only applySharing can decide them.
   */
  of(marked: readonly TlpLevel[], granular: boolean): EntrySharing | undefined {
    const { community, contributor, anonymous } = this.#contribution;
    // Anonymous shares rewrite created_by_ref, and RED needs its recipients checked.
    if (anonymous) return undefined;
    const tlp = marked.length > 0 ? [...marked] : [community?.defaultTlp ?? NO_COMMUNITY_TLP];
    const key = `${tlp.join(',')}|${granular}`;
    let sharing = this.#byKey.get(key);
    if (sharing === undefined) {
      const audience = audienceOf(tlp);
      if (audience === 'recipients') return undefined;
      sharing = {
        tlp,
        audience,
        recipients: [],
        recipientsWithin: audienceOf(tlp.filter((level) => level !== 'red')),
        granularMarkings: granular,
        ...(contributor
          ? {
              contributorId: contributor.userId,
              contributorOrganisationId: contributor.organisationId,
            }
          : {}),
      };
      this.#byKey.set(key, sharing);
    }
    return sharing;
  }
}

/**
 * Stores a batch of objects that Cairn's list converters built, with the same outcome per
 * object as submitObjects would report. Without a contribution the batch is an operator's
 * import. Objects that fail the cheap checks, and those whose sharing needs the full rules
 * (anonymous shares, TLP:RED), go through submitObjects in a transaction of their own.
 *
 * The others are stored in one transaction per `chunkSize` objects. Between transactions
 * the event loop runs other work, so the default of SUBMIT_CHUNK keeps a server as
 * responsive as submitObjects does. As there, a store error can leave the first chunks of
 * a batch stored.
 */
export async function submitConverted(
  store: Store,
  collectionId: string,
  objects: readonly unknown[],
  offset = 0,
  contribution?: Contribution,
  chunkSize = SUBMIT_CHUNK,
): Promise<SubmitResult> {
  const rows = objects.map(toConvertedRow);
  return submitConvertedRows(store, collectionId, rows, offset, contribution, chunkSize);
}

/**
 * Stores converted objects that toConvertedRow already prepared, as submitConverted does.
 * The conversion worker prepares them, so the main thread only stores.
 */
export async function submitConvertedRows(
  store: Store,
  collectionId: string,
  rows: readonly ConvertedRow[],
  offset = 0,
  contribution?: Contribution,
  chunkSize = SUBMIT_CHUNK,
): Promise<SubmitResult> {
  const sharing = contribution ?? (await operatorContribution(store, collectionId));
  const facts = new SharingFacts(sharing);
  const bulk: PreparedObject[] = [];
  const special: PreparedObject[] = [];
  const unchecked: number[] = [];
  const result: SubmitResult = { successes: [], failures: [] };
  for (const [index, row] of rows.entries()) {
    if ('unchecked' in row) {
      unchecked.push(index);
      continue;
    }
    const entrySharing = facts.of(row.tlp, row.granular);
    if (entrySharing === undefined) special.push(row.prepared);
    else bulk.push({ ...row.prepared, sharing: entrySharing });
  }

  if (special.length > 0) {
    const shared = await applySharing(store, sharing, special);
    result.failures.push(...shared.failures);
    bulk.push(...shared.accepted);
  }
  for (let start = 0; start < bulk.length; start += chunkSize) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    const added = await store.addConverted(collectionId, bulk.slice(start, start + chunkSize));
    for (const { id, version, outcome, dateAdded } of added.results) {
      result.successes.push({ id, version, outcome, dateAdded });
    }
    for (const { id, version, message } of added.rejected) {
      result.failures.push(rejection(id, version, message));
    }
  }
  // One call each, so a failure without an id is named by its place in the input. Cairn's
  // converters make no such objects, so these calls are rare.
  for (const index of unchecked) {
    const checked = await submitObjects(
      store,
      collectionId,
      [(rows[index] as { unchecked: unknown }).unchecked],
      offset + index,
      sharing,
    );
    result.successes.push(...checked.successes);
    result.failures.push(...checked.failures);
  }
  return result;
}

function rejection(id: string, version: string, message: string): SubmitFailure {
  return { id, version, message, problems: [] };
}
