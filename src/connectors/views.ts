/** Connectors as JSON for the API and the CLI: times as RFC 3339 strings, secrets redacted. */
import { microsToTaxii } from '../stix/timestamp.ts';
import type { ConnectorView } from './service.ts';
import type { RunHealth } from './state.ts';

function time(micros: number | undefined): string | undefined {
  return micros === undefined ? undefined : microsToTaxii(micros);
}

function healthJson(health: RunHealth | undefined): Record<string, unknown> | undefined {
  if (health === undefined) return undefined;
  return { ...health, startedAt: time(health.startedAt), finishedAt: time(health.finishedAt) };
}

export function connectorJson(view: ConnectorView): Record<string, unknown> {
  const { connector, state } = view;
  return {
    ...connector,
    createdAt: time(connector.createdAt),
    nextRunAt: time(view.nextRunAt),
    running: view.running,
    health: {
      lastRun: healthJson(state.lastRun),
      lastRunWithData: healthJson(state.lastRunWithData),
      current: healthJson(state.current),
      lastSuccessAt: time(state.lastSuccessAt),
      consecutiveFailures: state.consecutiveFailures,
      runs: state.runs,
    },
    checkpoint: state.checkpoint,
  };
}
