/**
 * Helpers shared by the object routes: the object id in the path and the version string
 * a client sees.
 */
import { microsToTaxii } from '../../stix/timestamp.ts';
import type { StoredVersion } from '../../store/store.ts';
import { type TaxiiContext, fail } from '../context.ts';
import { ID_PATTERN } from '../params.ts';

export function objectIdParam(c: TaxiiContext): string {
  const id = c.req.param('object') ?? '';
  if (!ID_PATTERN.test(id)) {
    fail(
      'invalid-parameter',
      `${JSON.stringify(id.slice(0, 200))} is not a STIX identifier such as indicator--<UUID>`,
    );
  }
  return id;
}

/**
 * The version a client sees. An object without `modified` or `created` (most SCOs) has
 * no version of its own, so the server uses the time it was added, which stays the same
 * for that entry (sections 3.4.1 and 5.3.1 leave the value to the server).
 */
export function visibleVersion(item: Pick<StoredVersion, 'version' | 'dateAdded'>): string {
  return item.version !== '' ? item.version : microsToTaxii(item.dateAdded);
}
