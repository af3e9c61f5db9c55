/**
 * Tells the parts of a node that follow the event log (streams, webhooks, watch lists) that
 * new events were committed, so they read them from the store at once instead of polling.
 * A notification carries only the newest seq; readers fetch the events themselves, so a
 * lost notification delays delivery until the next one and loses nothing.
 */
export interface EventNotifier {
  /** Announces that events up to `lastSeq` are committed. */
  announce(lastSeq: number): void;
  /** Calls `listener` after every announcement; returns a function that stops it. */
  listen(listener: (lastSeq: number) => void): () => void;
  close(): Promise<void>;
}

/** Announcements within one process: the single-node default. */
export class LocalNotifier implements EventNotifier {
  private readonly listeners = new Set<(lastSeq: number) => void>();

  announce(lastSeq: number): void {
    for (const listener of this.listeners) listener(lastSeq);
  }

  listen(listener: (lastSeq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
