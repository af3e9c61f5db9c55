import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { runStoreSuite } from '../store.case.ts';
import { createTestDatabase } from './database.test-helper.ts';

const database = await createTestDatabase();
const skip = typeof database === 'string' ? database : false;

after(async () => {
  if (typeof database !== 'string') await database.drop();
});

if (typeof database !== 'string') {
  runStoreSuite('PostgresStore', () => database.openFresh());
}

describe('PostgresStore specifics', { skip }, () => {
  test('placeholder', () => {
    assert.ok(true);
  });
});
