/**
 * Export formats of indicators: plain blocklists (one value per line, as firewalls read
 * external dynamic lists), CSV, Suricata and Snort rules, a MISP event and a STIX 2.1
 * bundle. Each format is an async generator of text chunks, one chunk per page of
 * indicators, so an HTTP response or a file receives the export as it is read.
 */
import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import type { ObservableType } from '../correlation/observables.ts';
import { microsToTaxii } from '../stix/timestamp.ts';
import type { Store } from '../store/store.ts';
import { indicatorRules, SidAllocator, DEFAULT_SID_RANGE, type SidRange } from './rules.ts';
import {
  emptyCounts,
  selectIndicators,
  type SelectedIndicator,
  type Selection,
  type SelectionCounts,
} from './selection.ts';

export const EXPORT_FORMATS = ['blocklist', 'csv', 'suricata', 'snort', 'misp', 'stix'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Blocklist kinds, each a set of observable types. */
export const BLOCKLIST_TYPES: Record<string, readonly ObservableType[]> = {
  ip: ['ipv4', 'ipv6'],
  ipv4: ['ipv4'],
  ipv6: ['ipv6'],
  domain: ['domain'],
  url: ['url'],
  email: ['email'],
  hash: ['md5', 'sha1', 'sha256', 'sha512'],
  md5: ['md5'],
  sha1: ['sha1'],
  sha256: ['sha256'],
  sha512: ['sha512'],
};

/** Formats that write an address with its destination port (see Selection.ports). */
const PORT_FORMATS: ReadonlySet<ExportFormat> = new Set(['suricata', 'snort', 'misp', 'stix']);

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  blocklist: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  suricata: 'text/plain; charset=utf-8',
  snort: 'text/plain; charset=utf-8',
  misp: 'application/json',
  stix: 'application/stix+json;version=2.1',
};

export interface FeedOptions {
  format: ExportFormat;
  selection: Selection;
  /** Names the export for stable sids and the MISP event uuid: a collection or saved export id. */
  profile: string;
  /** Title of the MISP event. */
  title?: string;
  sidRange?: SidRange;
}

export interface Feed {
  chunks: AsyncGenerator<string>;
  /** Counts of what the selection read and left out, complete once `chunks` is done. */
  counts: SelectionCounts;
}

/** Namespace of the MISP event and attribute uuids Cairn derives. */
const MISP_NAMESPACE = '4d3b1c69-5b67-4a0b-9f1c-5a0e0a6d7c21';

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const CSV_HEADER = 'indicator_id,type,value,score,valid_from,valid_until,name,labels,collection\n';

function csvRows(indicator: SelectedIndicator): string {
  const { object } = indicator;
  const labels = Array.isArray(object.labels)
    ? object.labels.filter((l) => typeof l === 'string')
    : [];
  return indicator.observables
    .map((observable) =>
      [
        indicator.id,
        observable.type,
        observable.value,
        indicator.score.score.toFixed(1),
        text(object.valid_from),
        text(object.valid_until),
        text(object.name),
        labels.join(';'),
        indicator.collectionId,
      ]
        .map(csvField)
        .join(','),
    )
    .map((row) => `${row}\n`)
    .join('');
}

const MISP_TYPES: Record<ObservableType, { type: string; category: string }> = {
  ipv4: { type: 'ip-dst', category: 'Network activity' },
  ipv6: { type: 'ip-dst', category: 'Network activity' },
  domain: { type: 'domain', category: 'Network activity' },
  url: { type: 'url', category: 'Network activity' },
  email: { type: 'email-src', category: 'Payload delivery' },
  md5: { type: 'md5', category: 'Payload delivery' },
  sha1: { type: 'sha1', category: 'Payload delivery' },
  sha256: { type: 'sha256', category: 'Payload delivery' },
  sha512: { type: 'sha512', category: 'Payload delivery' },
  asn: { type: 'AS', category: 'Network activity' },
};

function mispAttributes(indicator: SelectedIndicator): Array<Record<string, unknown>> {
  const seconds = String(Math.floor(indicator.modifiedAt / 1_000_000));
  return indicator.observables.map((observable) => ({
    uuid: uuidv5(`${indicator.id}|${observable.type}|${observable.value}`, MISP_NAMESPACE),
    ...MISP_TYPES[observable.type],
    ...(observable.port !== undefined
      ? { type: 'ip-dst|port', value: `${observable.value}|${observable.port}` }
      : { value: observable.value }),
    to_ids: true,
    timestamp: seconds,
    comment: text(indicator.object.name).slice(0, 1000),
    distribution: '5',
  }));
}

function mispHeader(options: FeedOptions): string {
  const now = new Date(options.selection.now / 1000);
  const event = {
    uuid: uuidv5(`event|${options.profile}`, MISP_NAMESPACE),
    info: options.title ?? `Cairn export ${options.profile}`,
    date: now.toISOString().slice(0, 10),
    timestamp: String(Math.floor(now.getTime() / 1000)),
    published: false,
    analysis: '2',
    threat_level_id: '4',
    distribution: '0',
  };
  const members = JSON.stringify(event).slice(0, -1);
  return `{"Event":${members},"Attribute":[\n`;
}

/** Yields the export in `options.format`, page by page. */
export function exportFeed(store: Store, options: FeedOptions): Feed {
  const counts = emptyCounts();
  return { chunks: generate(store, options, counts), counts };
}

async function* generate(
  store: Store,
  options: FeedOptions,
  counts: SelectionCounts,
): AsyncGenerator<string> {
  const ports = PORT_FORMATS.has(options.format);
  const pages = selectIndicators(store, { ...options.selection, ports }, counts);
  switch (options.format) {
    case 'blocklist':
      for await (const page of pages) {
        yield page.flatMap((item) => item.observables.map((o) => `${o.value}\n`)).join('');
      }
      return;
    case 'csv':
      yield CSV_HEADER;
      for await (const page of pages) yield page.map(csvRows).join('');
      return;
    case 'suricata':
    case 'snort': {
      const engine = options.format;
      const sids = await SidAllocator.load(
        store,
        options.profile,
        options.sidRange ?? DEFAULT_SID_RANGE,
      );
      yield `# Cairn ${engine} rules, ${options.profile}, ${microsToTaxii(options.selection.now)}\n`;
      for await (const page of pages) {
        const lines = page.flatMap((item) => indicatorRules(engine, item, sids));
        if (lines.length > 0) yield `${lines.join('\n')}\n`;
      }
      await sids.save();
      return;
    }
    case 'misp': {
      yield mispHeader(options);
      let first = true;
      for await (const page of pages) {
        const attributes = page
          .flatMap(mispAttributes)
          .map((attribute) => JSON.stringify(attribute));
        if (attributes.length === 0) continue;
        yield `${first ? '' : ',\n'}${attributes.join(',\n')}`;
        first = false;
      }
      yield '\n]}}\n';
      return;
    }
    case 'stix': {
      yield `{"type":"bundle","id":"bundle--${randomUUID()}"`;
      let first = true;
      for await (const page of pages) {
        if (page.length === 0) continue;
        yield `${first ? ',"objects":[\n' : ',\n'}${page.map((item) => item.json).join(',\n')}`;
        first = false;
      }
      // STIX 2.1 forbids empty lists, so an empty export is a bundle without "objects".
      yield first ? '}\n' : '\n]}\n';
      return;
    }
  }
}
