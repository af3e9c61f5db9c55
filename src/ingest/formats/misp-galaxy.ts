/**
 * MISP galaxy clusters as STIX domain objects: ATT&CK patterns, threat actors, intrusion
 * sets, malware families and tools. A cluster keeps its uuid, so the same cluster from
 * two events is one object.
 */
import { isUuid } from '../../stix/ids.ts';
import type { StixObject } from '../../normalise/index.ts';
import { stableUuid } from './ids.ts';
import type { MispRecord } from './misp-reader.ts';

/**
 * `created` and `modified` of objects made from galaxy clusters and MISP organisations.
 * Neither has a timestamp of its own, and a fixed one keeps one object per cluster
 * instead of a new version for every event that cites it.
 */
export const MISP_REFERENCE_TIME = '2012-01-01T00:00:00.000Z';

/** STIX type of a cluster, by its galaxy's type; undefined when Cairn has no mapping. */
export function galaxyStixType(galaxyType: string): string | undefined {
  const type = galaxyType.toLowerCase();
  if (type.includes('attack-pattern') || type === 'mitre-pre-attack-attack-pattern')
    return 'attack-pattern';
  if (type.includes('intrusion-set') || type === 'microsoft-activity-group') return 'intrusion-set';
  if (type === 'threat-actor') return 'threat-actor';
  if (type.includes('tool')) return 'tool';
  if (
    /malware|malpedia|android|banker|botnet|ransomware|rat|stealer|backdoor|exploit-kit/.test(type)
  )
    return 'malware';
  return undefined;
}

const ATTACK_ID = /^(T[0-9]{4}(?:\.[0-9]{3})?)$/;

function strings(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return typeof value === 'string' ? [value] : [];
}

/** Builds the SDO of one cluster, or returns undefined when its galaxy type has no mapping. */
export function clusterObject(galaxyType: string, cluster: MispRecord): StixObject | undefined {
  const type = galaxyStixType(galaxyType);
  const value = typeof cluster.value === 'string' ? cluster.value.trim() : '';
  if (!type || value === '') return undefined;
  const uuid =
    typeof cluster.uuid === 'string' && isUuid(cluster.uuid)
      ? cluster.uuid.toLowerCase()
      : stableUuid(`misp-galaxy\n${galaxyType}\n${value}`);
  const meta = (cluster.meta ?? {}) as MispRecord;

  const object: StixObject = {
    type,
    spec_version: '2.1',
    id: `${type}--${uuid}`,
    created: MISP_REFERENCE_TIME,
    modified: MISP_REFERENCE_TIME,
    name: value,
  };
  if (typeof cluster.description === 'string' && cluster.description.trim())
    object.description = cluster.description;

  const references: Array<Record<string, string>> = [];
  if (type === 'attack-pattern') {
    // ATT&CK clusters are named "Phishing - T1566" and carry the id in meta.external_id.
    const [, named, id] = /^(.*?) - (T[0-9]{4}(?:\.[0-9]{3})?)$/.exec(value) ?? [];
    if (named) object.name = named;
    const ids = new Set([
      ...strings(meta.external_id).filter((item) => ATTACK_ID.test(item)),
      ...(id ? [id] : []),
    ]);
    for (const externalId of ids)
      references.push({ source_name: 'mitre-attack', external_id: externalId });
  }
  for (const url of strings(meta.refs).slice(0, 10)) {
    if (/^https?:\/\//.test(url)) references.push({ source_name: 'misp-galaxy', url });
  }
  if (references.length > 0) object.external_references = references;

  const synonyms = strings(meta.synonyms).filter((name) => name !== object.name);
  if (
    synonyms.length > 0 &&
    (type === 'threat-actor' || type === 'intrusion-set' || type === 'malware' || type === 'tool')
  ) {
    object.aliases = synonyms;
  }
  if (type === 'malware') object.is_family = true;
  return object;
}
