/**
 * The generator only ever targets this machine: every address it dials or binds is checked here first.
 */
import { isIP } from 'node:net';

export class NotLoopbackError extends Error {
  constructor(what: string, value: string) {
    super(
      `${what} ${JSON.stringify(value)} is not a loopback address: the load generator only targets this machine ` +
        '(127.0.0.0/8, ::1 or localhost)',
    );
    this.name = 'NotLoopbackError';
  }
}

/** Returns the numeric loopback address for `host`, or throws NotLoopbackError. */
export function requireLoopback(host: string, what = 'target'): string {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost') return '127.0.0.1';
  if (isIP(h) === 4) {
    const parts = h.split('.').map(Number);
    if (parts[0] === 127) return h;
  } else if (isIP(h) === 6) {
    if (h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h)) return '::1';
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(h);
    if (mapped?.[1] !== undefined) return requireLoopback(mapped[1], what);
  }
  throw new NotLoopbackError(what, host);
}

/** Parses `HOST:PORT` (or `[V6]:PORT`) and checks that HOST is loopback. */
export function parseTarget(spec: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(spec);
  if (m?.[1] === undefined || m[2] === undefined)
    throw new Error(`--target must be HOST:PORT, got ${JSON.stringify(spec)}`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`bad port in --target ${spec}`);
  return { host: requireLoopback(m[1]), port };
}

/** `count` source addresses 127.0.0.1, 127.0.0.2, ... so more than ~28k clients fit in the ephemeral port range. */
export function sourceAddresses(count: number): string[] {
  const out: string[] = [];
  for (let i = 1; i <= count; i++) out.push(`127.0.${Math.floor(i / 256)}.${i % 256}`);
  return out;
}
