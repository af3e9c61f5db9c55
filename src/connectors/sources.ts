/** The source of each connector kind. */
import { CairnError } from '../errors.ts';
import type { Connector } from './definition.ts';
import { ListSource } from './list-source.ts';
import type { ConnectorSource } from './source.ts';
import { TaxiiSource } from './taxii-source.ts';

export function sourceFor(connector: Connector): ConnectorSource {
  switch (connector.kind) {
    case 'taxii':
      return new TaxiiSource(connector);
    case 'csv':
    case 'text':
      return new ListSource(connector.kind);
    default:
      throw new CairnError(
        'invalid-parameter',
        `connectors of kind "${connector.kind}" cannot run on this server yet`,
      );
  }
}
