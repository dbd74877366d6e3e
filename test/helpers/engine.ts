/** The client engine (src/client) driven in Node against a real server over WebSocket, with faults on demand. */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import WebSocket from 'ws';
import { ChatClient, webSocketTransport } from '../../src/client/index.js';
import type { ChatClientOptions, ClientState, TransportFactory } from '../../src/client/index.js';
import type { TestClient } from './client.js';
import { startTestServer } from './server.js';
import type { TestServer } from './server.js';

/** A transport whose network can be made to swallow what the client sends, or to drop, as a failing link does. */
export interface FaultyLink {
  readonly factory: TransportFactory;
  /** From now on, lines the client sends are lost on the way (until the next connection). */
  swallowSends(): void;
  /** The connection drops, as when the network goes away. */
  drop(): void;
  /** How many connections were opened. */
  readonly connections: number;
}

export function faultyLink(url: string): FaultyLink {
  // Node 20 has no global WebSocket; `ws` has the same shape.
  const inner = webSocketTransport(url, WebSocket);
  let swallowing = false;
  let current: { close(): void } | undefined;
  let connections = 0;
  return {
    factory: (handlers) => {
      connections++;
      swallowing = false;
      const transport = inner(handlers);
      current = transport;
      return {
        send(line) {
          if (!swallowing) transport.send(line);
        },
        close() {
          transport.close();
        },
      };
    },
    swallowSends() {
      swallowing = true;
    },
    drop() {
      current?.close();
    },
    get connections() {
      return connections;
    },
  };
}

export function engineClient(port: number, options: Omit<ChatClientOptions, 'transport'> & { readonly link?: FaultyLink }): { client: ChatClient; link: FaultyLink } {
  const link = options.link ?? faultyLink(`ws://127.0.0.1:${port}/irc`);
  const client = new ChatClient({ reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...options, transport: link.factory });
  return { client, link };
}

/** Resolves when the client's state satisfies `predicate`; rejects with the state's summary after a timeout. */
export function until(client: ChatClient, predicate: (state: ClientState) => boolean, what: string, timeoutMs = 5000): Promise<ClientState> {
  if (predicate(client.state)) return Promise.resolve(client.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for ${what}; status ${client.state.status}, buffers: ${[...client.state.buffers.values()].map((b) => `${b.name}(${b.messages.length})`).join(' ')}, lastError: ${client.state.lastError ?? '-'}`));
    }, timeoutMs);
    const unsubscribe = client.subscribe((state) => {
      if (!predicate(state)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(state);
    });
  });
}

/** The texts of the chat messages (not events or notes) of a buffer, in order. */
export function textsOf(state: ClientState, buffer: string): string[] {
  const found = [...state.buffers.values()].find((b) => b.name.toLowerCase() === buffer.toLowerCase());
  return (found?.messages ?? []).filter((m) => m.kind === 'privmsg' || m.kind === 'action' || m.kind === 'notice').map((m) => m.text);
}

/** A server with HTTP for engine tests, and the clients to close when the file is done. */
export interface EngineFixture {
  readonly server: TestServer;
  /** The HTTP (WebSocket) port. */
  readonly http: number;
  /** Engine clients and raw IRC clients put here are closed after the file's tests. */
  readonly clients: ChatClient[];
  readonly raw: TestClient[];
}

/** Registers the before/after hooks of a test file (call it inside `describe`) and returns the fixture they fill. */
export function engineFixture(): EngineFixture {
  let server: TestServer | undefined;
  let http = 0;
  const clients: ChatClient[] = [];
  const raw: TestClient[] = [];
  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] }, accounts: { maxFailedLogins: 1000 } });
    http = server.httpAddresses[0]?.port ?? assert.fail('no HTTP port');
  });
  after(async () => {
    for (const client of clients) client.close();
    for (const client of raw) client.close();
    await server?.stop();
  });
  return {
    get server() {
      return server ?? assert.fail('the engine fixture is used before its server started');
    },
    get http() {
      return http;
    },
    clients,
    raw,
  };
}
