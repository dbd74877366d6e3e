/**
 * The composition root: the one place that picks the Bus and the Store and wires them into a running
 * server. `natter serve`, host mode and the tests all start Natter through here.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { authenticator } from '../auth/authenticator.js';
import { MemoryBus } from '../bus/memory.js';
import { RedisBus } from '../bus/redis.js';
import { RedisClaims } from '../bus/redis-claims.js';
import { ConfigError, parseHostPort, toServerSettings } from '../config/load.js';
import { defaultDataDir } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { StoreTimings } from '../core/counters.js';
import { newNodeId } from '../core/msgid.js';
import { dropNodeSessions, lostNodeReason } from '../core/nodes.js';
import type { Bus, Clock } from '../core/ports.js';
import { loadRegisteredRooms } from '../core/registered-rooms.js';
import type { ServerSettings, StsSettings } from '../core/settings.js';
import type { Store } from '../core/store.js';
import { loadCertificateFiles, loadOrCreateSelfSigned } from '../net/certificates.js';
import type { TlsMaterial } from '../net/certificates.js';
import { NatterServer } from '../net/server.js';
import type { ListenAddress } from '../net/server.js';
import { startHttp } from '../http/server.js';
import type { HttpFace, MountedRoutes } from '../http/server.js';
import { UploadLibrary } from '../http/upload-library.js';
import { openPostgresStore } from '../store/postgres/open.js';
import { openSqliteStore } from '../store/sqlite/open.js';
import { timedStore } from '../store/timed.js';

/** The built web client, shipped in the package (web/dist beside src/ and dist/). */
const WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const systemClock: Clock = { now: () => Date.now() };

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly configSource?: string;
  /** Re-reads the configuration for REHASH and SIGHUP. Without it, REHASH keeps the current settings. */
  readonly reload?: () => Promise<Config>;
  /** More HTTP routes (host mode's /host-login), on every HTTP and HTTPS listener. */
  readonly routes?: readonly MountedRoutes[];
  /**
   * Cluster mode: the other nodes declared this one lost (it was cut off from Redis for longer than the lease) and
   * dropped its users. It serves nobody from then on; `natter serve` exits so a supervisor starts a new node.
   */
  readonly onClusterLost?: (why: string) => void;
}

export interface RunningNatter {
  readonly server: NatterServer;
  /** The plain TCP addresses really bound (port 0 resolved). */
  readonly addresses: readonly ListenAddress[];
  readonly tlsAddresses: readonly ListenAddress[];
  /** Where HTTP (web client, WebSocket, /healthz) listens, if anywhere. */
  readonly httpAddresses: readonly ListenAddress[];
  /** Where HTTPS (the same, and wss) listens, if anywhere. */
  readonly httpsAddresses: readonly ListenAddress[];
  /** The TLS certificate in use when TLS or HTTPS listens: the newest one after REHASH or SIGHUP read new files. */
  readonly tls: TlsMaterial | undefined;
  readonly store: Store;
  readonly dataDir: string;
  stop(reason?: string): Promise<void>;
}

export function dataDirOf(config: Config): string {
  return config.data ?? defaultDataDir();
}

/** PostgreSQL when `database` is set, otherwise SQLite in the data folder. Never silently a fresh store elsewhere. */
export async function openStore(config: Config): Promise<Store> {
  if (config.database !== undefined) return openPostgresStore(config.database);
  return openSqliteStore(join(dataDirOf(config), 'natter.db'));
}

/** IRC over TLS and HTTPS share the one certificate. */
function usesTls(config: Config): boolean {
  return config.tls.listen.length > 0 || config.https.listen.length > 0;
}

async function tlsMaterial(config: Config): Promise<TlsMaterial | undefined> {
  if (!usesTls(config)) return undefined;
  const { cert, key } = config.tls;
  if (cert !== undefined && key !== undefined) return loadCertificateFiles(cert, key);
  if (cert !== undefined || key !== undefined) throw new ConfigError('tls: give both --tls-cert and --tls-key (tls.cert and tls.key), or neither for a self-signed certificate');
  return loadOrCreateSelfSigned(dataDirOf(config), [config.serverName, 'localhost', '127.0.0.1']);
}

/**
 * The web address of the HTTP face, for links clients follow (FILEHOST, uploads' Location): `http.publicUrl`, else
 * the first HTTPS listener (soju.im/FILEHOST: clients on TLS refuse plain http), else the first HTTP one. A wildcard
 * address (0.0.0.0, ::) names no host a client can reach, so the server's name stands in for it.
 */
export function publicBaseUrl(config: Config, https: readonly ListenAddress[], http: readonly ListenAddress[]): string | undefined {
  if (config.http.publicUrl !== undefined) return config.http.publicUrl;
  const [scheme, address] = https[0] !== undefined ? ['https', https[0]] : http[0] !== undefined ? ['http', http[0]] : [undefined, undefined];
  if (scheme === undefined) return undefined;
  const host = address.host === '0.0.0.0' || address.host === '::' ? config.serverName : address.host;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

function stsSettings(config: Config, tlsAddresses: readonly ListenAddress[]): StsSettings | undefined {
  const port = tlsAddresses[0]?.port;
  if (port === undefined || config.tls.sts.durationSeconds === 0) return undefined;
  return { port, durationSeconds: config.tls.sts.durationSeconds, preload: config.tls.sts.preload };
}

/** Writes an error line; once the server exists it goes through server.log, which counts it for the metrics. */
type ErrorLog = (fields: Record<string, unknown>, message: string) => void;

/** The in-process bus, or in cluster mode the Redis one (docs/cluster.md). */
async function openBus(config: Config, logger: Logger, logError: ErrorLog, onHealth: (healthy: boolean, why: string) => void): Promise<Bus> {
  // A node id new at every start: session ids, and guests' view-once keys built on them, never repeat a past run's.
  const nodeId = newNodeId();
  if (config.cluster === undefined) return new MemoryBus(nodeId);
  try {
    const bus = await RedisBus.connect({
      url: config.cluster.redis,
      network: config.cluster.namespace,
      nodeId,
      leaseMs: config.cluster.leaseMs,
      // Remote events wait until this node has copied the running network's state (network.bootstrap() below).
      bootstrap: true,
      onError(error) {
        logError({ kind: 'bus', err: error }, 'cluster bus');
      },
      onHealth,
    });
    logger.info({ node: nodeId, namespace: config.cluster.namespace }, 'cluster: joined');
    return bus;
  } catch (error) {
    throw new ConfigError(`cluster: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * What `natter cluster status` shows of this node, kept in its lease (every lease renewal rewrites it): looked at
 * every STATUS_CHECK_MS, and written at once when the session count or the service state changed.
 */
function reportStatus(bus: RedisBus, server: NatterServer, config: Config): NodeJS.Timeout {
  const startedAt = Date.now();
  let reported = '';
  const report = (): void => {
    const now = `${String(server.connections.size)} ${String(server.inService)}`;
    if (now === reported) return;
    reported = now;
    bus.setStatus({ server: config.serverName, host: hostname(), pid: process.pid, startedAt, sessions: server.connections.size, inService: server.inService });
  };
  report();
  const timer = setInterval(report, STATUS_CHECK_MS);
  timer.unref();
  return timer;
}

/** At most this stale; a write to Redis only on a change, so at most a few per second however busy the node. */
const STATUS_CHECK_MS = 250;

export async function startNatter(options: StartOptions): Promise<RunningNatter> {
  const { config, logger } = options;
  // /metrics shows store latencies: the store is measured at this one place (store/timed.ts), when metrics are served.
  const servesMetrics = config.metrics.enabled && (config.http.listen.length > 0 || config.https.listen.length > 0);
  const storeTimings = servesMetrics ? new StoreTimings() : undefined;
  const openedStore = await openStore(config);
  const store = storeTimings === undefined ? openedStore : timedStore(openedStore, storeTimings);
  let tls: TlsMaterial | undefined;
  try {
    tls = await tlsMaterial(config);
  } catch (error) {
    await store.close();
    throw error;
  }
  // Known once the TLS listeners are bound (port 0 resolves then); settingsOf reads it on every reload.
  const bound: { sts: StsSettings | undefined; http: readonly ListenAddress[]; https: readonly ListenAddress[] } = { sts: undefined, http: [], https: [] };
  const fileHostOf = (next: Config): string | undefined => {
    const base = next.uploads.enabled ? publicBaseUrl(next, bound.https, bound.http) : undefined;
    return base === undefined ? undefined : `${base}/uploads`;
  };
  const settingsOf = (next: Config): ServerSettings => {
    const fileHost = fileHostOf(next);
    return { ...toServerSettings(next), sts: bound.sts, ...(fileHost === undefined ? {} : { fileHost }) };
  };
  const reload = options.reload;
  let httpFace: HttpFace | undefined;
  let bus: Bus;
  // Set once the server exists; the bus reports changes of health only after it has connected.
  const health = { change: (_healthy: boolean, _why: string): void => undefined };
  // Errors of the bus and the claims before the server exists are only logged; then server.log counts them too.
  const errors: { log: ErrorLog } = {
    log: (fields, message) => {
      logger.error(fields, message);
    },
  };
  try {
    bus = await openBus(
      config,
      logger,
      (fields, message) => {
        errors.log(fields, message);
      },
      (healthy, why) => {
        health.change(healthy, why);
      },
    );
  } catch (error) {
    await store.close();
    throw error;
  }
  // Cluster mode: nicks and the founding of rooms are claimed in Redis, atomically across nodes (docs/cluster.md).
  let claims: RedisClaims | undefined;
  if (config.cluster !== undefined) {
    try {
      claims = await RedisClaims.connect({
        url: config.cluster.redis,
        network: config.cluster.namespace,
        onError(error) {
          errors.log({ kind: 'bus', err: error }, 'cluster claims');
        },
      });
    } catch (error) {
      await bus.close();
      await store.close();
      throw new ConfigError(`cluster: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const server: NatterServer = new NatterServer({
    settings: settingsOf(config),
    bus,
    ...(claims === undefined ? {} : { claims }),
    clock: systemClock,
    auth: authenticator,
    store,
    logger,
    version: `natter-${VERSION}`,
    configSource: options.configSource ?? 'built-in defaults',
    trustedProxies: config.proxy.trusted,
    reloadSettings: async (): Promise<ServerSettings> => {
      if (reload === undefined) return server.settings;
      const next = await reload();
      // Refused here too (server.rehash() checks it after this returns), so a refused reload swaps no certificate.
      if (next.casemapping !== server.settings.casemapping) throw new ConfigError('casemapping cannot change while the server runs; restart to change it');
      // A new certificate is read (and checked) before anything changes; the listeners keep their ports, and
      // connections already open keep the certificate they were made with.
      const nextTls = tls !== undefined && usesTls(next) ? await tlsMaterial(next) : undefined;
      if (nextTls !== undefined && tls !== undefined) {
        server.setTlsIdentity(nextTls);
        httpFace?.setTlsIdentity(nextTls);
        if (nextTls.fingerprint !== tls.fingerprint) logger.info({ fingerprint: nextTls.fingerprint, certificate: nextTls.source }, 'TLS certificate reloaded (SHA-256 fingerprint)');
        tls = nextTls;
      }
      return settingsOf(next);
    },
  });
  errors.log = (fields, message) => {
    server.log('error', fields, message);
  };
  // Cluster mode (issue 9): out of service while Redis is out of reach; a lost node's users are dropped by one survivor.
  health.change = (healthy: boolean, why: string): void => {
    if (healthy) {
      logger.warn({ why }, 'cluster: back in service');
      server.setOutOfService(undefined);
      return;
    }
    server.log('error', { kind: 'bus', why }, 'cluster: out of service');
    server.setOutOfService(`${config.serverName} lost the cluster; reconnect to another server`);
    if (why.startsWith('this node was declared lost')) options.onClusterLost?.(why);
  };
  bus.onNodeLost((nodeId) => {
    const users = dropNodeSessions(server.network, nodeId, lostNodeReason(config.serverName));
    logger.warn({ node: nodeId, users }, 'cluster: a node was lost; its users quit');
    // After the quits: their nicks and founded rooms are free again for everyone.
    void claims?.releaseNode(nodeId);
  });
  const statusTimer = bus instanceof RedisBus ? reportStatus(bus, server, config) : undefined;
  // Kept whether or not HTTP listens now: REDACT and account drops still delete uploads stored before.
  const uploads = new UploadLibrary(store, join(dataDirOf(config), 'uploads'), (error, what) => {
    server.log('error', { kind: 'upload', err: error }, what);
  });
  server.uploads = uploads;
  const addresses: ListenAddress[] = [];
  const tlsAddresses: ListenAddress[] = [];
  try {
    // Registered rooms are in memory before the first client can JOIN them (docs/chanserv.md).
    logger.info({ rooms: await loadRegisteredRooms(server.network, store) }, 'registered rooms loaded');
    // Cluster mode: the users and rooms of the nodes already running, before this one takes a client (docs/cluster.md).
    if (await server.network.bootstrap()) {
      logger.info({ users: server.network.registeredCount, rooms: server.network.channels.size }, 'cluster: copied the running network');
    }
    await server.applyRetention();
    // View-once messages that expired while the server was down go before anyone can ask for them.
    await server.sweepViewOnce();
    for (const listen of config.listen) addresses.push(await server.listen(parseHostPort(listen)));
    if (tls !== undefined) for (const listen of config.tls.listen) tlsAddresses.push(await server.listenTls(parseHostPort(listen), tls));
    const https = tls !== undefined && config.https.listen.length > 0 ? { listen: config.https.listen.map(parseHostPort), identity: tls, hstsSeconds: config.tls.sts.durationSeconds } : undefined;
    if (config.http.listen.length > 0 || https !== undefined) {
      const node = config.cluster === undefined ? {} : { node: bus.nodeId };
      const metrics = servesMetrics ? { metrics: { ...(config.metrics.token === undefined ? {} : { token: config.metrics.token }), ...(storeTimings === undefined ? {} : { storeTimings }) } } : {};
      httpFace = await startHttp(server, config.http.listen.map(parseHostPort), {
        webRoot: WEB_ROOT,
        logger,
        uploads,
        routes: options.routes ?? [],
        ...node,
        ...metrics,
        ...(https === undefined ? {} : { https }),
      });
      bound.http = httpFace.addresses;
      bound.https = httpFace.httpsAddresses;
    }
  } catch (error) {
    if (statusTimer !== undefined) clearInterval(statusTimer);
    await httpFace?.close();
    await server.shutdown('Startup failed', 0);
    await claims?.close();
    await store.close();
    throw error;
  }
  bound.sts = stsSettings(config, tlsAddresses);
  server.network.settings = settingsOf(config);
  if (tls !== undefined) logger.info({ fingerprint: tls.fingerprint, certificate: tls.source }, 'TLS certificate (SHA-256 fingerprint)');
  logger.info({ store: store.description }, 'store open');
  return {
    server,
    addresses,
    tlsAddresses,
    get tls() {
      return tls;
    },
    store,
    dataDir: dataDirOf(config),
    httpAddresses: httpFace?.addresses ?? [],
    httpsAddresses: httpFace?.httpsAddresses ?? [],
    async stop(reason = 'Server shutting down') {
      if (statusTimer !== undefined) clearInterval(statusTimer);
      await server.shutdown(reason);
      // Whatever this node's users still held (a room claim whose release raced the shutdown) is free for the others.
      await claims?.releaseNode(bus.nodeId);
      await claims?.close();
      await httpFace?.close();
      await store.close();
    },
  };
}

/** SIGINT and SIGTERM stop the server once (telling its users `reason`), flush the log, and exit. */
export function stopOnSignals(natter: RunningNatter, logger: Logger, reason: string, before: () => Promise<void> = () => Promise.resolve()): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // `before` (host mode: the mDNS goodbyes) must not keep the server from stopping: not if it fails, nor for long.
    const beforeDone = Promise.race([before(), new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref())]);
    void beforeDone
      .catch((error: unknown) => {
        logger.warn({ err: error }, 'could not stop cleanly before shutting down');
      })
      .then(() => natter.stop(reason))
      .then(() => {
        logger.flush();
        process.exit(0);
      });
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
}
