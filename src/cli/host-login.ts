/**
 * Host mode's one-time sign-in (issue 8): `natter host` opens the host's browser at `…/#token=T`, and the web client
 * trades T for the host account's name and password with `POST /host-login {"token": T}`, then logs in with SASL like
 * anyone else. Nothing else about logging in changes.
 *
 * Why it is safe enough for a LAN:
 * - T is 128 random bits, lives 10 minutes and works once (it is forgotten when redeemed, or when it expires);
 * - it travels in the URL fragment, which browsers never send to a server nor put in a Referer, and the page removes
 *   it from the address bar (and so from history) before using it;
 * - only this machine may redeem it: the request must come from a loopback address or one of this machine's own
 *   interface addresses, so a token seen over someone's shoulder is useless from another device;
 * - the answer is JSON to a same-origin POST: another site's page cannot read it (no CORS headers are sent), and
 *   it is marked no-store so no cache keeps the password.
 */
import { createHash, randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';

/** How long a sign-in link works: long enough for a browser to start, short enough not to linger. */
export const HOST_TOKEN_TTL_MS = 10 * 60 * 1000;

/** The longest token accepted; ours are 22 characters (base64url of 16 bytes). */
const MAX_TOKEN_LENGTH = 64;

export class HostLoginTokens {
  /** SHA-256 of each live token (so a heap dump holds no usable token) to its expiry time. */
  private readonly live = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = HOST_TOKEN_TTL_MS,
  ) {}

  /** A new token, valid once for ttlMs. */
  issue(): string {
    const token = randomBytes(16).toString('base64url');
    this.live.set(digest(token), this.now() + this.ttlMs);
    return token;
  }

  /** True once for a live token; it is gone afterwards, whether it was live or not. */
  redeem(token: string): boolean {
    const now = this.now();
    for (const [key, expiry] of this.live) if (expiry <= now) this.live.delete(key);
    const key = digest(token);
    const expiry = this.live.get(key);
    this.live.delete(key);
    return expiry !== undefined && expiry > now;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** What the web client gets for a good token: the host account's credentials and the room to join. */
export interface HostCredentials {
  readonly account: string;
  readonly password: string;
  readonly room: string;
}

/** "::ffff:127.0.0.1" and "127.0.0.1" alike. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/** A loopback address, or one of this machine's own: the request comes from the host's own computer. */
export function isThisMachine(address: string | undefined, interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): boolean {
  if (address === undefined) return false;
  const plain = plainAddress(address).toLowerCase();
  if (plain === '::1' || plain.startsWith('127.')) return true;
  for (const list of Object.values(interfaces)) {
    for (const entry of list ?? []) if (entry.address.toLowerCase() === plain) return true;
  }
  return false;
}

/** The message shown on the sign-in form when a link is refused: what happened and what to do instead. */
export const REFUSED_TEXT = 'This sign-in link was already used or has expired. Log in with the host account instead (its password is in host.json in the data folder), or restart natter host for a new link.';

/** POST / (mounted at /host-login): {"token": "..."} to {account, password, room}, or 403 with {error}. */
export function hostLoginRoutes(tokens: HostLoginTokens, credentials: () => HostCredentials): Hono {
  const app = new Hono();
  app.post('/', async (c) => {
    c.header('Cache-Control', 'no-store');
    if (!isThisMachine(getConnInfo(c).remote.address)) return c.json({ error: 'The host sign-in works only on the host’s own computer.' }, 403);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: 'Expected a JSON body {"token": "..."}' }, 400);
    }
    const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['token'] : undefined;
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) return c.json({ error: 'Expected a JSON body {"token": "..."}' }, 400);
    if (!tokens.redeem(token)) return c.json({ error: REFUSED_TEXT }, 403);
    return c.json(credentials());
  });
  return app;
}
