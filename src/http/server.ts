/**
 * The HTTP face of a Natter server (issue 6): the built web client, IRC over WebSocket on the same port (IRCv3
 * WebSocket, entering the same pipeline as TCP), `/healthz`, and security headers on every response: a CSP without
 * 'unsafe-inline', no framing, nosniff.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { ListenAddress, NatterServer } from '../net/server.js';
import { chooseSubprotocol } from '../net/websocket.js';

export interface HttpOptions {
  /** The folder of the built web client (index.html and its assets); a plain notice is served when it has none. */
  readonly webRoot: string;
  readonly logger: Logger;
  /** Largest WebSocket message taken: an IRC line with its tags (8191 + 512 bytes). */
  readonly maxMessageBytes?: number;
}

export interface HttpFace {
  readonly addresses: ListenAddress[];
  close(): Promise<void>;
}

/** Paths where IRC over WebSocket is accepted: the root (as most web clients assume) and /irc. */
const WEBSOCKET_PATHS = new Set(['/', '/irc']);

export function httpApp(natter: NatterServer, webRoot: string): Hono {
  const app = new Hono();
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: 'DENY',
      referrerPolicy: 'no-referrer',
    }),
  );
  app.get('/healthz', (c) => c.json({ status: 'ok', connections: natter.connections.size, users: natter.network.registeredCount }));
  if (existsSync(`${webRoot}/index.html`)) {
    app.use('/*', serveStatic({ root: webRoot }));
  } else {
    app.get('/', (c) =>
      c.html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Natter</title></head><body>' +
          '<h1>Natter</h1><p>This server speaks IRC. The web client is not built into this copy; connect an IRC client instead.</p>' +
          '</body></html>',
      ),
    );
  }
  app.notFound((c) => c.text('Not found', 404));
  return app;
}

export async function startHttp(natter: NatterServer, listen: readonly ListenAddress[], options: HttpOptions): Promise<HttpFace> {
  const app = httpApp(natter, options.webRoot);
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxMessageBytes ?? 8191 + 512,
    handleProtocols: (protocols) => chooseSubprotocol(protocols),
  });
  const servers: http.Server[] = [];
  const addresses: ListenAddress[] = [];
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (!WEBSOCKET_PATHS.has(path)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      natter.acceptWebSocket(ws, request.socket.remoteAddress, false);
    });
  };
  try {
    for (const address of listen) {
      const listener = getRequestListener(app.fetch);
      // The listener handles its own errors (a 500 answer); its promise only says when the response is done.
      const server = http.createServer((request, response) => {
        void listener(request, response);
      });
      server.on('upgrade', onUpgrade);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address.host, port: address.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      const bound = server.address();
      const result = typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : address;
      addresses.push(result);
      options.logger.info({ address: `${result.host.includes(':') ? `[${result.host}]` : result.host}:${result.port}` }, 'listening for HTTP and IRC over WebSocket');
    }
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }
  return {
    addresses,
    async close() {
      for (const client of sockets.clients) client.terminate();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => {
                resolve();
              });
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}
