/**
 * LAN discovery for host mode (issue 8): `natter host` advertises itself over mDNS/DNS-SD (bonjour-service), and
 * `natter connect` without an address finds the hosts of the network.
 *
 * Two services are published under the room's name:
 * - `_natter._tcp` on the web port, with TXT irc=<port> tls=<port> web=<port> fp=<SHA-256 fingerprint>
 *   name=<room name> v=1, which is all `natter connect` needs, including the fingerprint to check on first use;
 * - `_irc._tcp` on the IRC port, for other IRC clients that browse for it.
 *
 * `interfaceAddress` picks the one interface to use for multicast (the tests use 127.0.0.1 inside a network namespace
 * of their own; the socket must then be bound to 0.0.0.0, as one bound to 127.0.0.1 receives no multicast). Without
 * it, multicast-dns joins the group on every interface.
 */
import { Bonjour } from 'bonjour-service';
import type { Service } from 'bonjour-service';

/** The TXT record's version: a client ignores hosts with another. */
export const DISCOVERY_VERSION = '1';
export const NATTER_SERVICE = 'natter';
export const IRC_SERVICE = 'irc';

export interface AdvertiseOptions {
  /** The room's name, shown by `natter connect` (also the DNS-SD instance name, cut to 63 bytes). */
  readonly name: string;
  readonly ircPort: number;
  readonly tlsPort: number;
  readonly webPort: number;
  /** The TLS certificate's SHA-256 fingerprint (AA:BB:…). */
  readonly fingerprint: string;
  /** The address of the one interface to multicast on (tests: 127.0.0.1). Default: every interface. */
  readonly interfaceAddress?: string;
  /** Called with errors of the mDNS socket or of probing, which must not stop the host. Default: ignored. */
  readonly onError?: (error: Error) => void;
}

export interface Advertisement {
  /** Sends goodbyes for both services and closes the socket. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface DiscoverOptions {
  /** The address of the one interface to multicast on (tests: 127.0.0.1). Default: every interface. */
  readonly interfaceAddress?: string;
  readonly onError?: (error: Error) => void;
}

export interface DiscoveredHost {
  /** The room's name (TXT name, else the instance name). */
  readonly name: string;
  /** The host's DNS name as advertised (e.g. "mybox.local"). */
  readonly host: string;
  /** Its addresses: those of its A/AAAA records, else the address the answer came from. */
  readonly addresses: readonly string[];
  readonly ircPort: number;
  readonly tlsPort: number;
  readonly webPort: number;
  readonly fingerprint: string;
}

/** NATTER_MDNS_INTERFACE: the one interface to use, by its address, on a machine with several (docs/terminal-client.md). */
function mdnsOptions(interfaceAddress: string | undefined): Record<string, unknown> {
  const chosen = interfaceAddress ?? (process.env['NATTER_MDNS_INTERFACE'] || undefined);
  return chosen === undefined ? {} : { interface: chosen, bind: '0.0.0.0' };
}

/** A DNS label holds at most 63 bytes: cut the name on a character boundary. */
export function instanceNameOf(name: string): string {
  let out = '';
  for (const char of name.trim() === '' ? 'Natter' : name.trim()) {
    if (Buffer.byteLength(out + char) > 63) break;
    out += char;
  }
  return out;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * bonjour-service leaves the multicast-dns socket's 'error' event (EACCES, EADDRINUSE on 5353) without a listener,
 * which would end the process: send it to `onError` instead. Its 'warning' (joining the multicast group failed, e.g.
 * NATTER_MDNS_INTERFACE names no interface of this machine) goes there too, or nothing would say why no host is found.
 */
function catchSocketErrors(bonjour: Bonjour, onError: (error: Error) => void): void {
  const server = (bonjour as unknown as { server?: { mdns?: { on?: unknown } } }).server;
  const mdns = server?.mdns;
  if (mdns !== undefined && typeof mdns.on === 'function') {
    for (const event of ['error', 'warning']) {
      (mdns as { on(event: string, listener: (error: unknown) => void): void }).on(event, (error) => {
        onError(toError(error));
      });
    }
  }
}

function makeBonjour(interfaceAddress: string | undefined, onError: ((error: Error) => void) | undefined): Bonjour {
  const report = onError ?? ((): void => undefined);
  const bonjour = new Bonjour(mdnsOptions(interfaceAddress), (error: unknown) => {
    report(toError(error));
  });
  catchSocketErrors(bonjour, report);
  return bonjour;
}

export function advertiseHost(options: AdvertiseOptions): Advertisement {
  const bonjour = makeBonjour(options.interfaceAddress, options.onError);
  const name = instanceNameOf(options.name);
  bonjour.publish({
    name,
    type: NATTER_SERVICE,
    protocol: 'tcp',
    port: options.webPort,
    txt: {
      irc: String(options.ircPort),
      tls: String(options.tlsPort),
      web: String(options.webPort),
      fp: options.fingerprint,
      name: options.name,
      v: DISCOVERY_VERSION,
    },
  });
  bonjour.publish({
    name,
    type: IRC_SERVICE,
    protocol: 'tcp',
    port: options.ircPort,
  });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        bonjour.unpublishAll(() => {
          bonjour.destroy(() => {
            resolve();
          });
        });
      });
      return stopped;
    },
  };
}

function portOf(value: unknown): number | undefined {
  const port = Number(value);
  return typeof value === 'string' && /^\d{1,5}$/.test(value) && port > 0 && port <= 65535 ? port : undefined;
}

/** A `_natter._tcp` answer as a host, or undefined when its TXT record is not one this version understands. */
export function discoveredHostOf(service: Pick<Service, 'name' | 'host' | 'port' | 'txt' | 'addresses' | 'referer'>): DiscoveredHost | undefined {
  const txt = (service.txt ?? {}) as Record<string, unknown>;
  if (txt['v'] !== DISCOVERY_VERSION) return undefined;
  const ircPort = portOf(txt['irc']);
  const tlsPort = portOf(txt['tls']);
  const webPort = portOf(txt['web']) ?? service.port;
  const fingerprint = txt['fp'];
  if (ircPort === undefined || tlsPort === undefined || typeof fingerprint !== 'string') return undefined;
  const named = txt['name'];
  const addresses = service.addresses !== undefined && service.addresses.length > 0 ? [...service.addresses] : service.referer === undefined ? [] : [service.referer.address];
  return {
    name: typeof named === 'string' && named !== '' ? named : service.name,
    host: service.host,
    addresses,
    ircPort,
    tlsPort,
    webPort,
    fingerprint,
  };
}

/** Browses for `_natter._tcp` for `timeoutMs` and resolves with the hosts found (one per host and web port). */
export function discoverHosts(timeoutMs: number, options: DiscoverOptions = {}): Promise<DiscoveredHost[]> {
  const bonjour = makeBonjour(options.interfaceAddress, options.onError);
  const found = new Map<string, DiscoveredHost>();
  return new Promise((resolve) => {
    const browser = bonjour.find({ type: NATTER_SERVICE, protocol: 'tcp' }, (service) => {
      const host = discoveredHostOf(service);
      if (host !== undefined) found.set(`${service.fqdn}|${String(host.webPort)}`, host);
    });
    setTimeout(() => {
      browser.stop();
      bonjour.destroy(() => {
        resolve([...found.values()]);
      });
    }, timeoutMs);
  });
}
