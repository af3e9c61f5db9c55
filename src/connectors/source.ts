/**
 * The contract between the connector runner and each kind of source. A source reads its
 * input from where the previous run stopped (its checkpoint) and yields batches of STIX
 * objects, each with the checkpoint to store once the batch is committed. A crash between
 * the commit and the checkpoint write makes the next run read that batch again, which only
 * yields duplicates.
 */
import type { WarninglistLookup } from '../ingest/formats/index.ts';
import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';
import type { Connector } from './definition.ts';
import type { PrivateTargets } from './http.ts';

/** An input record that could not become a STIX object, with the reason. */
export interface SourceRejection {
  /** Where it was: a line number, an event uuid, `objects[3]`. */
  id: string;
  message: string;
  /** A short code counted in the health: `csv-row`, `misp-attribute`, `missing-event`. */
  rule: string;
}

export interface SourceBatch {
  objects: unknown[];
  /** Input records that gave no object, each counted once. */
  rejections?: SourceRejection[];
  /**
   * Records a converter left out, counted per reason; `examples` give some of their
   * messages and are not counted again.
   */
  rejectedCounts?: { byReason: Record<string, number>; examples: SourceRejection[] };
  /**
   * Objects the source read but left out because the store already contains them as they are
   * (see list-snapshot.ts); counted in objectsIn and as duplicates.
   */
  unchanged?: number;
  /** Input records read besides `objects`, for the health's objectsIn. */
  recordsRead?: number;
  /** The source applied the warning-list policy itself (the converters do). */
  warningListsApplied?: boolean;
  /**
   * Cairn's list converters built every object (see Conversion.bulk), so the runner stores
   * the batch through the bulk path of src/ingest/converted.ts.
   */
  bulk?: boolean;
  /** Problems that did not stop the run, such as a MISP event missing from its feed. */
  warnings?: string[];
  /** The checkpoint that holds once this batch is stored; JSON-serialisable. */
  checkpoint: unknown;
}

export interface SourceContext {
  connector: Connector;
  /** The checkpoint stored after the last committed batch, or undefined on a first run. */
  checkpoint: unknown;
  signal: AbortSignal;
  logger: Logger;
  /** Warning lists for converters, under the connector's policy. */
  warninglists?: WarninglistLookup;
  /**
   * Reach of the run's requests to loopback, private and other non-public addresses:
   * everywhere when `connectors.allowPrivateTargets` is set, and at the origin of the
   * connector's url when a platform admin gave it (Connector.urlSetBy).
   */
  allowPrivateTargets?: PrivateTargets;
  /**
   * The store the run writes to, for sources that compare what they read with what is
   * stored (see list-snapshot.ts). Without it a list source stores every object it reads
   * and expires nothing.
   */
  store?: Store;
  /** Called before an HTTP retry, so the health can show it. */
  onRetry: (message: string) => void;
}

export interface ConnectorSource {
  read(context: SourceContext): AsyncIterable<SourceBatch>;
}

/** A checkpoint that is not what the source wrote: the run starts over. */
export function objectCheckpoint(checkpoint: unknown): Record<string, unknown> {
  return checkpoint !== null && typeof checkpoint === 'object' && !Array.isArray(checkpoint)
    ? (checkpoint as Record<string, unknown>)
    : {};
}
