/**
 * `natter host` (issue 8): one command turns this machine into a chat's host on the LAN. IRC over TCP and TLS and
 * the web client listen on every interface; the data (SQLite, the self-signed certificate, the host account) lives in
 * the user's data folder and is reused by every later run; the banner says how friends join; the host's browser
 * opens already signed in as the host, through a one-time link (host-login.ts).
 *
 * Ports: --port (IRC, default 6667), --tls-port (default --port + 30, so 6697, the usual IRC-over-TLS port, by
 * default) and --web-port (default 8080). `--port 0` picks free ports for all three that are not given (tests).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { parseConfig } from '../config/load.js';
import { defaultDataDir } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { openStore, startNatter, stopOnSignals } from './compose.js';
import type { RunningNatter } from './compose.js';
import { bannerText, lanAddresses, qrCodeOf, webUrl } from './host-banner.js';
import { advertiseHost } from './host-discovery.js';
import { HostError, prepareHost } from './host-identity.js';
import type { HostIdentity } from './host-identity.js';
import { HostLoginTokens, hostLoginRoutes } from './host-login.js';

export const DEFAULT_IRC_PORT = 6667;
/** --tls-port defaults to --port plus this: 6667 + 30 = 6697, where IRC clients look for TLS. */
export const TLS_PORT_OFFSET = 30;
export const DEFAULT_WEB_PORT = 8080;

export interface HostFlags {
  port?: number;
  tlsPort?: number;
  webPort?: number;
  name?: string;
  data?: string;
  /** false with --no-open. */
  open?: boolean;
  /** false with --no-advertise: no mDNS/DNS-SD (host-discovery.ts). */
  advertise?: boolean;
  logLevel?: string;
}

export interface HostPorts {
  readonly irc: number;
  readonly tls: number;
  readonly web: number;
  /** Whether --tls-port was left to follow --port (so a suggested --port must leave both free). */
  readonly tlsFollowsIrc: boolean;
}

/** commander's parser for a port option: a whole number 0-65535, or a one-line error naming the option. */
export function portOption(option: string): (value: string) => number {
  return (value) => {
    const port = Number(value);
    if (!/^\d{1,5}$/.test(value) || port > 65535) throw new HostError(`${option}: expected a port number from 0 to 65535, not "${value}"`);
    return port;
  };
}

export function hostPorts(flags: Pick<HostFlags, 'port' | 'tlsPort' | 'webPort'>): HostPorts {
  const irc = flags.port ?? DEFAULT_IRC_PORT;
  const tlsFollowsIrc = flags.tlsPort === undefined;
  const tls = flags.tlsPort ?? (irc === 0 ? 0 : irc + TLS_PORT_OFFSET);
  if (tls > 65535) throw new HostError(`the TLS port would be ${String(tls)} (--port + ${String(TLS_PORT_OFFSET)}); choose a lower --port or give --tls-port`);
  const web = flags.webPort ?? (irc === 0 ? 0 : DEFAULT_WEB_PORT);
  const ports = [irc, tls, web].filter((port) => port !== 0);
  if (new Set(ports).size !== ports.length) throw new HostError(`--port, --tls-port and --web-port must differ (IRC ${String(irc)}, TLS ${String(tls)}, web ${String(web)})`);
  return { irc, tls, web, tlsFollowsIrc };
}

function listenOn(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => {
      done(false);
    });
    probe.listen({ host, port, exclusive: true }, () => {
      probe.close(() => {
        done(true);
      });
    });
  });
}

/**
 * "::" takes IPv6 and, dual-stack, IPv4 too (Node's default on Linux, macOS and Windows); a machine without IPv6
 * gets "0.0.0.0".
 */
export async function wildcardHost(): Promise<string> {
  return (await listenOn('::', 0)) ? '::' : '0.0.0.0';
}

/** A port near `busy` that is free now (with its TLS partner when TLS follows --port), for the error's suggestion. */
async function suggestPort(host: string, busy: number, alsoFree: number | undefined): Promise<number | undefined> {
  const start = busy < 1024 ? Math.max(busy, 1) + 8000 : busy + 10;
  for (let candidate = start; candidate <= 65535 - (alsoFree ?? 0); candidate += 10) {
    if ((await listenOn(host, candidate)) && (alsoFree === undefined || (await listenOn(host, candidate + alsoFree)))) return candidate;
  }
  return undefined;
}

/** A listener that could not bind, as the one line the user needs: which port, what for, and which flag to change. */
async function bindRefusal(error: unknown, host: string, ports: HostPorts): Promise<HostError | undefined> {
  const { code, port } = (error ?? {}) as NodeJS.ErrnoException & { port?: number };
  if ((code !== 'EADDRINUSE' && code !== 'EACCES') || port === undefined) return undefined;
  const [what, flag, partner] =
    port === ports.irc
      ? ['IRC', '--port', ports.tlsFollowsIrc ? TLS_PORT_OFFSET : undefined]
      : port === ports.tls
        ? ['IRC over TLS', '--tls-port', undefined]
        : ['the web client', '--web-port', undefined];
  const suggestion = await suggestPort(host, port, partner);
  const next = suggestion === undefined ? `choose another with ${flag}` : `try ${flag} ${String(suggestion)}`;
  if (code === 'EACCES') return new HostError(`port ${String(port)} (${what}) needs administrator rights here; ${next}`);
  return new HostError(`port ${String(port)} (${what}) is in use; ${next}`);
}

/** A DNS-like server name for this machine ("mybox.local"), as Config requires a name with a dot. */
export function serverNameOf(hostname: string): string {
  const cleaned = hostname
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  if (cleaned === '') return 'natter.local';
  return cleaned.includes('.') ? cleaned : `${cleaned}.local`;
}

/** The network's name (ISUPPORT NETWORK, the web client's welcome) from the room's: letters, digits, "-", "_", ".". */
export function networkNameOf(title: string): string {
  const cleaned = title
    .trim()
    .replace(/\s+/g, '-')
    .replace(/[^A-Za-z0-9_.-]/g, '')
    .slice(0, 32);
  return cleaned === '' ? 'Natter' : cleaned;
}

function hostConfig(options: { host: string; ports: HostPorts; dataDir: string; logLevel: string; title: string | undefined; publicUrl: string | undefined; hostname: string }): Config {
  const at = (port: number): string => `${options.host.includes(':') ? `[${options.host}]` : options.host}:${String(port)}`;
  return parseConfig(
    {
      serverName: serverNameOf(options.hostname),
      networkName: networkNameOf(options.title ?? 'Natter'),
      listen: [at(options.ports.irc)],
      tls: { listen: [at(options.ports.tls)] },
      http: { listen: [at(options.ports.web)], ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }) },
      data: options.dataDir,
      logLevel: options.logLevel,
    },
    'natter host',
  );
}

/** Logs go to standard error, so the banner on standard output stays readable; warnings and errors only by default. */
function makeLogger(level: string): Logger {
  if (process.stderr.isTTY) return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, destination: 2 } } });
  return pino({ level }, process.stderr);
}

/** Not in CI, not with --no-open, and on Linux not without a display (a server over SSH has no browser to open). */
export function mayOpenBrowser(open: boolean | undefined, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (open === false) return false;
  const ci = env['CI'];
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') return false;
  if (platform !== 'darwin' && platform !== 'win32') return Boolean(env['DISPLAY'] ?? env['WAYLAND_DISPLAY']);
  return true;
}

/** The platform's "open this URL": open (macOS), start (Windows, through cmd), xdg-open (Linux and the rest). */
export function browserCommand(url: string, platform: NodeJS.Platform = process.platform): { command: string; args: string[] } {
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') {
    // cmd would read & | < > ^ % in the URL as its own syntax; ours never holds them (base64url token), checked anyway.
    if (!/^[A-Za-z0-9:/.[\]#=_-]+$/.test(url)) throw new HostError(`cannot hand ${url} to the shell safely`);
    return { command: 'cmd', args: ['/c', 'start', '""', url] };
  }
  return { command: 'xdg-open', args: [url] };
}

/** Starts the browser; `failed` is called (once) if it cannot be started or its opener reports failure. */
function openBrowser(url: string, failed: (why: string) => void): void {
  let reported = false;
  const fail = (why: string): void => {
    if (reported) return;
    reported = true;
    failed(why);
  };
  try {
    const { command, args } = browserCommand(url);
    const child = spawn(command, args, { detached: true, stdio: 'ignore', windowsHide: true });
    child.once('error', (error) => {
      fail(`${command}: ${error.message}`);
    });
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) fail(`${command} exited with code ${String(code)}`);
    });
    child.unref();
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

export async function host(flags: HostFlags): Promise<void> {
  const ports = hostPorts(flags);
  const bindHost = await wildcardHost();
  const dataDir = resolve(flags.data ?? defaultDataDir());
  const addresses = lanAddresses();
  const firstLan = addresses[0];
  // Links to uploads (soju.im/FILEHOST) must work from other devices: the first LAN address, as in the QR code.
  const publicUrl = firstLan !== undefined && ports.web !== 0 ? webUrl(firstLan.address, ports.web).replace(/\/$/, '') : undefined;
  let config = hostConfig({ host: bindHost, ports, dataDir, logLevel: flags.logLevel ?? 'warn', title: flags.name, publicUrl, hostname: hostname() });

  const store = await openStore(config);
  let identity: HostIdentity;
  try {
    identity = await prepareHost(config, store, { dataDir, title: flags.name, username: safeUsername() });
  } finally {
    await store.close();
  }
  // The network's name follows the room's, also when the name came from host.json; everyone who connects (a guest in
  // the browser, irssi, `natter connect`) lands in the room without having to find it (autojoin).
  config = { ...config, networkName: networkNameOf(identity.title), autojoin: [identity.room] };

  const logger = makeLogger(config.logLevel);
  const tokens = new HostLoginTokens();
  const credentials = { account: identity.account, password: identity.password, room: identity.room };
  let natter: RunningNatter;
  try {
    natter = await startNatter({ config, logger, configSource: 'natter host', routes: [{ path: '/host-login', app: hostLoginRoutes(tokens, () => credentials) }] });
  } catch (error) {
    throw (await bindRefusal(error, bindHost, ports)) ?? error;
  }
  const webPort = natter.httpAddresses[0]?.port ?? ports.web;
  const signInUrl = `${webUrl('localhost', webPort)}#token=${tokens.issue()}`;
  const opening = mayOpenBrowser(flags.open);
  const ircPort = natter.addresses[0]?.port ?? ports.irc;
  const tlsPort = natter.tlsAddresses[0]?.port ?? ports.tls;
  const fingerprint = natter.tls?.fingerprint ?? '(none)';
  const advertised = flags.advertise !== false;
  // Found on the LAN by `natter connect` (and IRC clients that browse for _irc._tcp); an mDNS failure (port 5353
  // refused, no multicast) is a warning, never the end of the host.
  const advertisement = advertised
    ? advertiseHost({
        name: identity.title,
        ircPort,
        tlsPort,
        webPort,
        fingerprint,
        onError: (error) => {
          logger.warn({ err: error }, 'LAN discovery (mDNS) failed; friends can still join by address');
        },
      })
    : undefined;
  // Before anything is printed: whoever reads the banner may press Ctrl+C (or send SIGTERM) at once, and a signal
  // that comes before the handler kills the process without its shutdown.
  stopOnSignals(natter, logger, 'Host is shutting down', () => advertisement?.stop() ?? Promise.resolve());
  const banner = bannerText(
    {
      title: identity.title,
      room: identity.room,
      account: identity.account,
      passwordFile: identity.file,
      addresses,
      ircPort,
      tlsPort,
      webPort,
      fingerprint,
      dataDir,
      signInUrl: opening ? undefined : signInUrl,
      advertised,
    },
    firstLan === undefined ? undefined : qrCodeOf(webUrl(firstLan.address, webPort)),
  );
  process.stdout.write(banner);
  if (opening) {
    process.stdout.write(`Opening your browser, signed in as ${identity.account}…\n`);
    openBrowser(signInUrl, (why) => {
      process.stdout.write(`Could not open a browser (${why}). Sign in as ${identity.account} with this link (it works once, within 10 minutes):\n  ${signInUrl}\n`);
    });
  }
}

/** os.userInfo() throws when the user has no entry in the password database (some containers). */
function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return 'host';
  }
}
