/**
 * `GET /api/v1/health`: whether this node can serve, for load balancers and orchestrators.
 * It needs no credentials and reports only states, never addresses or counts.
 *
 * - 200 when the store responds. NATS being down keeps 200 with `"nats": "disconnected"`,
 *   because the node still serves every request and catches up by polling the store.
 * - 503 with `Retry-After` when the store does not respond within STORE_TIMEOUT_MS, so the
 *   balancer sends requests to other nodes until this one reaches its store again.
 *
 * A result is reused for CACHE_MS, so frequent checks from several balancers cost the store
 * at most one query per interval.
 */
import type { NatsNotifierState } from '../events/nats-notifier.ts';
import type { EventNotifier } from '../events/notifier.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';

export const HEALTH_PATH = '/api/v1/health';

const STORE_TIMEOUT_MS = 2_000;
const CACHE_MS = 1_000;
const RETRY_AFTER_SECONDS = 5;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  store: 'ok' | 'unavailable';
  /** `local` when the node runs without NATS. */
  nats: 'local' | 'connecting' | 'connected' | 'disconnected' | 'closed';
}

/** Returns the handler of the health path. */
export function healthCheck(
  store: Store,
  notifier: EventNotifier,
  logger: Logger,
): () => Promise<Response> {
  let cached: { at: number; storeOk: boolean } | undefined;
  let failing = false;

  const storeResponds = async (): Promise<boolean> => {
    const now = Date.now();
    if (cached && now - cached.at < CACHE_MS) return cached.storeOk;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('the store query timed out')), STORE_TIMEOUT_MS);
    });
    let storeOk: boolean;
    try {
      await Promise.race([store.eventBounds(), timeout]);
      storeOk = true;
      if (failing) logger.info('health check: the store responds again');
      failing = false;
    } catch (error) {
      storeOk = false;
      if (!failing) logger.warn({ err: error }, 'health check: the store is unavailable');
      failing = true;
    } finally {
      clearTimeout(timer);
    }
    cached = { at: Date.now(), storeOk };
    return storeOk;
  };

  return async () => {
    const storeOk = await storeResponds();
    const report: HealthReport = {
      status: storeOk ? 'ok' : 'unavailable',
      store: storeOk ? 'ok' : 'unavailable',
      nats: 'state' in notifier ? (notifier as { state: NatsNotifierState }).state : 'local',
    };
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
    };
    if (!storeOk) headers['Retry-After'] = String(RETRY_AFTER_SECONDS);
    return new Response(JSON.stringify(report), { status: storeOk ? 200 : 503, headers });
  };
}
