/**
 * The HTTP face of a Natter server (issue 6): the built web client, IRC over WebSocket on the same port (IRCv3
 * WebSocket, entering the same pipeline as TCP), `/healthz`, `/readyz` and `/metrics` (issue 10), and security
 * headers on every response: a CSP without 'unsafe-inline', no framing, nosniff. The same app is served over HTTPS
 * (and wss) with the server's TLS certificate when asked.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { compress } from 'hono/compress';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { ListenAddress, NatterServer, TlsIdentity } from '../net/server.js';
import { chooseSubprotocol } from '../net/websocket.js';
import { metricsRoute, ServerMetrics } from './metrics.js';
import type { MetricsOptions } from './metrics.js';
import { staticFiles } from './static.js';
import type { UploadLibrary } from './upload-library.js';
import { uploadRoutes } from './uploads.js';

export interface HttpOptions {
  /** The folder of the built web client (index.html and its assets); a plain notice is served when it has none. */
  readonly webRoot: string;
  readonly logger: Logger;
  /** Largest WebSocket message taken: an IRC line with its tags (8191 + 512 bytes). */
  readonly maxMessageBytes?: number;
  /** HTTPS listeners: the same app, and IRC over secure WebSocket (wss), with the server's TLS certificate. */
  readonly https?: HttpsOptions;
  /** Uploads (soju.im/FILEHOST) under /uploads, stored in this library. */
  readonly uploads?: UploadLibrary;
  /** More routes, mounted before the web client's files (host mode's /host-login): made by cli/, which may import what http/ may not. */
  readonly routes?: readonly MountedRoutes[];
  /** Cluster mode: this node's id, which /healthz names (docs/cluster.md). */
  readonly node?: string;
  /** Serve /metrics (docs/operations.md) with these options; without them /metrics is not served. */
  readonly metrics?: MetricsOptions;
}

/** A sub-application mounted at a path, on every HTTP and HTTPS listener. */
export interface MountedRoutes {
  readonly path: string;
  readonly app: Hono;
}

export interface HttpsOptions {
  readonly listen: readonly ListenAddress[];
  readonly identity: TlsIdentity;
  /**
   * Strict-Transport-Security max-age sent over HTTPS; 0 sends none. It follows tls.sts.durationSeconds: the
   * operator's promise that TLS stays, since a browser that saw it refuses plain HTTP to the host, on any port.
   */
  readonly hstsSeconds: number;
}

export interface HttpFace {
  readonly addresses: ListenAddress[];
  readonly httpsAddresses: ListenAddress[];
  /** Swaps the HTTPS listeners' certificate (REHASH, SIGHUP); connections already open keep theirs. */
  setTlsIdentity(identity: TlsIdentity): void;
  close(): Promise<void>;
}

/** Paths where IRC over WebSocket is accepted: the root (as most web clients assume) and /irc. */
const WEBSOCKET_PATHS = new Set(['/', '/irc']);

/** TLS 1.2 and newer, as for IRC over TLS (src/net/server.ts). */
const MIN_TLS_VERSION = 'TLSv1.2';

export interface AppOptions {
  /** Max-age of Strict-Transport-Security; 0 (plain HTTP, or no STS configured) sends none. */
  readonly hstsSeconds?: number;
  /** The /uploads routes, made once for every listener so they share one upload rate limit. */
  readonly uploads?: Hono;
  readonly routes?: readonly MountedRoutes[];
  /** Cluster mode: this node's id, named by /healthz. */
  readonly node?: string;
  /** The server's metrics, served at /metrics; shared by every listener. */
  readonly metrics?: ServerMetrics;
}

/**
 * /healthz: 200 while the server takes clients, 503 once it does not (cluster mode: cut off from Redis; any mode:
 * shutting down), so a load balancer's health check sends no one there. In cluster mode it names the node.
 */
function healthz(natter: NatterServer, node: string | undefined) {
  return (c: Context) => {
    const inService = natter.inService;
    const body = {
      status: inService ? 'ok' : 'out of service',
      inService,
      ...(node === undefined ? {} : { node }),
      connections: natter.connections.size,
      users: natter.network.registeredCount,
    };
    return c.json(body, inService ? 200 : 503);
  };
}

/** How long /readyz waits for the store before it calls it unreachable. */
const STORE_CHECK_TIMEOUT_MS = 2000;

/**
 * Pings the store for /readyz: probes that come while a ping is out share it, and a store that stops answering is
 * logged once (not at every probe), with the cause that /readyz itself does not show.
 */
class StoreCheck {
  private pending: Promise<string | undefined> | undefined;
  private failing = false;

  constructor(private readonly natter: NatterServer) {}

  /** Why the store is not usable, or undefined when it answered. */
  problem(): Promise<string | undefined> {
    this.pending ??= this.ping().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async ping(): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no answer within ${String(STORE_CHECK_TIMEOUT_MS)} ms`));
      }, STORE_CHECK_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.natter.store.ping(), timeout]);
      if (this.failing) this.natter.log('info', {}, 'readiness: the store answers again');
      this.failing = false;
      return undefined;
    } catch (error) {
      if (!this.failing) this.natter.log('warn', { err: error }, 'readiness: the store does not answer');
      this.failing = true;
      return 'store unreachable';
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * /readyz: 200 while this node is ready to take clients: its listeners listen, it is in service (as /healthz says:
 * not shutting down; cluster mode: in reach of Redis) and its store answers a trivial query. Otherwise 503 naming
 * the reason. /healthz, which never waits on the store, stays the liveness check (docs/operations.md).
 */
function readyz(natter: NatterServer, node: string | undefined) {
  const store = new StoreCheck(natter);
  return async (c: Context) => {
    const reason = !natter.listening ? 'not listening' : (natter.outOfServiceReason ?? (await store.problem()));
    const ready = reason === undefined;
    const body = { status: ready ? 'ready' : 'not ready', ready, ...(reason === undefined ? {} : { reason }), ...(node === undefined ? {} : { node }) };
    return c.json(body, ready ? 200 : 503);
  };
}

export function httpApp(natter: NatterServer, webRoot: string, options: AppOptions = {}): Hono {
  const app = new Hono();
  const hsts = options.hstsSeconds ?? 0;
  app.use(
    '*',
    secureHeaders({
      // Everything from the same origin only. connect-src 'self' covers fetch (the emoji data) and, in current
      // browsers, ws:/wss: to the same host and port (CSP 3, "self" matches the WebSocket schemes).
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        workerSrc: ["'self'"],
        manifestSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: 'DENY',
      referrerPolicy: 'no-referrer',
      strictTransportSecurity: hsts > 0 ? `max-age=${hsts}` : false,
      // A header a route set itself stays (uploads relax Cross-Origin-Resource-Policy for their images).
      overwrite: false,
    }),
  );
  // gzip or deflate for text, JSON and JavaScript of 1 kB and more (the emoji data: 440 kB, 75 kB gzipped).
  app.use('*', compress());
  app.get('/healthz', healthz(natter, options.node));
  app.get('/readyz', readyz(natter, options.node));
  if (options.metrics !== undefined) app.get('/metrics', metricsRoute(options.metrics));
  if (options.uploads !== undefined) app.route('/uploads', options.uploads);
  for (const mounted of options.routes ?? []) app.route(mounted.path, mounted.app);
  if (existsSync(`${webRoot}/index.html`)) {
    app.use('/*', staticFiles(webRoot));
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

async function bindServer(server: http.Server, address: ListenAddress): Promise<ListenAddress> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : address;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}

export async function startHttp(natter: NatterServer, listen: readonly ListenAddress[], options: HttpOptions): Promise<HttpFace> {
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxMessageBytes ?? 8191 + 512,
    handleProtocols: (protocols) => chooseSubprotocol(protocols),
  });
  const upgradeHandler =
    (secure: boolean) =>
    (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      if (!WEBSOCKET_PATHS.has(path)) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      sockets.handleUpgrade(request, socket, head, (ws) => {
        natter.acceptWebSocket(ws, natter.httpClientAddress(request.socket.remoteAddress, request.socket.remotePort, request.headers['x-forwarded-for']), secure);
      });
    };
  const requestHandler = (app: Hono): http.RequestListener => {
    // HTTP/1.0 requests may come without Host (HAProxy's plain `option httpchk`): they are answered as for localhost,
    // not refused with 400.
    const listener = getRequestListener(app.fetch, { hostname: 'localhost' });
    // The listener handles its own errors (a 500 answer); its promise only says when the response is done.
    return (request, response) => {
      void listener(request, response);
    };
  };
  const servers: http.Server[] = [];
  const secureServers: https.Server[] = [];
  const addresses: ListenAddress[] = [];
  const httpsAddresses: ListenAddress[] = [];
  let metrics: ServerMetrics | undefined;
  const logBound = (address: ListenAddress, what: string): void => {
    options.logger.info({ address: `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}` }, what);
  };
  try {
    const uploads = options.uploads === undefined ? undefined : uploadRoutes(natter, options.uploads);
    const routes = options.routes ?? [];
    const node = options.node === undefined ? {} : { node: options.node };
    metrics = options.metrics === undefined ? undefined : new ServerMetrics(natter, { ...options.metrics, ...node });
    const shared = { routes, ...node, ...(uploads === undefined ? {} : { uploads }), ...(metrics === undefined ? {} : { metrics }) };
    const plainApp = httpApp(natter, options.webRoot, shared);
    for (const address of listen) {
      const server = http.createServer(requestHandler(plainApp));
      server.on('upgrade', upgradeHandler(false));
      servers.push(server);
      const bound = await bindServer(server, address);
      addresses.push(bound);
      logBound(bound, 'listening for HTTP and IRC over WebSocket');
    }
    if (options.https !== undefined) {
      const { identity, hstsSeconds } = options.https;
      const secureApp = httpApp(natter, options.webRoot, { hstsSeconds, ...shared });
      for (const address of options.https.listen) {
        // No client certificate is asked for: browsers would show a certificate picker (SASL EXTERNAL is for IRC over TLS).
        const server = https.createServer({ cert: identity.cert, key: identity.key, minVersion: MIN_TLS_VERSION, handshakeTimeout: 10_000 }, requestHandler(secureApp));
        server.on('upgrade', upgradeHandler(true));
        server.on('tlsClientError', (error, socket) => {
          options.logger.debug({ err: error.message, ip: socket.remoteAddress }, 'HTTPS handshake failed');
        });
        servers.push(server);
        secureServers.push(server);
        const bound = await bindServer(server, address);
        httpsAddresses.push(bound);
        logBound(bound, 'listening for HTTPS and IRC over secure WebSocket');
      }
    }
  } catch (error) {
    metrics?.close();
    await Promise.all(servers.filter((server) => server.listening).map(closeServer));
    throw error;
  }
  return {
    addresses,
    httpsAddresses,
    setTlsIdentity(identity) {
      for (const server of secureServers) server.setSecureContext({ cert: identity.cert, key: identity.key, minVersion: MIN_TLS_VERSION });
    },
    async close() {
      metrics?.close();
      for (const client of sockets.clients) client.terminate();
      await Promise.all(servers.map(closeServer));
    },
  };
}
