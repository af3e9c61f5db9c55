/**
 * Announcements between nodes over NATS JetStream, for Cairn running as several nodes on
 * one shared store.
 *
 * A node that commits events publishes the newest seq on one subject of a small stream.
 * Every node reads that stream with an ordered consumer that delivers only messages
 * published after it started. It passes each seq to its local listeners (stream pump,
 * webhook dispatcher, watch engine). The store stays the log of record: a message is only
 * a hint to read it now. A node that missed messages (its link to NATS dropped, NATS
 * restarted) fills the gap from the store. On every (re)connection it announces the
 * store's newest seq locally, and a slow poll of the store does the same whatever NATS does.
 *
 * Alert announcements (a watch list id) and access-change signals go over plain NATS
 * subjects, not stored. After every (re)connection the notifier calls its alert listeners
 * without a list id, meaning any list may have new alerts, so they read the store for
 * what was announced while the link was down.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

import type { Logger } from '../log/logger.ts';
import type { AlertListener, EventNotifier } from './notifier.ts';

export interface NatsNotifierOptions {
  /** NATS server URLs, separated by commas: `nats://127.0.0.1:4222`. */
  servers: string;
  /** JetStream stream that carries the announcements; created when missing. */
  stream: string;
  /** Subject of the announcements; must not be used by anything else. */
  subject: string;
  /** Subject of access-change signals (see relayAccessChanges); plain NATS, not stored. */
  accessSubject?: string;
  /** Subject of alert announcements (see announceAlerts); plain NATS, not stored. */
  alertSubject?: string;
  /** Copies of the stream when this notifier creates it; an existing stream is left as is. */
  replicas?: number;
  /** Returns the newest committed seq from the store (its eventBounds().last). */
  latestSeq: () => Promise<number>;
  logger: Logger;
  /** How often the store is read in case announcements were lost (ms). */
  fallbackMs?: number;
  /** Maximum wait between two connection attempts (ms); waits start at 100 ms and double. */
  maxBackoffMs?: number;
  /** Name of the connection, shown by the NATS server's monitoring. */
  connectionName?: string;
  /**
   * Interval between checks that the stream is still the one the consumer was created on
   * (ms). Deleting a stream deletes its consumers, and the client may notice only when its
   * heartbeats time out.
   */
  streamCheckMs?: number;
}

/** A signal within one process, such as the access changes of the event streams. */
export interface LocalSignal {
  emit(): void;
  listen(listener: () => void): () => void;
}

/** The connection state of the notifier, for logs and tests. */
export type NatsNotifierState = 'connecting' | 'connected' | 'disconnected' | 'closed';

const DEFAULT_FALLBACK_MS = 10_000;
const DEFAULT_STREAM_CHECK_MS = 5_000;
const DEFAULT_MAX_BACKOFF_MS = 5_000;
const FIRST_BACKOFF_MS = 100;
const PUBLISH_TIMEOUT_MS = 2_000;
/** Announcements the stream keeps; a new consumer reads none of them, so few are enough. */
const STREAM_MAX_MESSAGES = 1_000;
const STREAM_MAX_AGE_NS = 60 * 60 * 1e9;

/** The body of an announcement: the newest committed seq and the node that committed it. */
interface Announcement {
  seq: number;
  node: string;
}

/** The body of an alert announcement: the watch list with new alerts and the announcing node. */
interface AlertAnnouncement {
  watchlistId: string;
  node: string;
}

/** Reads an alert announcement, or returns undefined for anything malformed. */
export function parseAlertAnnouncement(data: Uint8Array): AlertAnnouncement | undefined {
  if (data.length > 256) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { watchlistId, node } = value as Record<string, unknown>;
    if (typeof watchlistId !== 'string' || !/^[A-Za-z0-9-]{1,100}$/.test(watchlistId)) {
      return undefined;
    }
    if (typeof node !== 'string') return undefined;
    return { watchlistId, node };
  } catch {
    return undefined;
  }
}

/** Reads an announcement, or returns undefined for anything malformed. */
export function parseAnnouncement(data: Uint8Array): Announcement | undefined {
  if (data.length > 256) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { seq, node } = value as Record<string, unknown>;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
    if (typeof node !== 'string') return undefined;
    return { seq, node };
  } catch {
    return undefined;
  }
}

/** The connect() options of a server list: addresses, credentials and TLS. */
export interface ServerSettings {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Set for `tls://` URLs: TLS required, with the system's certificate authorities. */
  tls?: Record<string, never>;
}

/**
 * Reads a comma-separated list of `nats://` or `tls://` URLs. The NATS client ignores the
 * scheme and any user name or password in a server URL, so they are turned into options
 * here: `user:password@` gives a user and password, `token@` a token. The first URL with
 * credentials gives them for every server; `tls://` on any URL requires TLS on all.
 */
export function serverSettings(list: string): ServerSettings {
  const settings: ServerSettings = { servers: [] };
  for (const entry of list.split(',')) {
    const url = new URL(entry.trim());
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') {
      throw new Error(`unsupported NATS URL scheme "${url.protocol}": use nats:// or tls://`);
    }
    settings.servers.push(`${url.hostname}:${url.port || '4222'}`);
    if (url.protocol === 'tls:') settings.tls = {};
    if (url.username && !settings.user && !settings.token) {
      const name = decodeURIComponent(url.username);
      if (url.password) {
        settings.user = name;
        settings.pass = decodeURIComponent(url.password);
      } else {
        settings.token = name;
      }
    }
  }
  return settings;
}

/** Returns the server list without user names, passwords or tokens, for logs. */
export function describeServers(servers: string): string {
  return servers
    .split(',')
    .map((server) => server.trim().replace(/\/\/[^@/]*@/, '//'))
    .join(',');
}

export class NatsNotifier implements EventNotifier {
  /** Identifies this node's announcements, so it skips its own when they come back. */
  readonly node = randomUUID();
  readonly #options: Required<
    Omit<NatsNotifierOptions, 'connectionName' | 'accessSubject' | 'alertSubject'>
  > & {
    connectionName: string;
    accessSubject: string | undefined;
    alertSubject: string | undefined;
  };
  readonly #logger: Logger;
  readonly #listeners = new Set<(lastSeq: number) => void>();
  readonly #alertListeners = new Set<AlertListener>();
  /** Set after a failed alert publish, so an outage logs one warning. */
  #alertPublishFailing = false;
  /** Malformed alert announcements received; the first and every 1,000th are logged. */
  #malformedAlerts = 0;
  #state: NatsNotifierState = 'connecting';
  #connection: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #messages: ConsumerMessages | undefined;
  /** The highest seq announced here or heard from another node. */
  #known = 0;
  /** The highest seq waiting to be published, or 0. */
  #toPublish = 0;
  #publishing = false;
  #publishFailing = false;
  #closed = false;
  #run: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  #streamCheck: NodeJS.Timeout | undefined;
  /** Creation time of the stream the current consumer reads, to tell a recreated stream. */
  #streamCreated: string | undefined;
  #checkingStream = false;
  /** Ends the backoff waits in progress, when the notifier closes. */
  readonly #wakers = new Set<() => void>();
  #listening: { promise: Promise<void>; resolve: () => void };
  #accessChanges: LocalSignal | undefined;
  /** Set while a signal from another node is passed on, so it is not sent back out. */
  #relaying = false;

  constructor(options: NatsNotifierOptions) {
    this.#options = {
      fallbackMs: DEFAULT_FALLBACK_MS,
      streamCheckMs: DEFAULT_STREAM_CHECK_MS,
      replicas: 1,
      maxBackoffMs: DEFAULT_MAX_BACKOFF_MS,
      connectionName: `cairn-${this.node.slice(0, 8)}`,
      accessSubject: undefined,
      alertSubject: undefined,
      ...options,
    };
    this.#logger = options.logger.child({
      component: 'nats',
      servers: describeServers(options.servers),
      stream: options.stream,
    });
    this.#listening = deferred();
  }

  /**
   * Starts connecting in the background and returns at once: a node serves requests while
   * NATS is unreachable, and its fallback poll keeps it up to date meanwhile.
   */
  start(): void {
    if (this.#run || this.#closed) return;
    this.#poll = setInterval(() => void this.#catchUp('poll', false), this.#options.fallbackMs);
    this.#poll.unref();
    this.#streamCheck = setInterval(
      () => void this.#checkStream('timer'),
      this.#options.streamCheckMs,
    );
    this.#streamCheck.unref();
    this.#run = this.#connectForever();
  }

  get state(): NatsNotifierState {
    return this.#state;
  }

  /** Resolves once the notifier receives announcements from other nodes; for tests and tools. */
  listening(): Promise<void> {
    return this.#listening.promise;
  }

  announce(lastSeq: number): void {
    if (this.#closed) return;
    this.#deliver(lastSeq);
    if (lastSeq > this.#toPublish) this.#toPublish = lastSeq;
    void this.#flush();
  }

  listen(listener: (lastSeq: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls this node's alert listeners at once and publishes to the other nodes. While NATS
   * is unreachable only this node's listeners are called, and the other nodes find the
   * alerts in the store when they reconnect or at their next poll.
   */
  announceAlerts(watchlistId: string): void {
    if (this.#closed) return;
    this.#deliverAlerts(watchlistId);
    const subject = this.#options.alertSubject;
    const connection = this.#connection;
    if (subject === undefined || !connection || connection.isClosed()) return;
    if (this.#state !== 'connected') return;
    try {
      const body: AlertAnnouncement = { watchlistId, node: this.node };
      connection.publish(subject, JSON.stringify(body));
      this.#alertPublishFailing = false;
    } catch (error) {
      if (!this.#alertPublishFailing) {
        this.#alertPublishFailing = true;
        this.#logger.warn({ err: error, watchlistId }, 'could not publish an alert announcement');
      }
    }
  }

  listenAlerts(listener: AlertListener): () => void {
    this.#alertListeners.add(listener);
    return () => this.#alertListeners.delete(listener);
  }

  #deliverAlerts(watchlistId: string | undefined): void {
    for (const listener of this.#alertListeners) {
      try {
        listener(watchlistId);
      } catch (error) {
        this.#logger.error({ err: error, watchlistId }, 'alert listener failed');
      }
    }
  }

  /**
   * Passes the alert announcements of other nodes to the local listeners for the life of
   * the connection. Then calls the listeners without a list id, because announcements
   * made before this (re)connection were not received.
   */
  #followAlerts(connection: NatsConnection): void {
    const subject = this.#options.alertSubject;
    if (subject === undefined) return;
    connection.subscribe(subject, {
      callback: (error, message) => {
        if (error) {
          this.#logger.warn({ err: error }, 'alert announcement subscription failed');
          return;
        }
        const announcement = parseAlertAnnouncement(message.data);
        if (!announcement) {
          this.#malformedAlerts += 1;
          if (this.#malformedAlerts === 1 || this.#malformedAlerts % 1_000 === 0) {
            this.#logger.warn(
              { bytes: message.data.length, count: this.#malformedAlerts },
              'ignored a malformed alert announcement',
            );
          }
          return;
        }
        if (announcement.node === this.node) return;
        this.#deliverAlerts(announcement.watchlistId);
      },
    });
    this.#deliverAlerts(undefined);
  }

  /**
   * Sends this node's access-change signals to the other nodes and emits theirs on
   * `changes`, so streams everywhere check their readers again at once after a membership,
   * user or token change. A lost signal only delays that check to the streams' own timer.
   * Call it before start(). Returns a function that stops sending.
   */
  relayAccessChanges(changes: LocalSignal): () => void {
    const subject = this.#options.accessSubject;
    if (subject === undefined) throw new Error('relayAccessChanges needs the accessSubject option');
    this.#accessChanges = changes;
    return changes.listen(() => {
      if (this.#relaying || this.#closed) return;
      const connection = this.#connection;
      if (!connection || connection.isClosed() || this.#state !== 'connected') return;
      try {
        connection.publish(subject, JSON.stringify({ node: this.node }));
      } catch (error) {
        this.#logger.warn({ err: error }, 'could not publish an access change to NATS');
      }
    });
  }

  /** Emits the access-change signals of other nodes locally, for the life of the connection. */
  #followAccessChanges(connection: NatsConnection): void {
    const subject = this.#options.accessSubject;
    const changes = this.#accessChanges;
    if (subject === undefined || changes === undefined) return;
    connection.subscribe(subject, {
      callback: (error, message) => {
        if (error) {
          this.#logger.warn({ err: error }, 'access-change subscription failed');
          return;
        }
        let node: unknown;
        try {
          node = (JSON.parse(message.string()) as { node?: unknown }).node;
        } catch {
          node = undefined;
        }
        if (typeof node !== 'string') {
          this.#logger.warn({ bytes: message.data.length }, 'ignored a malformed access change');
          return;
        }
        if (node === this.node) return;
        this.#relaying = true;
        try {
          changes.emit();
        } catch (emitError) {
          this.#logger.error({ err: emitError }, 'access-change listener failed');
        } finally {
          this.#relaying = false;
        }
      },
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    clearInterval(this.#streamCheck);
    for (const wake of this.#wakers) wake();
    this.#messages?.stop();
    const connection = this.#connection;
    if (connection && !connection.isClosed()) {
      // The client buffers publishes and close() drops what is still buffered. Flushing
      // first sends the announcements of a process that closes right after making them,
      // such as `cairn watch hunt`. A server that does not respond is waited for PUBLISH_TIMEOUT_MS at most.
      if (this.#state === 'connected') {
        await withTimeout(connection.flush(), PUBLISH_TIMEOUT_MS).catch((error: unknown) =>
          this.#logger.warn({ err: error }, 'could not flush announcements before closing'),
        );
      }
      await connection.close().catch(() => undefined);
    }
    await this.#run;
    this.#listeners.clear();
    this.#alertListeners.clear();
    this.#setState('closed');
  }

  #deliver(seq: number): void {
    if (seq > this.#known) this.#known = seq;
    for (const listener of this.#listeners) {
      try {
        listener(seq);
      } catch (error) {
        this.#logger.error({ err: error, seq }, 'event listener failed');
      }
    }
  }

  #setState(state: NatsNotifierState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#logger.info({ state }, `nats ${state}`);
  }

  /**
   * Connects, follows the stream until the connection closes for good, and starts over,
   * waiting longer after each failure. The client reconnects by itself after a drop; this
   * loop covers a first connection that fails and a client that gives up.
   */
  async #connectForever(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    // Failed attempts since the last connection: the first is a warning, the others are
    // counted (and logged at debug level) so a long outage does not fill the log.
    let failures = 0;
    while (!this.#closed) {
      let connection: NatsConnection;
      try {
        connection = await connect({
          ...serverSettings(this.#options.servers),
          name: this.#options.connectionName,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: FIRST_BACKOFF_MS * 5,
          timeout: 2_000,
          pingInterval: 10_000,
        });
      } catch (error) {
        if (this.#closed) break;
        this.#setState('disconnected');
        failures += 1;
        if (failures === 1) {
          this.#logger.warn(
            { err: error, retryInMs: backoff },
            'could not connect to NATS; the store is polled until it answers',
          );
        } else {
          this.#logger.debug(
            { err: error, failures, retryInMs: backoff },
            'NATS still unreachable',
          );
        }
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, this.#options.maxBackoffMs);
        continue;
      }
      if (this.#closed) {
        await connection.close().catch(() => undefined);
        break;
      }
      backoff = FIRST_BACKOFF_MS;
      if (failures > 0) {
        this.#logger.info({ failedAttempts: failures }, 'connected to NATS after failed attempts');
        failures = 0;
      }
      this.#connection = connection;
      this.#js = jetstream(connection);
      this.#setState('connected');
      this.#followAccessChanges(connection);
      this.#followAlerts(connection);
      const watching = this.#watchStatus(connection);
      const following = this.#follow(connection);
      const closedWith = await connection.closed();
      this.#js = undefined;
      this.#messages?.stop();
      await Promise.allSettled([watching, following]);
      if (this.#closed) break;
      this.#setState('disconnected');
      this.#logger.warn({ err: closedWith }, 'NATS connection closed; connecting again');
      await this.#sleep(backoff);
    }
  }

  /** Logs the client's state changes and catches up from the store after each reconnection. */
  async #watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      switch (status.type) {
        case 'disconnect':
          this.#setState('disconnected');
          break;
        case 'reconnect':
          this.#setState('connected');
          void this.#catchUp('reconnect', true);
          // The client subscribes again by itself; what was announced meanwhile is lost.
          this.#deliverAlerts(undefined);
          break;
        case 'error':
          this.#logger.warn({ err: status.error }, 'NATS reported an error');
          break;
        case 'ldm':
          this.#logger.info('NATS server entering lame duck mode; moving to another');
          break;
        default:
          break;
      }
    }
  }

  /**
   * Makes sure the stream exists and reads it with an ordered consumer that starts at the
   * next message published. Any failure (stream deleted, JetStream not ready after a
   * restart) is retried while the connection lasts.
   */
  async #follow(connection: NatsConnection): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    let failures = 0;
    while (!this.#closed && !connection.isClosed()) {
      try {
        this.#streamCreated = await this.#ensureStream(connection);
        const js = jetstream(connection);
        const consumer = await js.consumers.get(this.#options.stream, {
          filter_subjects: this.#options.subject,
          deliver_policy: DeliverPolicy.New,
        });
        const messages = await consumer.consume({ max_messages: 100 });
        this.#messages = messages;
        void this.#watchConsumer(messages);
        this.#logger.info(
          { subject: this.#options.subject, ...(failures > 0 ? { failedAttempts: failures } : {}) },
          'following NATS announcements',
        );
        failures = 0;
        // Events committed before the consumer existed are in the store: announce them.
        void this.#catchUp('subscribed', true);
        this.#listening.resolve();
        backoff = FIRST_BACKOFF_MS;
        for await (const message of messages) {
          const announcement = parseAnnouncement(message.data);
          if (!announcement) {
            this.#logger.warn(
              { subject: message.subject, bytes: message.data.length },
              'ignored a malformed announcement',
            );
            continue;
          }
          if (announcement.node === this.node) continue;
          this.#deliver(announcement.seq);
        }
      } catch (error) {
        if (this.#closed || connection.isClosed()) break;
        failures += 1;
        this.#logger[failures === 1 ? 'warn' : 'debug'](
          { err: error, failures, retryInMs: backoff },
          'could not follow NATS announcements; retrying',
        );
      }
      if (this.#closed || connection.isClosed()) break;
      await this.#sleep(backoff);
      backoff = Math.min(backoff * 2, this.#options.maxBackoffMs);
    }
  }

  /**
   * Stops the consumer when the server deleted it, as it does when the stream is deleted or
   * lost by a NATS server restarted without its storage. The ordered consumer would retry
   * against a missing stream until its heartbeats time out. Stopping it makes #follow create
   * the stream and a new consumer at once, and catch up from the store.
   */
  async #watchConsumer(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const status of messages.status()) {
        if (status.type === 'consumer_deleted' || status.type === 'stream_not_found') {
          this.#restartConsumer(messages, status.type);
          return;
        }
      }
    } catch (error) {
      this.#logger.debug({ err: error }, 'stopped watching the NATS consumer');
    }
  }

  #restartConsumer(messages: ConsumerMessages, reason: string): void {
    if (this.#messages !== messages) return;
    this.#messages = undefined;
    this.#logger.warn({ reason }, 'NATS consumer lost; following again');
    messages.stop();
  }

  /**
   * Compares the stream with the one the consumer was created on, and follows again when it
   * is missing or was created anew. Runs on a timer and after a failed publish, so a lost
   * consumer is noticed within streamCheckMs even while its heartbeats are still pending.
   */
  async #checkStream(reason: string): Promise<void> {
    const connection = this.#connection;
    const messages = this.#messages;
    if (this.#checkingStream || this.#closed || !connection || connection.isClosed()) return;
    if (!messages || this.#state !== 'connected') return;
    this.#checkingStream = true;
    try {
      const manager = await jetstreamManager(connection);
      let created: string | undefined;
      try {
        created = (await manager.streams.info(this.#options.stream)).created;
      } catch (error) {
        if (!/stream not found/i.test((error as Error).message)) throw error;
      }
      if (created === undefined) {
        this.#restartConsumer(messages, `stream missing (${reason})`);
      } else if (created !== this.#streamCreated) {
        this.#restartConsumer(messages, `stream created again (${reason})`);
      }
    } catch (error) {
      this.#logger.debug({ err: error, reason }, 'could not check the NATS stream');
    } finally {
      this.#checkingStream = false;
    }
  }

  /** Creates the stream when missing; returns its creation time. */
  async #ensureStream(connection: NatsConnection): Promise<string> {
    const manager = await jetstreamManager(connection);
    try {
      return (await manager.streams.info(this.#options.stream)).created;
    } catch (error) {
      if (!/stream not found/i.test((error as Error).message)) throw error;
    }
    try {
      const info = await manager.streams.add({
        name: this.#options.stream,
        subjects: [this.#options.subject],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_msgs: STREAM_MAX_MESSAGES,
        max_age: STREAM_MAX_AGE_NS,
        num_replicas: this.#options.replicas,
      });
      this.#logger.info({ subject: this.#options.subject }, 'NATS stream created');
      return info.created;
    } catch (error) {
      // Another node created it at the same moment.
      const info = await manager.streams.info(this.#options.stream).catch(() => {
        throw error;
      });
      return info.created;
    }
  }

  /**
   * Reads the store's newest seq and announces it locally when it is new. After a
   * reconnection it also publishes it, so nodes that missed this node's messages catch up.
   */
  async #catchUp(reason: string, publish: boolean): Promise<void> {
    if (this.#closed) return;
    let last: number;
    try {
      last = await this.#options.latestSeq();
    } catch (error) {
      this.#logger.warn({ err: error, reason }, 'could not read the newest event from the store');
      return;
    }
    if (this.#closed) return;
    if (last > this.#known) {
      this.#logger.info({ reason, seq: last, previous: this.#known }, 'caught up from the store');
      this.#deliver(last);
    }
    if (publish && last > 0) {
      if (last > this.#toPublish) this.#toPublish = last;
      void this.#flush();
    }
  }

  /**
   * Publishes the highest pending seq, one message at a time: a burst of commits becomes
   * a few messages, never a queue. While NATS is unreachable the pending seq is dropped;
   * other nodes catch up through their poll and the publish after a reconnection.
   */
  async #flush(): Promise<void> {
    if (this.#publishing) return;
    this.#publishing = true;
    try {
      while (this.#toPublish > 0 && !this.#closed) {
        const seq = this.#toPublish;
        this.#toPublish = 0;
        const js = this.#js;
        if (!js || this.#state !== 'connected') return;
        try {
          const body: Announcement = { seq, node: this.node };
          await js.publish(this.#options.subject, JSON.stringify(body), {
            timeout: PUBLISH_TIMEOUT_MS,
          });
          if (this.#publishFailing) {
            this.#publishFailing = false;
            this.#logger.info({ seq }, 'NATS announcements published again');
          }
        } catch (error) {
          if (!this.#publishFailing && !this.#closed) {
            this.#publishFailing = true;
            this.#logger.warn({ err: error, seq }, 'could not publish an announcement to NATS');
          }
          void this.#checkStream('publish failed');
        }
      }
    } finally {
      this.#publishing = false;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }
}

/** Settles as `promise` does, or rejects when it takes more than `ms` milliseconds. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  const cancel = new AbortController();
  const expired = sleep(ms, undefined, { signal: cancel.signal, ref: false }).then(() => {
    throw new Error(`timed out after ${ms} ms`);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    // Ends the timer; race() has already handled the rejection that this causes.
    cancel.abort();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Removes a stream; for tests and for operators tearing down a cluster. */
export async function deleteStream(servers: string, stream: string): Promise<void> {
  const connection = await connect(serverSettings(servers));
  try {
    const manager = await jetstreamManager(connection);
    await manager.streams.delete(stream).catch(() => undefined);
  } finally {
    await connection.close();
  }
}
