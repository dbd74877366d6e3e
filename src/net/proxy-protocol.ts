/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in TCP mode opens each connection with a header
 * naming the client's address, so that per-address limits, bans and the host part of prefixes see the client and not
 * the balancer. Only connections from configured addresses (`proxy.trusted`, matched by net/address-list.ts) are read
 * for a header: from anywhere else a header would let a client choose its own address.
 */
import net from 'node:net';
import type { Socket } from 'node:net';

/** Version 2 starts with these 12 bytes; version 1 with "PROXY ". */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** Version 1: the longest header, CRLF included (the specification's 107 bytes). */
const V1_MAX_BYTES = 107;
/** Version 2: 16 bytes, then at most this many bytes of addresses and TLVs (ours; HAProxy sends far fewer). */
const V2_MAX_PAYLOAD = 4096;

export interface ProxySource {
  readonly address: string;
  readonly port: number;
}

export type ProxyHeader =
  /** More bytes are needed to decide. */
  | { readonly kind: 'incomplete' }
  /** The bytes do not start a PROXY header: a direct connection (a health check, say). */
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** A header of `length` bytes; `source` is absent for LOCAL (v2) and UNKNOWN (v1): the balancer's own connection. */
  | { readonly kind: 'proxy'; readonly length: number; readonly source: ProxySource | undefined };

/** Reads a PROXY header at the start of `bytes`; never throws. */
export function parseProxyHeader(bytes: Buffer): ProxyHeader {
  if (startsWithPrefixOf(bytes, V2_SIGNATURE)) return bytes.length < V2_SIGNATURE.length ? { kind: 'incomplete' } : parseV2(bytes);
  if (startsWithPrefixOf(bytes, V1_PREFIX)) return bytes.length < V1_PREFIX.length ? { kind: 'incomplete' } : parseV1(bytes);
  return { kind: 'none' };
}

/** Whether `bytes` and `prefix` agree on their common length (so a short read can still become the prefix). */
function startsWithPrefixOf(bytes: Buffer, prefix: Buffer): boolean {
  const length = Math.min(bytes.length, prefix.length);
  return length > 0 && bytes.subarray(0, length).equals(prefix.subarray(0, length));
}

function parseV1(bytes: Buffer): ProxyHeader {
  const end = bytes.indexOf('\r\n');
  if (end === -1) return bytes.length >= V1_MAX_BYTES ? { kind: 'invalid', reason: 'PROXY v1 header without CRLF in 107 bytes' } : { kind: 'incomplete' };
  const length = end + 2;
  if (length > V1_MAX_BYTES) return { kind: 'invalid', reason: 'PROXY v1 header longer than 107 bytes' };
  const fields = bytes.toString('latin1', 0, end).split(' ');
  const family = fields[1];
  if (family === 'UNKNOWN') return { kind: 'proxy', length, source: undefined };
  if ((family !== 'TCP4' && family !== 'TCP6') || fields.length !== 6) return { kind: 'invalid', reason: 'PROXY v1 header malformed' };
  const [, , source = '', , sourcePort = ''] = fields;
  const port = portOf(sourcePort);
  if (net.isIP(source) !== (family === 'TCP4' ? 4 : 6) || port === undefined) return { kind: 'invalid', reason: 'PROXY v1 header with a bad address or port' };
  return { kind: 'proxy', length, source: { address: family === 'TCP6' ? canonicalIpv6(source) : source, port } };
}

/** The shortest form ("2001:db8::42"), as sockets report addresses, so limits and bans see one spelling. */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function portOf(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(bytes: Buffer): ProxyHeader {
  if (bytes.length < 16) return { kind: 'incomplete' };
  const versionCommand = bytes[12] ?? 0;
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: 'PROXY v2 header with an unknown version' };
  const payload = bytes.readUInt16BE(14);
  if (payload > V2_MAX_PAYLOAD) return { kind: 'invalid', reason: 'PROXY v2 header too long' };
  const length = 16 + payload;
  if (bytes.length < length) return { kind: 'incomplete' };
  const command = versionCommand & 0x0f;
  if (command === 0x0) return { kind: 'proxy', length, source: undefined }; // LOCAL: the balancer's own check
  if (command !== 0x1) return { kind: 'invalid', reason: 'PROXY v2 header with an unknown command' };
  const family = (bytes[13] ?? 0) >> 4;
  if (family === 0x1 && payload >= 12) {
    const address = Array.from(bytes.subarray(16, 20)).join('.');
    return { kind: 'proxy', length, source: { address, port: bytes.readUInt16BE(24) } };
  }
  if (family === 0x2 && payload >= 36) {
    const groups: string[] = [];
    for (let offset = 16; offset < 32; offset += 2) groups.push(bytes.readUInt16BE(offset).toString(16));
    return { kind: 'proxy', length, source: { address: canonicalIpv6(groups.join(':')), port: bytes.readUInt16BE(48) } };
  }
  // AF_UNSPEC or AF_UNIX: nothing usable about the client; the connection is taken as the balancer's.
  if (family === 0x0 || family === 0x3) return { kind: 'proxy', length, source: undefined };
  return { kind: 'invalid', reason: 'PROXY v2 header with a bad address block' };
}

/**
 * The client named by `X-Forwarded-For` as a trusted HTTP balancer sends it (HAProxy's `option forwardfor`): the
 * last entry, the one the balancer appended; earlier entries came from the client and prove nothing.
 */
export function lastForwardedFor(header: string | readonly string[] | undefined): string | undefined {
  const joined = typeof header === 'string' ? header : header?.join(',');
  const last = joined?.split(',').at(-1)?.trim();
  return last !== undefined && net.isIP(last) !== 0 ? (net.isIP(last) === 6 ? canonicalIpv6(last) : last) : undefined;
}

/**
 * The client addresses read from headers, by the balancer-side address and port of the connection that carried
 * them: the TLS and HTTP servers see the same socket (or one wrapping it) and look the client up there.
 */
export class ProxiedAddresses {
  private readonly byPeer = new Map<string, string>();

  remember(socket: Socket, client: string): void {
    const key = peerKey(socket.remoteAddress, socket.remotePort);
    this.byPeer.set(key, client);
    socket.once('close', () => {
      if (this.byPeer.get(key) === client) this.byPeer.delete(key);
    });
  }

  /** The client's address for a connection from `address`:`port`, or `address` when it carried none. */
  clientOf(address: string | undefined, port: number | undefined): string | undefined {
    return this.byPeer.get(peerKey(address, port)) ?? address;
  }
}

function peerKey(address: string | undefined, port: number | undefined): string {
  return `${address ?? '?'}|${String(port ?? 0)}`;
}

/**
 * Reads the header of a connection from a trusted balancer, then gives the socket to `next`, paused, with the bytes
 * after the header put back. A direct connection (no header) is given on as it is; an invalid or late header closes
 * it.
 */
export function readProxyHeader(
  socket: Socket,
  addresses: ProxiedAddresses,
  next: (socket: Socket) => void,
  onRefused: (reason: string) => void,
  timeoutMs = 5_000,
): void {
  let received: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    finish();
    onRefused('no complete PROXY header in time');
    socket.destroy();
  }, timeoutMs);
  const finish = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onEnd);
  };
  const onError = (): void => {
    finish();
    socket.destroy();
  };
  const onEnd = (): void => {
    finish();
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    const header = parseProxyHeader(received);
    if (header.kind === 'incomplete') return;
    // Paused, so the bytes put back wait in the socket for whoever `next` gives it to: TLS reads what the socket
    // holds when it wraps it; a plain reader resumes it.
    finish();
    socket.pause();
    if (header.kind === 'invalid') {
      onRefused(header.reason);
      socket.destroy();
      return;
    }
    const rest = header.kind === 'proxy' ? received.subarray(header.length) : received;
    if (header.kind === 'proxy' && header.source !== undefined) addresses.remember(socket, header.source.address);
    if (rest.length > 0) socket.unshift(rest);
    next(socket);
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onEnd);
}
