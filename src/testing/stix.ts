/**
 * Builders of minimal valid STIX 2.1 objects for tests.
 */
import { randomUUID } from 'node:crypto';

export type StixFixture = Record<string, unknown> & { id: string; type: string };

let counter = 0;

/** An indicator; pass `modified` to make another version of the same id. */
export function indicator(overrides: Partial<StixFixture> = {}): StixFixture {
  counter += 1;
  const created = (overrides.created as string | undefined) ?? '2024-01-01T00:00:00.000Z';
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${randomUUID()}`,
    created,
    modified: created,
    name: `test indicator ${counter}`,
    pattern: `[domain-name:value = 'host${counter}.example.com']`,
    pattern_type: 'stix',
    valid_from: created,
    indicator_types: ['malicious-activity'],
    ...overrides,
  };
}

export function malware(overrides: Partial<StixFixture> = {}): StixFixture {
  counter += 1;
  return {
    type: 'malware',
    spec_version: '2.1',
    id: `malware--${randomUUID()}`,
    created: '2024-01-01T00:00:00.000Z',
    modified: '2024-01-01T00:00:00.000Z',
    name: `test malware ${counter}`,
    is_family: true,
    ...overrides,
  };
}

/** The versions of one object, `count` of them, one day apart. */
export function versions(base: StixFixture, count: number): StixFixture[] {
  const start = Date.parse(base.created as string);
  return Array.from({ length: count }, (_, index) => ({
    ...base,
    modified: new Date(start + index * 86_400_000).toISOString(),
  }));
}
