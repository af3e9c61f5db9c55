/**
 * STIX 2.1 identity objects (STIX 2.1 section 4.5) for organisations and communities.
 */
import { randomUUID } from 'node:crypto';

export interface IdentityInput {
  name: string;
  /** `organization` for an organisation, `group` for a community (STIX 2.1 vocabulary 10.7). */
  identityClass: 'organization' | 'group';
  description?: string;
  sectors?: string[];
  contactInformation?: string;
  /** Creation time as a STIX timestamp; defaults to now. */
  created?: string;
}

/** Builds a new identity object with a fresh id, ready to serialise. */
export function buildIdentity(input: IdentityInput): Record<string, unknown> {
  const created = input.created ?? new Date().toISOString();
  return {
    type: 'identity',
    spec_version: '2.1',
    id: `identity--${randomUUID()}`,
    created,
    modified: created,
    name: input.name,
    ...(input.description ? { description: input.description } : {}),
    identity_class: input.identityClass,
    ...(input.sectors && input.sectors.length > 0 ? { sectors: input.sectors } : {}),
    ...(input.contactInformation ? { contact_information: input.contactInformation } : {}),
  };
}
