/**
 * The running server: listeners, the connections they accept, the shared timers (one wheel for pings and
 * timeouts, one for flood-delayed commands; no per-connection timers), and the glue from a connection to
 * the command table.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { CommandContext } from '../commands/context.js';
import type { LogLevel, ServerServices, SessionLogger } from '../commands/context.js';
import { canPipeline, dispatch } from '../commands/index.js';
import { Network } from '../core/network.js';
import { Outbound } from '../core/outbound.js';
import type { Authenticator } from '../core/auth.js';
import type { Counters, TransportKind } from '../core/counters.js';
import type { LoginAttempts } from '../core/auth.js';
import type { Bus, Claims, Clock } from '../core/ports.js';
import type { Store } from '../core/store.js';
import type { UploadJanitor } from '../core/uploads.js';
import type { CapValues } from '../protocol/caps.js';
import { Cap, CAPABILITIES, findCapability, isOffered } from '../protocol/caps.js';
import { Device, Session } from '../core/session.js';
import type { FloodSettings, ServerSettings } from '../core/settings.js';
import { renameIntruders } from '../core/accounts.js';
import { quit } from '../core/users.js';
import { detachDevice, leaveNode } from '../core/devices.js';
import { HistoryRecorder } from '../core/history-recorder.js';
import { forgetExpiredOpenings, ViewOnceStoreError } from '../core/view-once.js';
import type { IrcMessage } from '../protocol/message.js';
import { Connection, EXCESS_FLOOD, SENDQ_EXCEEDED } from './connection.js';
import { ConnectionRate } from './connection-rate.js';
import { addressList, inAddressList } from './address-list.js';
import { lastForwardedFor, ProxiedAddresses, readProxyHeader } from './proxy-protocol.js';
import type { Transport } from './connection.js';
import type { WebSocket } from 'ws';
import { WebSocketTransport } from './websocket.js';
import type { ConnectionHost } from './connection.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface ServerOptions {
  readonly settings: ServerSettings;
  readonly bus: Bus;
  /** Who holds each nick and founded each room across the cluster (issue 9): RedisClaims with RedisBus; default in memory. */
  readonly claims?: Claims | undefined;
  readonly clock: Clock;
  readonly auth: Authenticator;
  readonly store: Store;
  readonly logger: Logger;
  readonly version: string;
  readonly configSource: string;
  /** Reads the configuration again for REHASH/SIGHUP; rejects with a message naming the bad key. */
  readonly reloadSettings: () => Promise<ServerSettings>;
  /**
   * `proxy.trusted`: load balancers (addresses, CIDR blocks) whose connections to the IRC and HTTP listeners start
   * with a PROXY protocol header naming the client (net/proxy-protocol.ts). Read at start.
   */
  readonly trustedProxies?: readonly string[] | undefined;
}

const CONNECTION = Symbol('natter.connection');
type SocketWithConnection = Socket & { [CONNECTION]?: Connection };

/** How often the wheel looks at every connection for ping and registration timeouts. */
const WHEEL_INTERVAL_MS = 1000;
const FLOOD_INTERVAL_MS = 100;
/** A closing connection whose peer never finishes the close is destroyed after this. */
const CLOSE_GRACE_MS = 5000;
/**
 * maxConnections is enforced by `refusal`, which tells the client why; the listener itself silently drops sockets
 * only past this many more (refused ones being told, TLS handshakes not finished), as a bound on descriptors.
 */
const LISTENER_HEADROOM = 1024;
const CRLF = Buffer.from('\r\n');
/** How often history retention runs (and once at start). */
const RETENTION_INTERVAL_MS = 3_600_000;
/** How often expired view-once messages are deleted (and once at start): their content outlives viewOnce.ttlHours by little. */
const VIEW_ONCE_SWEEP_INTERVAL_MS = 600_000;

export interface TlsIdentity {
  readonly cert: string;
  readonly key: string;
}

/** SASL mechanisms offered in the sasl capability value and RPL_SASLMECHS. */
export const SASL_MECHANISMS = 'PLAIN,SCRAM-SHA-256,EXTERNAL';

export class NatterServer implements ConnectionHost, ServerServices {
  readonly network: Network;
  readonly auth: Authenticator;
  readonly store: Store;
  readonly loginThrottle: LoginAttempts;
  /** Set by the composition root: the upload store's janitor, so REDACT and account drops delete uploads too. */
  uploads: UploadJanitor | undefined = undefined;
  private readonly tlsListeners: tls.Server[] = [];
  readonly version: string;
  readonly configSource: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly listeners: net.Server[] = [];
  readonly connections = new Set<Connection>();
  /** The metrics' counters (the network's: core counts messages and deliveries in the same object). */
  readonly counters: Counters;
  private readonly perIp = new Map<string, number>();
  private readonly connectionRate: ConnectionRate;
  /** `proxy.trusted`, when set: the balancers whose connections carry a PROXY header. */
  private readonly balancers: net.BlockList | undefined;
  private readonly proxied = new ProxiedAddresses();
  /** Refusing for maxConnections now: logged once per spell, so a connection flood is not also a log flood. */
  private full = false;
  private readonly throttled = new Set<Connection>();
  private floodTimer: NodeJS.Timeout | undefined;
  private readonly wheel: NodeJS.Timeout;
  private readonly retention: NodeJS.Timeout;
  private readonly viewOnceSweep: NodeJS.Timeout;
  private nextSessionId = 0;
  private readonly reloadSettings: () => Promise<ServerSettings>;
  private stopping = false;
  /** Why this node takes no clients now (cluster mode: the shared state is out of reach), or undefined. */
  private outOfService: string | undefined;

  constructor(options: ServerOptions) {
    this.clock = options.clock;
    this.balancers = options.trustedProxies !== undefined && options.trustedProxies.length > 0 ? addressList(options.trustedProxies) : undefined;
    this.connectionRate = new ConnectionRate(() => this.clock.now());
    this.network = new Network(options.settings, options.clock, options.bus, options.claims);
    this.counters = this.network.counters;
    this.auth = options.auth;
    this.store = options.store;
    this.loginThrottle = this.network.loginAttempts;
    this.logger = options.logger;
    this.version = options.version;
    this.configSource = options.configSource;
    this.reloadSettings = options.reloadSettings;
    this.wheel = setInterval(() => {
      this.turnWheel();
    }, WHEEL_INTERVAL_MS);
    this.wheel.unref();
    this.network.recorder = new HistoryRecorder(options.store, (error, what) => {
      this.log('error', { kind: 'store', err: error }, what);
    });
    this.retention = setInterval(() => {
      void this.applyRetention();
    }, RETENTION_INTERVAL_MS);
    this.retention.unref();
    this.viewOnceSweep = setInterval(() => {
      void this.sweepViewOnce();
    }, VIEW_ONCE_SWEEP_INTERVAL_MS);
    this.viewOnceSweep.unref();
  }

  /**
   * Deletes the view-once messages expired at `now` and the uploads they link to (docs/extensions/view-once.md);
   * returns how many went. Never logs their content.
   */
  async sweepViewOnce(now = this.clock.now()): Promise<number> {
    try {
      const gone = await this.store.sweepViewOnce(now);
      forgetExpiredOpenings(this.network, now);
      for (const message of gone) {
        if (message.account !== undefined) void this.uploads?.deleteLinkedUploads(message.text, this.network.fold(message.account));
      }
      if (gone.length > 0) this.logger.info({ removed: gone.length }, 'expired view-once messages deleted');
      return gone.length;
    } catch (error) {
      this.log('error', { kind: 'store', err: new ViewOnceStoreError(error) }, 'view-once sweep failed');
      return 0;
    }
  }

  /** Drops history past the configured age and count (history.maxAgeDays, history.maxPerTarget). */
  async applyRetention(): Promise<number> {
    const { history } = this.settings;
    if (history.maxAgeDays === 0 && history.maxPerTarget === 0) return 0;
    try {
      const removed = await this.store.pruneHistory({
        ...(history.maxAgeDays > 0 ? { olderThan: this.clock.now() - history.maxAgeDays * 86_400_000 } : {}),
        ...(history.maxPerTarget > 0 ? { maxPerTarget: history.maxPerTarget } : {}),
      });
      if (removed > 0) this.logger.info({ removed }, 'history retention applied');
      return removed;
    } catch (error) {
      this.log('error', { kind: 'store', err: error }, 'history retention failed');
      return 0;
    }
  }

  get settings(): ServerSettings {
    return this.network.settings;
  }

  get sendQueueBytes(): number {
    return this.settings.limits.sendQueueBytes;
  }

  get flood(): FloodSettings {
    return this.settings.limits.flood;
  }

  now(): number {
    return this.clock.now();
  }

  /** Starts a plain TCP listener; resolves with the bound address (port 0 picks a free port). */
  async listen(address: ListenAddress): Promise<ListenAddress> {
    const server = this.balancerFront((socket) => {
      this.accept(socket, false);
      socket.resume();
    });
    return this.bind(server, address, 'listening for IRC over TCP');
  }

  /**
   * Starts a TLS listener (TLS 1.2 and newer). Client certificates are asked for but not required: their
   * fingerprint is what SASL EXTERNAL checks (IRCv3 SASL, "EXTERNAL").
   */
  async listenTls(address: ListenAddress, identity: TlsIdentity): Promise<ListenAddress> {
    const server = tls.createServer({
      cert: identity.cert,
      key: identity.key,
      minVersion: 'TLSv1.2',
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: 10_000,
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      this.accept(socket, true, typeof fingerprint === 'string' && fingerprint !== '' ? fingerprint.replace(/:/g, '').toLowerCase() : undefined);
    });
    server.on('tlsClientError', (error, socket) => {
      this.logger.debug({ err: error.message, ip: socket.remoteAddress }, 'TLS handshake failed');
    });
    this.tlsListeners.push(server);
    if (this.balancers === undefined) return this.bind(server, address, 'listening for IRC over TLS');
    // The header comes before the TLS handshake: a plain listener reads it, then hands the socket to the TLS server.
    return this.bind(this.balancerFront((socket) => server.emit('connection', socket)), address, 'listening for IRC over TLS');
  }

  /**
   * A plain listener that reads the PROXY header of connections from trusted balancers and gives every socket to
   * `next` (paused when a header was read): the IRC listener's own, or the TLS server's, which then never listens.
   */
  private balancerFront(next: (socket: Socket) => void): net.Server {
    return net.createServer({ noDelay: true }, (socket) => {
      this.fromBalancer(socket, next);
    });
  }

  /** Gives `socket` to `next`, after its PROXY header when it comes from a trusted balancer. */
  private fromBalancer(socket: Socket, next: (socket: Socket) => void): void {
    if (this.balancers === undefined || !inAddressList(this.balancers, socket.remoteAddress)) {
      next(socket);
      return;
    }
    readProxyHeader(socket, this.proxied, next, (reason) => {
      this.logger.info({ ip: socket.remoteAddress, reason }, 'refused: a bad PROXY protocol header from a trusted balancer');
    });
  }

  /**
   * The client's address of a connection from `address`:`port`: the one its PROXY header named, else `address`.
   * The HTTP face asks too (WebSocket, uploads).
   */
  clientAddress(address: string | undefined, port: number | undefined): string | undefined {
    return this.balancers === undefined ? address : this.proxied.clientOf(address, port);
  }

  /**
   * The client's address of an HTTP request (WebSocket, uploads): from a trusted balancer in HTTP mode, the one it
   * appended to X-Forwarded-For; otherwise as for IRC (a PROXY header, else the peer).
   */
  httpClientAddress(address: string | undefined, port: number | undefined, forwardedFor: string | readonly string[] | undefined): string | undefined {
    if (this.balancers === undefined) return address;
    if (forwardedFor !== undefined && inAddressList(this.balancers, address)) return lastForwardedFor(forwardedFor) ?? address;
    return this.proxied.clientOf(address, port);
  }

  /** Swaps the certificate of every TLS listener; connections already open keep theirs (REHASH, SIGHUP). */
  setTlsIdentity(identity: TlsIdentity): void {
    for (const server of this.tlsListeners) server.setSecureContext({ cert: identity.cert, key: identity.key, minVersion: 'TLSv1.2' });
  }

  private async bind(server: net.Server, address: ListenAddress, what: string): Promise<ListenAddress> {
    server.maxConnections = this.settings.limits.maxConnections > 0 ? this.settings.limits.maxConnections + LISTENER_HEADROOM : Infinity;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => {
      this.log('error', { kind: 'listener', err: error }, 'listener error');
    });
    // Past maxConnections (and its headroom) node:net closes new sockets itself, unseen by accept(): counted here.
    server.on('drop', () => {
      this.counters.connectionsRefused.max_connections++;
    });
    this.listeners.push(server);
    const bound = server.address();
    const result = typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : address;
    // "[::1]:6667" for IPv6, the form --listen takes, so the logged address can be pasted back.
    const host = result.host.includes(':') ? `[${result.host}]` : result.host;
    this.logger.info({ address: `${host}:${result.port}` }, what);
    return result;
  }

  /** Takes a connected socket from any listener: TCP and TLS enter the same pipeline. */
  accept(socket: Socket, secure: boolean, certfp?: string): void {
    const ip = normalizeIp(this.clientAddress(socket.remoteAddress, socket.remotePort) ?? 'unknown');
    const refusal = this.refusal(ip);
    if (refusal !== undefined) {
      if (refusal === '') socket.destroy();
      else refuse(socket, `ERROR :Closing Link: ${ip} (${refusal})\r\n`);
      return;
    }
    socket.setNoDelay(true);
    const connection = this.admit(socket, ip, secure ? 'tls' : 'tcp', secure, certfp);
    (socket as SocketWithConnection)[CONNECTION] = connection;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('end', onSocketEnd);
  }

  /**
   * Takes a WebSocket accepted by http/ (IRCv3 WebSocket): the same pipeline as TCP, one line per message. `secure`
   * when it came over HTTPS.
   */
  acceptWebSocket(socket: WebSocket, remoteAddress: string | undefined, secure: boolean): void {
    const ip = normalizeIp(remoteAddress ?? 'unknown');
    const refusal = this.refusal(ip);
    if (refusal !== undefined) {
      // 1008: policy violation (RFC 6455), with the reason a TCP client would read in ERROR.
      socket.close(1008, refusal === '' ? 'Server shutting down' : refusal);
      return;
    }
    const connection = this.admit(new WebSocketTransport(socket), ip, 'websocket', secure, undefined);
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      connection.receive(Buffer.concat([bytes, CRLF]));
    });
    socket.on('error', (error: Error) => {
      connection.closeReason ??= `Read error: ${error.message}`;
    });
    socket.on('close', () => {
      connection.closeReason ??= 'Remote host closed the connection';
      this.connectionClosed(connection, 'Connection closed');
    });
  }

  /** Why a new connection from `ip` is not taken: '' while stopping, else a reason past one of the limits. */
  private refusal(ip: string): string | undefined {
    const refused = this.counters.connectionsRefused;
    if (this.stopping) {
      refused.shutting_down++;
      return '';
    }
    if (this.outOfService !== undefined) {
      refused.out_of_service++;
      return this.outOfService;
    }
    const { limits } = this.settings;
    if (limits.maxConnections > 0 && this.connections.size >= limits.maxConnections) {
      refused.max_connections++;
      if (!this.full) this.logger.warn({ ip, connections: this.connections.size }, 'refused: maxConnections reached');
      this.full = true;
      return 'Server is full; try again later';
    }
    this.full = false;
    if (limits.connectionsPerIp > 0 && (this.perIp.get(ip) ?? 0) >= limits.connectionsPerIp) {
      refused.per_ip_limit++;
      this.logger.info({ ip }, 'refused: too many connections from one address');
      return 'Too many connections from your IP address';
    }
    // Last, so that only a connection otherwise taken spends the address's budget.
    const rate = this.connectionRate.take(ip, limits.connectionsPerIpPerMinute, limits.connectionRateExempt);
    if (!rate.admitted) {
      refused.per_ip_rate++;
      if (rate.firstRefusal) this.logger.info({ ip }, 'refused: too many new connections from one address');
      return `Too many new connections from your IP address; try again in ${rate.retryAfterSeconds} seconds`;
    }
    return undefined;
  }

  private admit(transport: Transport, ip: string, kind: TransportKind, secure: boolean, certfp: string | undefined): Connection {
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const connection = new Connection(transport, this, ip);
    // "<node>.<n>": unique across the nodes of a network, so events name sessions the same everywhere (issue 9).
    const id = `${this.network.bus.nodeId}.${String(++this.nextSessionId)}`;
    const session = new Session(id, displayHost(ip), ip, Math.floor(this.clock.now() / 1000));
    session.node = this.network.bus.nodeId;
    const device = new Device(id, connection);
    device.secure = secure;
    device.certfp = certfp;
    session.secure = secure;
    session.connectedAtMs = this.clock.now();
    session.devices.push(device);
    connection.device = device;
    this.network.addLocalSession(session);
    // One child logger per connection: every line about it carries its session id (docs/operations.md).
    const logger = this.logger.child({ session: id });
    connection.context = new CommandContext(this, session, device, logger);
    this.connections.add(connection);
    this.counters.connectionsAccepted[kind]++;
    logger.info({ ip, transport: kind, secure }, 'connection opened');
    return connection;
  }

  capValues(device: Device): CapValues {
    const { limits } = this.settings;
    const values = new Map<string, string>([
      ['sasl', SASL_MECHANISMS],
      ['draft/multiline', `max-bytes=${limits.multilineMaxBytes},max-lines=${limits.multilineMaxLines}`],
    ]);
    if (this.settings.accounts.registration) values.set('draft/account-registration', 'before-connect,custom-account-name');
    const { sts } = this.settings;
    if (sts !== undefined) {
      // IRCv3 STS: a plaintext connection learns where TLS is; a TLS connection learns for how long to insist.
      values.set('sts', device.secure ? `duration=${sts.durationSeconds}${sts.preload ? ',preload' : ''}` : `port=${sts.port}`);
    }
    return values;
  }

  dispatch(connection: Connection, message: IrcMessage): Promise<void> | undefined {
    return dispatch(connection.context, message);
  }

  canPipeline(connection: Connection, message: IrcMessage): boolean {
    return canPipeline(connection.context, message);
  }

  replyRaw(connection: Connection, command: string, params: string[]): void {
    // Numerics are addressed to the client's nick; FAIL (standard-replies) starts with the command instead.
    const addressed = /^\d{3}$/.test(command) ? [connection.session.nick, ...params] : params;
    connection.send(new Outbound(this.settings.serverName, command, addressed, this.clock.now()));
  }

  markThrottled(connection: Connection): void {
    this.throttled.add(connection);
    this.floodTimer ??= setInterval(() => {
      this.drainThrottled();
    }, FLOOD_INTERVAL_MS);
  }

  private drainThrottled(): void {
    for (const connection of this.throttled) {
      if (connection.closing || !connection.drainHeld()) this.throttled.delete(connection);
    }
    if (this.throttled.size === 0 && this.floodTimer !== undefined) {
      clearInterval(this.floodTimer);
      this.floodTimer = undefined;
    }
  }

  /** Called once per socket when it is gone: the session leaves the network (QUIT seen by its rooms). */
  connectionClosed(connection: Connection, fallbackReason: string): void {
    if (connection.closed) return;
    connection.closed = true;
    this.connections.delete(connection);
    this.throttled.delete(connection);
    const remaining = (this.perIp.get(connection.ip) ?? 1) - 1;
    if (remaining <= 0) this.perIp.delete(connection.ip);
    else this.perIp.set(connection.ip, remaining);
    const { session } = connection;
    this.logClosed(connection, connection.closeReason ?? fallbackReason);
    // One device of several going leaves the user online (multi-device).
    if (detachDevice(session, connection.device)) return;
    if (this.network.sessions.get(session.id) === session) {
      // Its last device here, while it has devices on other nodes: it stays on the network (cluster mode).
      if (session.registered && leaveNode(this.network, session, connection.device)) return;
      quit(this.network, session, connection.closeReason ?? fallbackReason);
    }
  }

  /** Registration timeouts, PINGs to idle clients and ping timeouts, in one pass over all connections. */
  private turnWheel(): void {
    const now = this.clock.now();
    const { limits } = this.settings;
    const registrationMs = limits.registrationTimeoutSeconds * 1000;
    const pingIntervalMs = limits.pingIntervalSeconds * 1000;
    const pingTimeoutMs = limits.pingTimeoutSeconds * 1000;
    if (this.network.nickDeadlines.size > 0) renameIntruders(this.network);
    for (const connection of this.connections) {
      if (connection.closing) {
        if (now - connection.closingSince > CLOSE_GRACE_MS) connection.abort(connection.closeReason ?? 'Closed');
        continue;
      }
      if (!connection.session.registered) {
        if (now - connection.connectedAt > registrationMs) connection.close('Registration timeout');
        continue;
      }
      const idle = now - connection.lastActivity;
      if (connection.pingSentAt > connection.lastActivity) {
        if (now - connection.pingSentAt > pingTimeoutMs) connection.close(`Ping timeout: ${Math.round(idle / 1000)} seconds`);
      } else if (idle > pingIntervalMs) {
        connection.pingSentAt = now;
        connection.send(new Outbound(undefined, 'PING', [this.settings.serverName], now));
      }
    }
  }

  /** Counts SendQ and flood disconnects, and writes the connection's last log line (a client's quit text left out). */
  private logClosed(connection: Connection, reason: string): void {
    const { session } = connection;
    const fields = {
      reason: reason.startsWith('Quit: ') ? 'Quit' : reason,
      nick: session.nick === '*' ? undefined : session.nick,
      registered: session.registered,
    };
    const logger = connection.context.logger ?? this.logger;
    if (reason === SENDQ_EXCEEDED) {
      this.counters.sendQueueDrops++;
      logger.warn(fields, 'connection closed');
    } else if (reason === EXCESS_FLOOD) {
      this.counters.floodDisconnects++;
      logger.warn(fields, 'connection closed');
    } else {
      logger.info(fields, 'connection closed');
    }
  }

  unregisteredCount(): number {
    // Sessions of this node that have not registered yet; sessions minus registered users, without walking them.
    return Math.max(0, this.network.sessions.size - this.network.registeredCount);
  }

  log(level: LogLevel, fields: Record<string, unknown>, message: string, logger: SessionLogger = this.logger): void {
    if (level === 'error') {
      const kind = fields['kind'];
      this.counters.countError(typeof kind === 'string' ? kind : 'internal');
    }
    logger[level](fields, message);
  }

  async rehash(): Promise<void> {
    const next = await this.reloadSettings();
    if (next.casemapping !== this.settings.casemapping) {
      throw new Error('casemapping cannot change while the server runs; restart to change it');
    }
    const offeredBefore = new Map<Connection, Map<string, string>>();
    for (const connection of this.connections) offeredBefore.set(connection, offeredCaps(this.capValues(connection.device)));
    this.network.settings = next;
    this.announceCapChanges(offeredBefore);
    this.logger.info({ source: this.configSource }, 'configuration reloaded');
  }

  /**
   * cap-notify: connections with it are told of capabilities the reload added (CAP NEW, with values for 302) or
   * took away (CAP DEL, which also disables them), e.g. account registration switched off, new multiline limits.
   */
  private announceCapChanges(before: ReadonlyMap<Connection, Map<string, string>>): void {
    for (const [connection, old] of before) {
      const { device } = connection;
      if (!device.hasCap(Cap.capNotify) || connection.closing) continue;
      const now = offeredCaps(this.capValues(device));
      const removed = [...old.keys()].filter((name) => !now.has(name));
      // A changed value is announced as NEW again (IRCv3 cap-notify: "the server MAY send CAP NEW with the new value").
      const added = [...now.keys()].filter((name) => !old.has(name) || old.get(name) !== now.get(name));
      const nick = connection.session.nick;
      if (removed.length > 0) {
        for (const name of removed) {
          const def = findCapability(name);
          if (def !== undefined) device.caps &= ~def.bit;
        }
        connection.send(new Outbound(this.settings.serverName, 'CAP', [nick, 'DEL', removed.join(' ')], this.clock.now()));
      }
      if (added.length > 0) {
        const tokens = added.map((name) => {
          const value = now.get(name) ?? '';
          return device.capVersion >= 302 && value !== '' ? `${name}=${value}` : name;
        });
        connection.send(new Outbound(this.settings.serverName, 'CAP', [nick, 'NEW', tokens.join(' ')], this.clock.now()));
      }
    }
  }

  /**
   * Cluster mode (issue 9): while this node cannot reach the shared state (Redis), it serves nobody rather than split
   * the network: every client is told why and closed (a load balancer sends them to a live node), and new ones are
   * refused with the reason, until `undefined` puts the node back in service.
   */
  setOutOfService(reason: string | undefined): void {
    this.outOfService = reason;
    if (reason !== undefined) for (const connection of this.connections) connection.close(reason);
  }

  /** True while every listener this server bound still listens (the readiness check, /readyz). */
  get listening(): boolean {
    return this.listeners.length > 0 && this.listeners.every((listener) => listener.listening);
  }

  /** Why this node takes no clients now ('shutting down', or cluster mode's reason), or undefined while it does. */
  get outOfServiceReason(): string | undefined {
    return this.stopping ? 'shutting down' : this.outOfService;
  }

  get inService(): boolean {
    return this.outOfServiceReason === undefined;
  }

  /** Stops accepting, tells every client why with an ERROR line, and waits (bounded) for them to go. */
  async shutdown(reason: string, timeoutMs = 3000): Promise<void> {
    this.stopping = true;
    clearInterval(this.wheel);
    clearInterval(this.retention);
    clearInterval(this.viewOnceSweep);
    if (this.floodTimer !== undefined) clearInterval(this.floodTimer);
    const closed = this.listeners.map(
      (listener) =>
        new Promise<void>((resolve) => {
          listener.close(() => {
            resolve();
          });
        }),
    );
    for (const connection of this.connections) connection.close(reason);
    const deadline = Date.now() + timeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const connection of this.connections) connection.abort(reason);
    await Promise.all(closed);
    await this.network.bus.close();
  }
}

/**
 * Says why and closes a socket we do not take on. Its input is read and discarded, so the peer's close is
 * seen (a socket never read never notices it, keeping its descriptor and holding up server.close());
 * errors are swallowed (an unhandled 'error' would crash the process); a peer that never closes is cut.
 */
function refuse(socket: Socket, line: string): void {
  const timer = setTimeout(() => {
    socket.destroy();
  }, CLOSE_GRACE_MS);
  timer.unref();
  socket.on('error', () => {
    socket.destroy();
  });
  socket.once('close', () => {
    clearTimeout(timer);
  });
  socket.resume();
  socket.end(line);
}

/** Shared socket handlers (no per-connection closures): the connection rides on the socket. */
function onSocketData(this: SocketWithConnection, chunk: Buffer): void {
  this[CONNECTION]?.receive(chunk);
}

function onSocketError(this: SocketWithConnection, error: NodeJS.ErrnoException): void {
  const connection = this[CONNECTION];
  if (connection !== undefined) connection.closeReason ??= error.code === 'ECONNRESET' ? 'Connection reset by peer' : `Read error: ${error.message}`;
}

function onSocketEnd(this: SocketWithConnection): void {
  const connection = this[CONNECTION];
  if (connection !== undefined && !connection.closing) connection.closeReason ??= 'Remote host closed the connection';
}

function onSocketClose(this: SocketWithConnection): void {
  const connection = this[CONNECTION];
  if (connection === undefined) return;
  connection.host.connectionClosed(connection, 'Connection closed');
}

/** "::ffff:1.2.3.4" is an IPv4 client on a dual-stack socket. */
function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** A host starting with ':' would break the line format (":nick!user@::1"), so IPv6 gets a leading 0. */
function displayHost(ip: string): string {
  return ip.startsWith(':') ? `0${ip}` : ip;
}

/** The capabilities a connection is offered now, with their values ('' for none). */
function offeredCaps(values: CapValues): Map<string, string> {
  const offered = new Map<string, string>();
  for (const cap of CAPABILITIES) if (isOffered(cap, values)) offered.set(cap.name, values.get(cap.name) ?? cap.value ?? '');
  return offered;
}
