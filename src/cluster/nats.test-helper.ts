/**
 * The NATS server the tests use: CAIRN_TEST_NATS, else nats://127.0.0.1:4222. When it cannot
 * be reached, `natsAvailable` throws under CI=true, so CI fails instead of skipping, and
 * otherwise returns the reason for the tests to skip.
 */
import { connect } from '@nats-io/transport-node';

export const TEST_NATS_URL = process.env.CAIRN_TEST_NATS ?? 'nats://127.0.0.1:4222';

/** Returns false when NATS with JetStream is reachable, else the reason to skip. */
export async function natsAvailable(): Promise<false | string> {
  try {
    const connection = await connect({ servers: TEST_NATS_URL, timeout: 2_000 });
    try {
      const info = connection.info;
      if (!info?.jetstream)
        throw new Error('the server runs without JetStream (start it with -js)');
    } finally {
      await connection.close();
    }
    return false;
  } catch (error) {
    const reason = `NATS at ${TEST_NATS_URL} is not usable: ${(error as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`${reason} (CI requires it)`, { cause: error });
    return reason;
  }
}
