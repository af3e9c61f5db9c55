import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { idHash } from './id-hash.ts';

describe('idHash', () => {
  // Stored databases contain these values, so a change here needs a migration.
  const pinned: [string, number][] = [
    ['indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', 42771414457965],
    ['x', 161630080632610],
    ['', 183248065207234],
    ['identity--ключ-😀', 191208697485247],
  ];

  for (const [id, expected] of pinned) {
    test(`pinned value of ${JSON.stringify(id)}`, () => {
      assert.equal(idHash(id), expected);
    });
  }

  test('48-bit non-negative integer', () => {
    for (let n = 0; n < 10_000; n++) {
      const hash = idHash(`indicator--00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`);
      assert.ok(Number.isSafeInteger(hash), `${hash} is not an integer`);
      assert.ok(hash >= 0, `${hash} is negative`);
      assert.ok(hash < 2 ** 48, `${hash} needs more than 48 bits`);
    }
  });

  test('near ids spread apart', () => {
    const hashes = new Set<number>();
    for (let n = 0; n < 100_000; n++) hashes.add(idHash(`indicator--${n}`));

    assert.equal(hashes.size, 100_000);
  });
});
