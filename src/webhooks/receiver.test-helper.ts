/**
 * A webhook receiver for tests: a real HTTP server on a loopback address and a free port
 * that records each request and responds as the test sets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Responds to one request; the default responds 204. */
export type Responder = (request: ReceivedRequest, response: http.ServerResponse) => void;

export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  respond: Responder;
  readonly #server: http.Server;
  readonly #waiters: Array<() => void> = [];

  private constructor(server: http.Server, respond: Responder) {
    this.#server = server;
    this.respond = respond;
  }

  /** Starts a receiver on `host` (127.0.0.1 by default) and a free port. */
  static async start(
    respond: Responder = (_request, response) => response.writeHead(204).end(),
    host = '127.0.0.1',
  ): Promise<Receiver> {
    const server = http.createServer();
    const receiver = new Receiver(server, respond);
    server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const received = {
          at: performance.now(),
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        receiver.requests.push(received);
        for (const wake of receiver.#waiters.splice(0)) wake();
        receiver.respond(received, response);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return receiver;
  }

  get url(): string {
    const { address, port } = this.#server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}/hook`;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  /** Waits until `count` requests have arrived, or fails after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`receiver got ${this.requests.length} requests, expected ${count}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests;
  }

  /** Stops the server and drops every connection, including those still waiting. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Waits until `check` returns a value other than undefined, polling every 20 ms. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
