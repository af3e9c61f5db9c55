/**
 * The leak suite: builds a generated world in a real server over a temporary SQLite store
 * and compares every read path, for every token, against the oracle of docs/sharing.md.
 * CI runs one fixed seed; `LEAK_SEED=n npm test` explores another world.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../testing/server.ts';
import { buildWorld } from './build.ts';
import { checkWorld } from './check.ts';
import { formatFindings } from './findings.ts';
import { DEFAULT_SIZE, generateWorld } from './generate.ts';

const FIXED_SEED = 20261204;
const seed = process.env.LEAK_SEED === undefined ? FIXED_SEED : Number(process.env.LEAK_SEED);

describe('leak suite', () => {
  test(`no leak in world ${seed}`, async () => {
    assert.ok(
      Number.isSafeInteger(seed),
      `LEAK_SEED must be an integer, got ${process.env.LEAK_SEED}`,
    );
    const server = await startTestServer({ taxii: { pageSize: 1000 } });
    try {
      const world = generateWorld(seed, DEFAULT_SIZE);
      const built = await buildWorld(server, world);
      const findings = await checkWorld(server, built);
      assert.equal(
        findings.length,
        0,
        `world ${seed}: ${findings.length} findings (caller | path | object | rule | detail)\n${formatFindings(findings)}`,
      );
    } finally {
      await server.dispose();
    }
  });
});
