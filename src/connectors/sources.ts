/** The source of each connector kind. */
import type { Connector } from './definition.ts';
import { ListSource } from './list-source.ts';
import { MispSource } from './misp-source.ts';
import type { ConnectorSource } from './source.ts';
import { TaxiiSource } from './taxii-source.ts';

export function sourceFor(connector: Connector): ConnectorSource {
  switch (connector.kind) {
    case 'taxii':
      return new TaxiiSource(connector);
    case 'csv':
    case 'text':
      return new ListSource(connector.kind);
    case 'misp-feed':
    case 'misp-event':
      return new MispSource(connector.kind);
  }
}
