/**
 * Paging shared by the objects, manifest, get-an-object and versions endpoints
 * (TAXII 2.1 sections 3.4 and 3.5): `limit`, `more`, signed `next` tokens, and the
 * X-TAXII-Date-Added-First/Last headers.
 */
import { microsToTaxii } from '../stix/timestamp.ts';
import type { Page } from '../store/store.ts';
import { type TaxiiContext, fail } from './context.ts';
import type { CursorScope } from './cursor.ts';
import type { ObjectFilters } from './params.ts';

/**
 * Returns the date_added to continue after: the later of `added_after` and the position
 * in `next`. A `next` made for another query, caller or endpoint is rejected.
 */
export function startAfter(
  c: TaxiiContext,
  filters: ObjectFilters,
  resource: string,
): { addedAfter: number | undefined; scope: CursorScope } {
  const scope: CursorScope = {
    resource,
    userId: c.var.caller.user.id,
    query: filters.canonicalQuery,
  };
  let addedAfter = filters.addedAfter;
  if (filters.next !== undefined) {
    const position = c.var.deps.signer.decode(filters.next, scope);
    if (position === undefined) {
      fail(
        'invalid-parameter',
        `next=${JSON.stringify(filters.next.slice(0, 100))} is not valid for this request: repeat the original query parameters unchanged, or start again without next`,
        { parameter: 'next' },
      );
    }
    addedAfter = addedAfter === undefined ? position : Math.max(addedAfter, position);
  }
  return { addedAfter, scope };
}

export interface PageOutput {
  /** `"more":…,"next":…` members, without braces, ready to join into the envelope. */
  members: string[];
  headers: Record<string, string>;
}

/** The envelope members and headers for a page of items carrying date_added. */
export function pageOutput(
  c: TaxiiContext,
  page: Page<{ dateAdded: number }>,
  scope: CursorScope,
): PageOutput {
  const members = [`"more":${page.more}`];
  const headers: Record<string, string> = {};
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  if (page.more && last) {
    members.push(`"next":${JSON.stringify(c.var.deps.signer.encode(last.dateAdded, scope))}`);
  }
  if (first && last) {
    headers['X-TAXII-Date-Added-First'] = microsToTaxii(first.dateAdded);
    headers['X-TAXII-Date-Added-Last'] = microsToTaxii(last.dateAdded);
  }
  return { members, headers };
}
