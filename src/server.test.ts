import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { describeStore } from './server.ts';

describe('describeStore', () => {
  test('user and password removed', () => {
    assert.equal(
      describeStore('postgres://cairn:hunter2@db.example:5432/cairn'),
      'postgres://db.example:5432/cairn',
    );
    assert.equal(
      describeStore('postgresql://cairn@db.example/cairn'),
      'postgresql://db.example/cairn',
    );
  });

  test('password parameters masked', () => {
    const described = describeStore(
      'postgres://db.example/cairn?sslmode=require&password=hunter2&sslpassword=s3cret&sslkey=/k',
    );
    assert.equal(
      described,
      'postgres://db.example/cairn?sslmode=require&password=***&sslpassword=***&sslkey=***',
    );
    assert.doesNotMatch(described, /hunter2|s3cret/);
  });

  test('sqlite paths unchanged', () => {
    assert.equal(describeStore('sqlite:./data/cairn.db'), 'sqlite:./data/cairn.db');
    assert.equal(describeStore('/var/lib/cairn.db'), '/var/lib/cairn.db');
  });
});
