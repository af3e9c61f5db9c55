/**
 * Table-driven test cases for the validator: each case names an object that must be
 * rejected with a rule on a property, or accepted.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateObject } from '../index.ts';
import type { StixObject } from './fixtures.ts';

export interface RejectCase {
  /** Short test name: the property or situation. */
  name: string;
  object: StixObject;
  rule: string;
  /** The property path the problem must name; omit for object-level problems. */
  property?: string;
}

export interface AcceptCase {
  name: string;
  object: StixObject;
}

/** Asserts that validation fails with `rule` on `property` and returns the problems. */
export function assertRejected(object: unknown, rule: string, property?: string): void {
  const result = validateObject(object);
  assert.equal(result.ok, false, `expected a ${rule} problem, but the object was accepted`);
  if (result.ok) return;
  const found = result.problems.some(
    (problem) => problem.rule === rule && (property === undefined || problem.property === property),
  );
  assert.ok(
    found,
    `expected rule ${rule} on ${property ?? '(object)'}, got ${JSON.stringify(result.problems, null, 1)}`,
  );
}

export function assertAccepted(object: unknown): void {
  const result = validateObject(object);
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.problems, null, 1));
}

/** Registers one test per case. */
export function rejectCases(cases: readonly RejectCase[]): void {
  for (const c of cases) {
    test(`${c.name} rejected`, () => assertRejected(c.object, c.rule, c.property));
  }
}

export function acceptCases(cases: readonly AcceptCase[]): void {
  for (const c of cases) {
    test(`${c.name} accepted`, () => assertAccepted(c.object));
  }
}
