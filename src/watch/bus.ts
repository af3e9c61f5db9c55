/**
 * Delivery of alerts as they are recorded: every sink registered here receives each new or
 * updated alert. The server registers the alert stream of each watch list (the SSE endpoint)
 * and any other channel. Sinks must not throw or block, because recording waits for none.
 */
import type { AlertChange } from './alerts.ts';
import type { Alert, WatchList } from './model.ts';

export interface AlertNotice {
  change: AlertChange;
  alert: Alert;
  list: WatchList;
}

export type AlertSink = (notice: AlertNotice) => void;

export class AlertBus {
  private readonly sinks = new Set<AlertSink>();
  private readonly byList = new Map<string, Set<AlertSink>>();

  /** Receives every alert; returns a function that stops it. */
  subscribe(sink: AlertSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** Receives the alerts of one watch list; returns a function that stops it. */
  subscribeList(watchlistId: string, sink: AlertSink): () => void {
    let sinks = this.byList.get(watchlistId);
    if (!sinks) {
      sinks = new Set();
      this.byList.set(watchlistId, sinks);
    }
    sinks.add(sink);
    return () => {
      sinks.delete(sink);
      if (sinks.size === 0) this.byList.delete(watchlistId);
    };
  }

  publish(notice: AlertNotice): void {
    for (const sink of this.sinks) sink(notice);
    const listSinks = this.byList.get(notice.alert.watchlistId);
    if (listSinks) for (const sink of listSinks) sink(notice);
  }

  /** Number of list subscribers, for tests and metrics. */
  get listSubscribers(): number {
    let count = 0;
    for (const sinks of this.byList.values()) count += sinks.size;
    return count;
  }
}
