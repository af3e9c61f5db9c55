/**
 * Status resources (TAXII 2.1 section 4.3). Only the user who made the request, or an
 * admin, may read a status; anyone else gets the same 404 as for an unknown id.
 */
import type { Hono } from 'hono';
import { tokenAllows } from '../../auth/tokens.ts';
import { microsToTaxii } from '../../stix/timestamp.ts';
import type { StatusRecord } from '../../store/store.ts';
import { type TaxiiEnv, fail, taxiiJson } from '../context.ts';

export function statusResource(status: StatusRecord) {
  return {
    id: status.id,
    status: status.status,
    request_timestamp: microsToTaxii(status.requestTimestamp),
    total_count: status.totalCount,
    success_count: status.successCount,
    failure_count: status.failureCount,
    pending_count: status.pendingCount,
    ...(status.successes.length > 0 ? { successes: status.successes } : {}),
    ...(status.failures.length > 0 ? { failures: status.failures } : {}),
    ...(status.pendings.length > 0 ? { pendings: status.pendings } : {}),
  };
}

export function registerStatus(app: Hono<TaxiiEnv>): void {
  app.get('/:root/status/:status', async (c) => {
    const { caller, deps } = c.var;
    const rootName = c.req.param('root');
    const id = c.req.param('status');
    const status = await deps.store.getStatus(rootName, id);
    // The poster reads its own status with any token, since polling follows a write. A
    // platform admin reads others' statuses only with a token that may read.
    const mayRead =
      status &&
      (status.ownerId === caller.user.id ||
        (caller.user.role === 'platform-admin' && tokenAllows(caller.token, 'read')));
    if (!status || !mayRead)
      fail('not-found', `status "${id}" not found (statuses are kept for at least 24 hours)`);
    return taxiiJson(200, statusResource(status));
  });
}
