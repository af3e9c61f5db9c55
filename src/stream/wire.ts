/**
 * The messages of event streams and their two encodings: Server-Sent Events frames and
 * WebSocket text messages. Both carry the same JSON `data`, so a client parses one format.
 * An event's cursor, data and frame are the same for every reader who sees it unredacted,
 * so they are computed once per event and shared.
 */
import type { CursorCodec } from '../events/cursor.ts';
import type { EventView } from '../events/filter.ts';
import { microsToTaxii } from '../stix/timestamp.ts';
import type { EventRecord } from '../store/store.ts';

/** An object of the current state, sent after a `resync`. */
export interface ReplayItem {
  collectionId: string;
  communityId?: string;
  id: string;
  type: string;
  specVersion: string;
  version: string;
  dateAdded: number;
  json: string;
}

export type StreamMessage =
  | { type: 'event'; view: EventView }
  | { type: 'heartbeat'; cursor: string }
  | { type: 'resync'; reason: ResyncReason }
  | { type: 'replay'; item: ReplayItem }
  | { type: 'replayed'; cursor: string }
  | { type: 'closed'; reason: CloseReason; cursor: string };

/** The reason a stream starts with a replay of the current state instead of the log. */
export type ResyncReason = 'cursor-pruned' | 'cursor-unknown' | 'from-start-pruned';

export type CloseReason =
  | 'slow-consumer'
  | 'token-revoked'
  | 'token-expired'
  | 'user-disabled'
  | 'access-revoked'
  | 'server-stopping'
  | 'server-error';

const RESYNC_MESSAGES: Record<ResyncReason, string> = {
  'cursor-pruned':
    'the events after this cursor were pruned from the log: the current state of the ' +
    'collections follows, then the live events',
  'cursor-unknown':
    'the cursor is not one of this server: the current state of the collections follows, ' +
    'then the live events',
  'from-start-pruned':
    'the oldest events were pruned from the log: the current state of the collections ' +
    'follows, then the live events',
};

const CLOSE_MESSAGES: Record<CloseReason, string> = {
  'slow-consumer':
    'the client read events more slowly than they came: reconnect with the cursor to go on',
  'token-revoked': 'the token was revoked: authenticate with another token',
  'token-expired': 'the token expired: authenticate with another token',
  'user-disabled': 'the user was disabled',
  'access-revoked': 'the caller may no longer read this stream',
  'server-stopping': 'the server is stopping: reconnect with the cursor to go on',
  'server-error': 'the server failed to read the event log: reconnect with the cursor to go on',
};

/** Returns the version shown to clients: date_added for objects without `modified` or `created`. */
function visibleVersion(version: string, dateAdded: number): string {
  return version !== '' ? version : microsToTaxii(dateAdded);
}

/**
 * Builds and caches the encoded messages of events. One per server, because the cursor key
 * is the server's.
 */
export class WireFormat {
  readonly #codec: CursorCodec;
  readonly #cursors = new WeakMap<EventRecord, string>();
  readonly #data = new WeakMap<EventRecord, string>();
  readonly #sse = new WeakMap<EventRecord, string>();

  constructor(codec: CursorCodec) {
    this.#codec = codec;
  }

  get codec(): CursorCodec {
    return this.#codec;
  }

  cursorOf(event: EventRecord): string {
    let cursor = this.#cursors.get(event);
    if (cursor === undefined) {
      cursor = this.#codec.encode(event.seq);
      this.#cursors.set(event, cursor);
    }
    return cursor;
  }

  /** Returns the JSON `data` of an event view, shared between readers unless redacted. */
  eventData(view: EventView): string {
    const shared = !view.redacted && !view.leftView;
    if (shared) {
      const cached = this.#data.get(view.event);
      if (cached !== undefined) return cached;
    }
    const data = this.#buildEventData(view);
    if (shared) this.#data.set(view.event, data);
    return data;
  }

  #buildEventData(view: EventView): string {
    const { event } = view;
    const head = {
      kind: view.kind,
      cursor: this.cursorOf(event),
      collection: event.collectionId,
      ...(event.communityId !== undefined ? { community: event.communityId } : {}),
      id: event.objectId,
      type: event.objectType,
    };
    if (view.leftView) return JSON.stringify({ ...head, reason: 'hidden' });
    const text = JSON.stringify({
      ...head,
      spec_version: event.specVersion,
      version: visibleVersion(event.version, event.dateAdded),
      date_added: microsToTaxii(event.dateAdded),
    });
    // The object goes in as stored, without a parse and re-serialise.
    return view.json === undefined ? text : `${text.slice(0, -1)},"object":${view.json}}`;
  }

  /** Returns the JSON `data` of any message. */
  data(message: StreamMessage): string {
    switch (message.type) {
      case 'event':
        return this.eventData(message.view);
      case 'heartbeat':
      case 'replayed':
        return JSON.stringify({ kind: message.type, cursor: message.cursor });
      case 'resync':
        return JSON.stringify({
          kind: 'resync',
          reason: message.reason,
          message: RESYNC_MESSAGES[message.reason],
        });
      case 'replay':
        return replayData(message.item);
      case 'closed':
        return JSON.stringify({
          kind: 'closed',
          reason: message.reason,
          message: CLOSE_MESSAGES[message.reason],
          cursor: message.cursor,
        });
    }
  }

  /**
   * Returns the Server-Sent Events frame of a message. Frames that carry a position set the
   * EventSource `id`, so a browser's automatic reconnect resumes there.
   */
  sseFrame(message: StreamMessage): string {
    if (message.type !== 'event') {
      const kind = message.type === 'replay' ? 'replay' : message.type;
      const cursor = 'cursor' in message ? `id: ${message.cursor}\n` : '';
      return `${cursor}event: ${kind}\ndata: ${this.data(message)}\n\n`;
    }
    const { view } = message;
    const shared = !view.redacted && !view.leftView;
    const cached = shared ? this.#sse.get(view.event) : undefined;
    if (cached !== undefined) return cached;
    const frame =
      `id: ${this.cursorOf(view.event)}\nevent: ${view.kind}\n` +
      `data: ${this.eventData(view)}\n\n`;
    if (shared) this.#sse.set(view.event, frame);
    return frame;
  }

  /** Returns the WebSocket text message of a message: its JSON data alone. */
  wsFrame(message: StreamMessage): string {
    return this.data(message);
  }
}

function replayData(item: ReplayItem): string {
  const text = JSON.stringify({
    kind: 'replay',
    collection: item.collectionId,
    ...(item.communityId !== undefined ? { community: item.communityId } : {}),
    id: item.id,
    type: item.type,
    spec_version: item.specVersion,
    version: visibleVersion(item.version, item.dateAdded),
    date_added: microsToTaxii(item.dateAdded),
  });
  return `${text.slice(0, -1)},"object":${item.json}}`;
}
