/**
 * Message ids (IRCv3 message-ids): unique across the network and across restarts, cheap to make on every message.
 * A random prefix per process (so two nodes, or this process after a restart, never collide) and a counter.
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** `length` random characters of [a-z2-7], 5 bits each. */
export function randomId(length: number): string {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 31] ?? 'a';
  return out;
}

/**
 * A node id for a process that has none configured: new at every start (40 random bits), so the session ids made
 * from it (net/server.ts) are not those of an earlier run, and short, since every session id begins with it.
 */
export function newNodeId(): string {
  return randomId(8);
}

export class MsgidSource {
  private readonly prefix = randomId(10);
  private counter = 0;

  next(): string {
    return `${this.prefix}${(this.counter++).toString(36)}`;
  }
}
