/**
 * The server address a person types after `natter connect`: forgiving about its form (host, host:port, [v6]:port,
 * irc:// and ircs:// URLs), strict about its meaning, so a typo becomes a one-line error rather than a hang.
 * TLS is the default: plain text only when asked for, or when the port is the one plain IRC is known by.
 */
import { isIP, isIPv6 } from 'node:net';

export const DEFAULT_TLS_PORT = 6697;
export const DEFAULT_PLAIN_PORT = 6667;

export interface ConnectTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/** A problem the person can fix: a one-line message naming the bad argument, flag or file. */
export class ConnectError extends Error {
  override name = 'ConnectError';
}

const SCHEMES: Readonly<Record<string, boolean>> = { 'irc:': false, 'ircs:': true };

/**
 * `tlsFlag` is --tls (true), --no-tls (false) or neither (undefined). Host names are lowercased: they are
 * case-insensitive, and the known-hosts key must not depend on how one was typed.
 */
export function parseAddress(text: string, tlsFlag: boolean | undefined): ConnectTarget {
  const typed = text.trim();
  if (typed === '') throw new ConnectError('no server address given (for example: natter connect chat.example.org)');

  let rest = typed;
  let schemeTls: boolean | undefined;
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(typed);
  if (scheme !== null) {
    const name = scheme[1]!.toLowerCase();
    schemeTls = SCHEMES[name];
    if (schemeTls === undefined) throw new ConnectError(`"${typed}": unknown scheme ${name}// (use irc:// or ircs://)`);
    rest = typed.slice(scheme[0].length).replace(/\/$/, '');
    // irc://host/#room names a room too; joining one from the address is not supported, so say so rather than drop it.
    if (rest.includes('/')) throw new ConnectError(`"${typed}": give only the server (irc://host:port), without a path or room`);
  } else if (/^[a-z][a-z0-9+.-]*:\/(?!\/)/i.test(typed)) {
    throw new ConnectError(`"${typed}" is not a server address (a URL is written irc://host:port)`);
  }

  const { host, portText } = splitHostPort(rest, typed);
  const port = portText === undefined ? undefined : parsePort(portText, typed);
  const tls = chooseTls(tlsFlag, schemeTls, port, typed);
  return { host: host.toLowerCase(), port: port ?? (tls ? DEFAULT_TLS_PORT : DEFAULT_PLAIN_PORT), tls };
}

/** "host:port", with an IPv6 address in brackets; the form used in messages and as the known-hosts key. */
export function formatTarget(target: ConnectTarget): string {
  const host = target.host.toLowerCase();
  return `${host.includes(':') ? `[${host}]` : host}:${target.port}`;
}

function splitHostPort(rest: string, typed: string): { host: string; portText: string | undefined } {
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0) throw new ConnectError(`"${typed}": missing "]" after the IPv6 address`);
    const host = rest.slice(1, end);
    if (!isIPv6(host)) throw new ConnectError(`"${typed}": "${host}" is not an IPv6 address`);
    const after = rest.slice(end + 1);
    if (after === '') return { host, portText: undefined };
    if (!after.startsWith(':')) throw new ConnectError(`"${typed}": expected ":port" after "]"`);
    return { host, portText: after.slice(1) };
  }
  const colons = rest.split(':').length - 1;
  // Several colons cannot be host:port, so it is a bare IPv6 address (which then carries no port).
  if (colons >= 2) {
    if (!isIPv6(rest)) throw new ConnectError(`"${typed}" is not an address (an IPv6 address with a port is written [address]:port)`);
    return { host: rest, portText: undefined };
  }
  const [host = '', portText] = rest.split(':');
  if (host === '') throw new ConnectError(`"${typed}": no host name before the port`);
  if (isIP(host) === 0 && !/^[\p{L}\p{N}._-]+$/u.test(host)) throw new ConnectError(`"${typed}": "${host}" is not a host name`);
  return { host, portText };
}

function parsePort(portText: string, typed: string): number {
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new ConnectError(`"${typed}": the port must be a number from 1 to 65535, not "${portText}"`);
  return port;
}

function chooseTls(tlsFlag: boolean | undefined, schemeTls: boolean | undefined, port: number | undefined, typed: string): boolean {
  if (tlsFlag !== undefined && schemeTls !== undefined && tlsFlag !== schemeTls) {
    throw new ConnectError(
      schemeTls ? `"${typed}" asks for TLS (ircs://) but --no-tls was given` : `"${typed}" asks for plain text (irc://) but --tls was given`,
    );
  }
  return tlsFlag ?? schemeTls ?? port !== DEFAULT_PLAIN_PORT;
}
