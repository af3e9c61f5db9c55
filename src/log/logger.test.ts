/** Redaction of secrets in log lines. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger } from './logger.ts';

/** Logs one line with `fields` and returns it parsed. */
async function logged(fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  createLogger('info', sink).info(fields, 'line');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('logger redaction', () => {
  test('connector secrets are redacted', async () => {
    const line = await logged({
      connector: {
        id: 'c1',
        auth: { type: 'basic', username: 'reader', password: 'p4ssw0rd' },
        headers: { Authorization: 'misp-key', 'X-Api-Key': 'api-key' },
      },
      auth: { type: 'bearer', token: 'b34rer' },
      headers: { authorization: 'Bearer b34rer', 'x-other': 'h3ader' },
    });
    const text = JSON.stringify(line);
    for (const secret of ['p4ssw0rd', 'misp-key', 'api-key', 'b34rer', 'h3ader']) {
      assert.equal(text.includes(secret), false, `${secret} is redacted`);
    }
    const connector = line.connector as { id: string; auth: { username: string } };
    assert.equal(connector.id, 'c1');
    assert.equal(connector.auth.username, 'reader');
  });

  test('the secret key is redacted', async () => {
    const key = 'ab'.repeat(32);
    const line = await logged({ config: { connectors: { secretKey: key } }, secretKey: key });
    assert.equal(JSON.stringify(line).includes(key), false);
  });
});
