/**
 * Facts of a sharing world: organisations, users, tokens, communities, collections and the
 * ordered share attempts and charter changes. The generator writes these facts, a builder
 * turns them into a running Cairn, and the oracle derives from them alone what every
 * caller may see, following docs/sharing.md.
 */

/** The TLP 2.0 levels of docs/sharing.md; TLP 1.0 markings map onto them. */
export type Tlp = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red';

/** A community's default TLP: never `red`. */
export type DefaultTlp = Exclude<Tlp, 'red'>;

export type UserRole = 'platform-admin' | 'org-admin' | 'analyst' | 'read-only';

export type TokenScope = 'read' | 'write' | 'admin';

/** Marking definition ids: TLP 2.0 and TLP 1.0, as OASIS publishes them. */
export const TLP_IDS = {
  clear: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
  green: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
  amber: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
  'amber+strict': 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
  red: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1',
} as const satisfies Record<Tlp, string>;

/** TLP 1.0 marking definition ids (STIX 2.1 section 7.2.1.4) and the TLP 2.0 level each maps to. */
export const TLP_1_IDS = {
  white: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  green: 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  amber: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  red: 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
} as const;

const LEVEL_BY_MARKING_ID: ReadonlyMap<string, Tlp> = new Map<string, Tlp>([
  ...Object.entries(TLP_IDS).map(([level, id]) => [id, level as Tlp] as const),
  [TLP_1_IDS.white, 'clear'],
  [TLP_1_IDS.green, 'green'],
  [TLP_1_IDS.amber, 'amber'],
  [TLP_1_IDS.red, 'red'],
]);

/** Maps a marking definition id to its TLP 2.0 level; undefined for any other marking. */
export function tlpOfMarking(markingId: string): Tlp | undefined {
  return LEVEL_BY_MARKING_ID.get(markingId);
}

export type StixObject = Record<string, unknown> & {
  type: string;
  id: string;
  modified: string;
};

export interface OrganisationFact {
  key: string;
  name: string;
  /** Keys of this organisation's client organisations (provider → client). */
  clients: string[];
}

export interface UserFact {
  key: string;
  organisation: string;
  role: UserRole;
  disabled: boolean;
}

export interface TokenFact {
  key: string;
  user: string;
  /** An empty list means no narrowing: the token has all of its user's rights. */
  scopes: TokenScope[];
  state: 'active' | 'revoked' | 'expired';
}

export interface CharterFact {
  defaultTlp: DefaultTlp;
  allowAnonymous: boolean;
  publishClear: boolean;
}

export interface CommunityFact {
  key: string;
  name: string;
  description: string;
  /** The charter when the community is created; charter events change it later. */
  charter: CharterFact;
  /** Keys of member organisations. */
  members: string[];
  /** Keys of moderator users (users of member organisations). */
  moderators: string[];
  /** The community's STIX identity id; the builder fills it in from the implementation. */
  identityId: string;
}

export interface CollectionFact {
  key: string;
  community: string;
  title: string;
}

/** One attempt to add an object version to a collection. */
export interface ShareEvent {
  kind: 'share';
  collection: string;
  /** The user whose token posts it. */
  contributor: string;
  /** TAXII POST, or the JSON sharing API (the only way to name RED recipients). */
  via: 'taxii' | 'api';
  anonymous: boolean;
  /** User keys named as RED recipients. */
  recipients: string[];
  object: StixObject;
  /** Outcome of the attempt when the builder ran it; the oracle counts only accepted shares. */
  outcome?: 'accepted' | 'rejected';
}

/** A charter change applied between shares. */
export interface CharterEvent {
  kind: 'charter';
  community: string;
  change: Partial<CharterFact>;
}

export type WorldEvent = ShareEvent | CharterEvent;

export interface World {
  seed: number;
  organisations: OrganisationFact[];
  users: UserFact[];
  tokens: TokenFact[];
  communities: CommunityFact[];
  collections: CollectionFact[];
  events: WorldEvent[];
}

/**
 * A small seeded pseudo-random generator (mulberry32). It is written here rather than
 * taken from a package so that the leak suite adds no dependency to the project.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Returns a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Returns an integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('cannot pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Returns `count` distinct items in random order (fewer when the list is shorter). */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, Math.max(0, count));
  }

  /** Returns a random version 4 UUID. */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(0, 15).toString(16));
    hex[12] = '4';
    hex[16] = '89ab'[this.int(0, 3)] as string;
    const s = hex.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }
}
