/**
 * Source reliability for scores: each connector's Admiralty grade, and a grade an admin may
 * set per organisation for what its users share (documents of kind `source-reliability`,
 * one per organisation id). An indicator takes the reliability of its most reliable known
 * source.
 */
import { CONNECTOR_DOCUMENT, connectorSource, type Connector } from '../connectors/definition.ts';
import { organisationSource } from '../correlation/indexer.ts';
import type { Store } from '../store/store.ts';
import { ADMIRALTY_RELIABILITY } from './score.ts';

export const RELIABILITY_DOCUMENT = 'source-reliability';

export const RELIABILITY_GRADES = ['A', 'B', 'C', 'D', 'E', 'F'] as const;
export type ReliabilityGrade = (typeof RELIABILITY_GRADES)[number];

export interface ReliabilityTable {
  /** The reliability of the most reliable of `sources`; empty when none is graded. */
  of(sources: ReadonlySet<string> | undefined): { reliability?: number };
}

/** Documents read per listing query. */
const PAGE = 500;

async function* allDocuments(store: Store, kind: string) {
  let afterId: string | undefined;
  for (;;) {
    const page = await store.listDocuments({
      kind,
      limit: PAGE,
      ...(afterId !== undefined ? { afterId } : {}),
    });
    yield* page;
    if (page.length < PAGE) return;
    afterId = page[page.length - 1]!.id;
  }
}

/** Loads every graded source once, for the length of one export or one request. */
export async function loadReliability(store: Store): Promise<ReliabilityTable> {
  const grades = new Map<string, number>();
  for await (const document of allDocuments(store, CONNECTOR_DOCUMENT)) {
    const connector = JSON.parse(document.body) as Connector;
    const value = ADMIRALTY_RELIABILITY[connector.reliability];
    if (value !== undefined) grades.set(connectorSource(connector.id), value);
  }
  for await (const document of allDocuments(store, RELIABILITY_DOCUMENT)) {
    const { grade } = JSON.parse(document.body) as { grade: ReliabilityGrade };
    const value = ADMIRALTY_RELIABILITY[grade];
    if (value !== undefined) grades.set(organisationSource(document.id), value);
  }
  return {
    of(sources) {
      let best: number | undefined;
      for (const source of sources ?? []) {
        const value = grades.get(source);
        if (value !== undefined && (best === undefined || value > best)) best = value;
      }
      return best === undefined ? {} : { reliability: best };
    },
  };
}

/** Sets the grade of an organisation's contributions. */
export async function setOrganisationReliability(
  store: Store,
  organisationId: string,
  grade: ReliabilityGrade,
): Promise<void> {
  await store.putDocument({
    kind: RELIABILITY_DOCUMENT,
    id: organisationId,
    body: JSON.stringify({ grade }),
  });
}
