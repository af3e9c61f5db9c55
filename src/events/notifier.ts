/**
 * Tells the parts of a node that follow the event log (streams, webhooks, watch lists) that
 * new events were committed, so they read them from the store at once instead of polling.
 * A notification carries only the newest seq; readers fetch the events themselves, so a
 * lost notification delays delivery until the next one and loses nothing.
 *
 * The notifier also carries alert announcements: the id of a watch list whose alert log
 * (src/watch/alert-log.ts) has new records. Alert streams and alert webhooks read the
 * records from the store, so a lost alert announcement is as harmless as a lost event one.
 */
export interface EventNotifier {
  /** Announces that events up to `lastSeq` are committed. */
  announce(lastSeq: number): void;
  /** Calls `listener` after every announcement; returns a function that stops it. */
  listen(listener: (lastSeq: number) => void): () => void;
  /** Announces that the alert log of a watch list has new records. */
  announceAlerts(watchlistId: string): void;
  /**
   * Calls `listener` after every alert announcement with its watch list id, or with
   * undefined when announcements may have been lost, so every list may have new records.
   * Returns a function that stops it.
   */
  listenAlerts(listener: AlertListener): () => void;
  close(): Promise<void>;
}

export type AlertListener = (watchlistId: string | undefined) => void;

/** Announcements within one process: the single-node default. */
export class LocalNotifier implements EventNotifier {
  private readonly listeners = new Set<(lastSeq: number) => void>();
  private readonly alertListeners = new Set<AlertListener>();

  announce(lastSeq: number): void {
    for (const listener of this.listeners) listener(lastSeq);
  }

  listen(listener: (lastSeq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  announceAlerts(watchlistId: string): void {
    for (const listener of this.alertListeners) listener(watchlistId);
  }

  listenAlerts(listener: AlertListener): () => void {
    this.alertListeners.add(listener);
    return () => this.alertListeners.delete(listener);
  }

  close(): Promise<void> {
    this.listeners.clear();
    this.alertListeners.clear();
    return Promise.resolve();
  }
}
