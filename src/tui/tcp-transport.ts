/**
 * IRC over TCP or TLS for the terminal client: the Transport the client engine expects, over node:net and node:tls.
 * A TLS connection only ever talks to a server it has verified, either by the system's CAs or by a pinned
 * certificate fingerprint (trust on first use of a self-signed certificate, see known-hosts.ts); no line is sent to
 * anything else. Socket errors become sentences that name the address.
 */
import { connect as connectPlain, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { TransportFactory } from '../client/transport.js';
import { ConnectError, formatTarget } from './address.js';

export interface TcpTransportOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** TLS: the SHA-256 fingerprint ("AA:BB:…", as X509Certificate.fingerprint256) the server must present; another one closes the connection before any line is sent. */
  readonly pinnedFingerprint?: string;
  /** Called when the server presented a certificate other than pinnedFingerprint (then close() follows with a reason naming both). */
  readonly onCertificateMismatch?: (actual: string) => void;
  readonly connectTimeoutMs?: number;
}

export interface PeerCertificate {
  readonly fingerprint: string;
  readonly authorized: boolean;
  /** Why not authorized (node's authorizationError), e.g. DEPTH_ZERO_SELF_SIGNED_CERT. */
  readonly authorizationError?: string;
  readonly subject?: string;
  readonly validTo?: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Far above any IRC line (512 bytes plus 8 KiB of tags); only a broken or hostile server sends more without a newline. */
const MAX_LINE_BYTES = 64 * 1024;
/** How long close() waits for queued lines (a QUIT) to be flushed before it stops waiting for the server. */
const CLOSE_GRACE_MS = 2_000;
const LINE_TOO_LONG = 'the server sent a line longer than 64 KiB';

export function tcpTransport(options: TcpTransportOptions): TransportFactory {
  const address = formatTarget(options);
  return (handlers) => {
    let opened = false;
    let finished = false;
    let pending = '';

    let socket: Socket;
    if (options.tls) {
      const tlsSocket = connectTls(tlsOptions(options.host, options.port));
      tlsSocket.once('secureConnect', () => {
        const problem = verify(tlsSocket, options, address);
        if (problem === undefined) open();
        else fail(problem);
      });
      socket = tlsSocket;
    } else {
      socket = connectPlain({ host: options.host, port: options.port });
      socket.once('connect', open);
    }
    const connectTimer = setTimeout(() => {
      fail(`no answer from ${address}`);
    }, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);

    // A function, not the variable, in loops that call handlers: a handler may close the transport meanwhile.
    const isFinished = (): boolean => finished;
    function finish(reason: string): void {
      if (finished) return;
      finished = true;
      clearTimeout(connectTimer);
      handlers.close(reason);
    }
    function fail(reason: string): void {
      socket.destroy();
      finish(reason);
    }
    function open(): void {
      clearTimeout(connectTimer);
      if (finished) return;
      opened = true;
      handlers.open();
    }

    // The decoder inside setEncoding keeps a UTF-8 sequence split across chunks until its last byte arrives.
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (finished) return;
      const lines = (pending + chunk).split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (isFinished()) return;
        if (tooLong(line)) {
          fail(LINE_TOO_LONG);
          return;
        }
        if (line !== '') handlers.line(line);
      }
      if (!isFinished() && tooLong(pending)) fail(LINE_TOO_LONG);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      fail(describeSocketError(error, options.host, address));
    });
    socket.on('close', () => {
      finish(opened ? `${address} closed the connection` : `${address} closed the connection before it was set up`);
    });

    return {
      send(line) {
        // Before open nothing is written: on TLS that would reach a server whose certificate is not checked yet.
        if (opened && !finished) socket.write(`${line}\r\n`);
      },
      close() {
        if (finished) return;
        if (opened) {
          // end() rather than destroy(), so a QUIT written just before still leaves; a server that never answers
          // the FIN is not waited for.
          socket.end();
          setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
        } else {
          socket.destroy();
        }
        finish('closed');
      },
    };
  };
}

/** Connects with TLS, reads the server's certificate, hangs up (nothing is sent). For trust on first use. */
export function fetchPeerCertificate(host: string, port: number, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<PeerCertificate> {
  const address = formatTarget({ host, port, tls: true });
  return new Promise((resolve, reject) => {
    const socket = connectTls(tlsOptions(host, port));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectError(`no answer from ${address}`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const certificate = socket.getPeerCertificate();
      const authorizationError = authorizationErrorOf(socket);
      const subject = subjectOf(certificate.subject);
      const authorized = socket.authorized;
      socket.destroy();
      // An empty object when the server sent none (an anonymous cipher): nothing to pin.
      if (typeof certificate.fingerprint256 !== 'string' || certificate.fingerprint256 === '') {
        reject(new ConnectError(`${address} presented no TLS certificate`));
        return;
      }
      resolve({
        fingerprint: certificate.fingerprint256,
        authorized,
        ...(authorizationError === undefined ? {} : { authorizationError }),
        ...(subject === undefined ? {} : { subject }),
        ...(certificate.valid_to === '' ? {} : { validTo: certificate.valid_to }),
      });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectError(describeSocketError(error, host, address)));
    });
  });
}

/** Case and colons do not matter: "aa:bb" and "AABB" are the same fingerprint. */
export function sameFingerprint(a: string, b: string): boolean {
  return normalize(a) === normalize(b);
}

/** Node's authorizationError codes in words, for the refusal reason and the trust-on-first-use question. */
export function describeAuthorizationError(code: string | undefined): string {
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'it is self-signed';
    case 'CERT_HAS_EXPIRED':
      return 'it has expired';
    case 'CERT_NOT_YET_VALID':
      return 'it is not valid yet';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'it is for another host name';
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return 'its issuer is not a known certificate authority';
    case undefined:
      return 'it is not trusted';
    default:
      return `it is not trusted (${code})`;
  }
}

function tooLong(text: string): boolean {
  // A UTF-16 code unit is at most 3 bytes of UTF-8, so most text needs no byte count at all.
  return text.length * 3 > MAX_LINE_BYTES && Buffer.byteLength(text, 'utf8') > MAX_LINE_BYTES;
}

function normalize(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toLowerCase();
}

function tlsOptions(host: string, port: number): ConnectionOptions {
  // rejectUnauthorized false: verify() decides, so a self-signed certificate can be pinned. SNI takes names only.
  return { host, port, rejectUnauthorized: false, ...(isIP(host) === 0 ? { servername: host } : {}) };
}

/** Why this server must not be talked to, or undefined when it may. */
function verify(socket: TLSSocket, options: TcpTransportOptions, address: string): string | undefined {
  const actual = socket.getPeerCertificate().fingerprint256;
  if (options.pinnedFingerprint !== undefined) {
    if (typeof actual === 'string' && sameFingerprint(actual, options.pinnedFingerprint)) return undefined;
    const presented = typeof actual === 'string' && actual !== '' ? actual : 'none';
    options.onCertificateMismatch?.(presented);
    return `${address} presented the certificate ${presented}, not the expected ${options.pinnedFingerprint}`;
  }
  if (socket.authorized) return undefined;
  return `the TLS certificate of ${address} is refused: ${describeAuthorizationError(authorizationErrorOf(socket))}`;
}

/** Typed as Error by @types/node, but node sets the error's code (a string). */
function authorizationErrorOf(socket: TLSSocket): string | undefined {
  if (socket.authorized) return undefined;
  const value: unknown = socket.authorizationError;
  if (typeof value === 'string') return value;
  return value instanceof Error ? value.message : undefined;
}

function subjectOf(subject: { CN?: string | string[] } | undefined): string | undefined {
  const name = subject?.CN;
  return Array.isArray(name) ? name.join(', ') : name;
}

function describeSocketError(error: NodeJS.ErrnoException, host: string, address: string): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${address}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `no such host: ${host}`;
    case 'ETIMEDOUT':
      return `no answer from ${address}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot reach ${address}`;
    case 'ECONNRESET':
      return `${address} reset the connection`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `${address} does not speak TLS (for plain text use --no-tls)`;
    default:
      return error.message;
  }
}
