/**
 * IRC over WebSocket (IRCv3 "WebSocket" spec): one IRC line per WebSocket message, without CR LF, in text frames
 * (subprotocol text.ircv3.net, and when none was asked for) or binary frames (binary.ircv3.net). A connection over
 * WebSocket enters the same pipeline as one over TCP: this file only adapts the frames to and from lines.
 */
import type { WebSocket } from 'ws';
import type { Transport } from './connection.js';

export const TEXT_SUBPROTOCOL = 'text.ircv3.net';
export const BINARY_SUBPROTOCOL = 'binary.ircv3.net';

/** Picks the subprotocol: binary when asked for, else text (also for a client that names neither). */
export function chooseSubprotocol(offered: ReadonlySet<string>): string | false {
  if (offered.has(BINARY_SUBPROTOCOL)) return BINARY_SUBPROTOCOL;
  if (offered.has(TEXT_SUBPROTOCOL)) return TEXT_SUBPROTOCOL;
  return offered.size === 0 ? false : TEXT_SUBPROTOCOL;
}

const CR = 13;
const LF = 10;

/** The Transport of a connection over WebSocket: lines out become messages, one each. */
export class WebSocketTransport implements Transport {
  private readonly binary: boolean;

  constructor(private readonly socket: WebSocket) {
    this.binary = socket.protocol === BINARY_SUBPROTOCOL;
  }

  /** `data` holds whole lines, each ending in CR LF (what Connection batches per turn). */
  write(data: Buffer): boolean {
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== LF) continue;
      const end = i > start && data[i - 1] === CR ? i - 1 : i;
      if (end > start) this.socket.send(data.subarray(start, end), { binary: this.binary });
      start = i + 1;
    }
    return true;
  }

  end(): void {
    this.socket.close(1000);
  }

  destroy(): void {
    this.socket.terminate();
  }

  get writableLength(): number {
    return this.socket.bufferedAmount;
  }
}
