/**
 * Message ids (IRCv3 message-ids): unique across the network and across restarts, cheap to make on every message.
 * A random prefix per process (so two nodes, or this process after a restart, never collide) and a counter.
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function randomPrefix(): string {
  const bytes = new Uint8Array(10);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 31] ?? 'a';
  return out;
}

export class MsgidSource {
  private readonly prefix = randomPrefix();
  private counter = 0;

  next(): string {
    return `${this.prefix}${(this.counter++).toString(36)}`;
  }
}
