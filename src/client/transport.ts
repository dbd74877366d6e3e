/**
 * How the client engine reaches a server: anything that carries IRC lines both ways. The browser uses IRC over
 * WebSocket (IRCv3 "WebSocket", text.ircv3.net); the terminal client and tests pass their own (TCP, or the `ws`
 * package in Node 20, which has no global WebSocket).
 */

export interface TransportHandlers {
  open(): void;
  /** One IRC line, without CR LF. */
  line(line: string): void;
  /** The connection ended (or never opened); `reason` is for people. */
  close(reason: string): void;
}

export interface Transport {
  send(line: string): void;
  close(): void;
}

export type TransportFactory = (handlers: TransportHandlers) => Transport;

/**
 * A handler property checked like a method (bivariantly), so the DOM's WebSocket and `ws`'s, whose handlers take
 * their own event classes, both fit without a cast.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WHATWG WebSocket the transport uses (the browser's, or `ws`'s, which has the same shape). */
export interface WebSocketLike {
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export const TEXT_SUBPROTOCOL = 'text.ircv3.net';

/** IRC over WebSocket: one line per text message. */
export function webSocketTransport(url: string, WebSocketImpl: WebSocketConstructor): TransportFactory {
  return (handlers) => {
    const socket = new WebSocketImpl(url, [TEXT_SUBPROTOCOL]);
    let closed = false;
    const finish = (reason: string): void => {
      if (closed) return;
      closed = true;
      handlers.close(reason);
    };
    socket.onopen = () => {
      handlers.open();
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      // A server may put several lines in one message, or end one with CR LF; both are tolerated.
      for (const line of event.data.split(/\r?\n/)) if (line !== '') handlers.line(line);
    };
    socket.onclose = (event) => {
      finish(event.reason === '' ? `connection closed (${event.code})` : event.reason);
    };
    socket.onerror = () => {
      finish('connection failed');
    };
    return {
      send(line) {
        if (!closed) socket.send(line);
      },
      close() {
        socket.close(1000);
        finish('closed');
      },
    };
  };
}
