/**
 * Watch lists, their entries, alerts and retro-hunt jobs as stored: each is a store document
 * (see DocumentRecord) whose body is the JSON of the types below.
 *
 * - kind `watchlist`: id = list id, owner = the owning organisation (also for lists a user
 *   owns, so one query finds every list an organisation's users may see);
 * - kind `alert`: owner = watch list id, key = `<entry id>|<object id>`, so there is one
 *   alert per entry and object, updated when a new version of the object arrives;
 * - kinds `alert-log` and `alert-log-head`: every change of a list's alerts in order, for
 *   alert streams and webhooks (see alert-log.ts);
 * - kind `watch-hunt`: a retro-hunt job, owner = watch list id, claimed through `due`;
 * - kind `watch-state`: the event log checkpoint and the generation that tells every node to
 *   reload changed lists.
 */
import type { HashAlgorithm } from '../normalise/index.ts';
import type { TlpLevel } from '../store/store.ts';

export const WATCHLIST_KIND = 'watchlist';
export const ALERT_KIND = 'alert';
export const HUNT_KIND = 'watch-hunt';
export const STATE_KIND = 'watch-state';

/** Most entries one list holds; a bigger set is split over several lists. */
export const MAX_ENTRIES_PER_LIST = 50_000;
/** Most lists one organisation (its own and its users' together) holds. */
export const MAX_LISTS_PER_ORGANISATION = 10_000;
/** Most values in one field of an object filter. */
export const MAX_FILTER_VALUES = 100;
/** Longest STIX pattern of an entry, in characters. */
export const MAX_PATTERN_LENGTH = 10_000;

/** The observable kinds of src/normalise that an entry watches. */
export const VALUE_ENTRY_TYPES = ['ip', 'cidr', 'domain', 'url', 'email', 'hash', 'asn'] as const;
export type ValueEntryType = (typeof VALUE_ENTRY_TYPES)[number];

/**
 * What an object must have for a filter entry to match it. Fields are ANDed, the values of
 * one field ORed; text compares without regard to case.
 */
export interface ObjectFilter {
  /** STIX object types, such as `malware`. */
  types?: string[];
  /** Values of the object's `labels`. */
  labels?: string[];
  /** Values of the object's `sectors` (identities), from the STIX industry-sector vocabulary. */
  sectors?: string[];
  /** Names or aliases of malware, intrusion sets and campaigns. */
  names?: string[];
  /** Kill-chain phases: `phase` or `kill-chain-name:phase`. */
  killChainPhases?: string[];
  /** CVE ids of vulnerabilities, such as `CVE-2021-44228`. */
  cves?: string[];
  /** TLP levels of the version (any of them). */
  tlp?: TlpLevel[];
  /** Ids of the communities whose collections hold the version. */
  communities?: string[];
  /** Lowest `confidence` (0 to 100); objects without one do not match. */
  minConfidence?: number;
}

interface EntryBase {
  id: string;
  comment?: string;
  /** Microseconds since the epoch. */
  addedAt: number;
}

export type ValueEntry = EntryBase & {
  type: ValueEntryType;
  /** The value as src/normalise writes it: `192.0.2.0/24`, `AS64500`, lower-case hex. */
  value: string;
  /** For `domain`: also every subdomain. */
  subdomains?: boolean;
  /** For `hash`: the algorithm the value was given or guessed as. */
  algorithm?: HashAlgorithm;
};

export type PatternEntry = EntryBase & { type: 'pattern'; pattern: string };
export type FilterEntry = EntryBase & { type: 'filter'; filter: ObjectFilter };
export type WatchEntry = ValueEntry | PatternEntry | FilterEntry;

export type OwnerType = 'user' | 'organisation';

/**
 * `private`: only the owning user sees the list and its alerts. `organisation`: every user
 * of the organisation sees them. Lists an organisation owns are always `organisation`.
 */
export type Visibility = 'private' | 'organisation';

export interface WatchList {
  id: string;
  name: string;
  description?: string;
  ownerType: OwnerType;
  /** The owning user's id, for `ownerType: user`. */
  ownerUserId?: string;
  organisationId: string;
  visibility: Visibility;
  /** A disabled list raises no alerts and runs no retro-hunt. */
  enabled: boolean;
  entries: WatchEntry[];
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export type AlertState = 'open' | 'acknowledged';

/** What made an entry match an object. */
export interface MatchDetail {
  /**
   * `value`: an observable of the object (an SCO, or one inside observed-data) equals or
   * falls under a watched value; `indicator`: an indicator's pattern mentions a watched
   * value; `pattern`: a watched STIX pattern matched the object; `filter`: the object passed
   * a watched object filter.
   */
  kind: 'value' | 'indicator' | 'pattern' | 'filter';
  /** How a value met the watched one: exact, subdomain, cidr, url-host, email-domain. */
  how?: string;
  /** The watched value, pattern or filter summary. */
  watched: string;
  /** The object's value that matched, for value and indicator matches. */
  value?: string;
  /** Where in the object the value sits: an object path such as `objects.'0'.value`. */
  path?: string;
}

export interface Alert {
  id: string;
  watchlistId: string;
  entryId: string;
  objectId: string;
  objectType: string;
  /** The object's `name` when it has one, for display. */
  objectName?: string;
  /** The version (`modified`, else `created`) that last matched. */
  version: string;
  revoked: boolean;
  /** Present and true when that version is an indicator whose `valid_until` had passed. */
  expired?: boolean;
  /** The collection the matching version arrived in. */
  collectionId: string;
  match: MatchDetail;
  /** 0 to 100, higher first; see priority.ts. */
  priority: number;
  severity: 'low' | 'medium' | 'high' | 'critical';
  /** Collections holding the object that the list's owner may see. */
  sources: number;
  confidence?: number;
  tlp: TlpLevel[];
  state: AlertState;
  /** How many versions of the object have matched. */
  versions: number;
  /** `live` for the event log follower, `retro-hunt` for a job over stored data. */
  origin: 'live' | 'retro-hunt';
  createdAt: number;
  updatedAt: number;
  acknowledgedBy?: string;
  acknowledgedAt?: number;
}

export type HuntState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/**
 * How far a retro-hunt got in one collection. The steps, each skipped when the list needs
 * none: `keys` checks the objects that the key index finds for value entries, `tail`
 * checks for value entries the versions added after the index's mark, and `scan` reads
 * the types that pattern and filter entries need.
 */
export interface HuntPosition {
  id: string;
  /** The date_added of the last version read by the `tail` or `scan` step. */
  addedAfter: number;
  done: boolean;
  /** Absent in jobs written before steps existed: the collection then starts again. */
  step?: 'keys' | 'tail' | 'scan';
  /** The collection's key index mark when the job started (microseconds). */
  keysUpTo?: number;
  /** The `keys` step: the number of the key query it is at, and the last row checked. */
  keyQuery?: number;
  afterKey?: string;
  afterObjectId?: string;
}

/** A retro-hunt of one watch list over stored data, resumable after a stop. */
export interface HuntJob {
  id: string;
  watchlistId: string;
  /** The list revision the job hunts with. */
  listRevision: number;
  state: HuntState;
  /** Collections to hunt in, with how far each got. */
  collections: HuntPosition[];
  scanned: number;
  matched: number;
  alerts: number;
  /** True when the job stopped creating alerts at the per-job limit. */
  truncated: boolean;
  error?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  updatedAt: number;
}
