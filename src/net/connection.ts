/**
 * One client connection: framing and input limits, flood control, the ordered command loop, and a bounded
 * send queue flushed once per event-loop turn. It is the SessionLink core writes to; it knows nothing of
 * what the commands mean.
 */
import { isUtf8 } from 'node:buffer';
import type { CommandContext } from '../commands/context.js';
import type { Counters } from '../core/counters.js';
import type { Outbound } from '../core/outbound.js';
import type { Device, SessionLink, Session } from '../core/session.js';
import type { FloodSettings } from '../core/settings.js';
import { tagVariantOf } from '../protocol/caps.js';
import type { IrcMessage } from '../protocol/message.js';
import { parseMessage } from '../protocol/message.js';
import { LineFramer } from './framing.js';
import type { LineSink } from './framing.js';
import { scheduleFlush } from './flusher.js';
import { taggedWireBytes, wireBytes } from './wire.js';

/** The byte pipe under a connection: a TCP or TLS socket, or a WebSocket adapter. */
export interface Transport {
  write(data: Buffer): boolean;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  /** Runs one parsed message; a promise holds this connection's later lines until it settles. */
  dispatch(connection: Connection, message: IrcMessage): Promise<void> | undefined;
  /** Whether the message may run while earlier ones of this connection are still being stored (a plain PRIVMSG). */
  canPipeline(connection: Connection, message: IrcMessage): boolean;
  /** Sends a numeric or FAIL produced by the connection layer itself (417, INVALID_UTF8). */
  replyRaw(connection: Connection, command: string, params: string[]): void;
  readonly sendQueueBytes: number;
  readonly flood: FloodSettings;
  /** The metrics' counters: every queued line is counted (a plain increment, read at scrape time). */
  readonly counters: Counters;
  /** Connections with commands held back by flood control, processed by the server's timer. */
  markThrottled(connection: Connection): void;
  /** The transport is gone: the session leaves the network. Called once. */
  connectionClosed(connection: Connection, fallbackReason: string): void;
  now(): number;
}

/** The close reasons of a reader too slow and of a sender too fast, which the server counts (core/counters.ts). */
export const SENDQ_EXCEEDED = 'SendQ exceeded';
export const EXCESS_FLOOD = 'Excess Flood';

/** Modern IRC: 512 bytes with CRLF for the message, plus up to 8191 for the tags (message-tags). */
export const MAX_BODY_BYTES = 510;
export const MAX_TAG_BYTES = 8191;
/** Lines longer than this are dropped by the framer before we even look at them. */
const MAX_FRAME_BYTES = MAX_TAG_BYTES + MAX_BODY_BYTES;
/** Lines held while an asynchronous command runs, when flood control is off. */
const MAX_HELD_WITHOUT_FLOOD = 1024;
/** Messages of one connection waiting for the store at once; past it the next waits like any other command. */
const MAX_INFLIGHT = 256;

export class Connection implements SessionLink, LineSink {
  device!: Device;
  /** The command context (reply buffer, per-connection command state) of this connection's session. */
  context!: CommandContext;
  private readonly framer = new LineFramer(MAX_FRAME_BYTES);
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  /** Flood budget (token bucket). */
  private tokens: number;
  private tokensAt: number;
  /** Lines waiting for budget or for an asynchronous command to finish. */
  /** Lines held back, in order; a function is the reply to a line refused before parsing (see `refuse`). */
  private held: Array<string | (() => void)> | undefined = undefined;
  /** True while a command runs asynchronously (or waits, parked, for pipelined messages): later lines are held. */
  private busy = false;
  /** Pipelined messages (PRIVMSG, NOTICE, TAGMSG) being stored, and the command parked until they are delivered. */
  private inflight = 0;
  private parked: IrcMessage | undefined = undefined;
  private parkedPipelined = false;
  closing = false;
  closed = false;
  closeReason: string | undefined = undefined;
  closingSince = 0;
  lastActivity: number;
  pingSentAt = 0;
  readonly connectedAt: number;

  constructor(
    readonly transport: Transport,
    readonly host: ConnectionHost,
    readonly ip: string,
  ) {
    const now = host.now();
    this.connectedAt = now;
    this.lastActivity = now;
    this.tokens = host.flood.burst;
    this.tokensAt = now;
  }

  /** The user this connection is one device of (it changes when the connection joins an account's session). */
  get session(): Session {
    return this.context.session;
  }

  // ---- input -------------------------------------------------------------------------------------

  receive(chunk: Buffer): void {
    if (this.closing) return;
    this.framer.push(chunk, this);
  }

  /** LineSink: one complete line from the framer. */
  line(bytes: Buffer, start: number, end: number): void {
    if (this.closing) return;
    // Only a finished line is activity: a line trickled in and never ended must not hold off the ping timeout.
    this.lastActivity = this.host.now();
    let bodyStart = start;
    if (bytes[start] === 64 /* @ */) {
      // The tag block is '@' to the first space of this line (bytes may hold later lines too), space included.
      const space = bytes.subarray(start, end).indexOf(32);
      const tagBytes = space === -1 ? end - start : space + 1;
      if (tagBytes > MAX_TAG_BYTES) {
        this.tooLong();
        return;
      }
      bodyStart = start + tagBytes;
    }
    if (end - bodyStart > MAX_BODY_BYTES) {
      this.tooLong();
      return;
    }
    const view = bytes.subarray(start, end);
    if (!isUtf8(view)) {
      this.refuse('FAIL', ['*', 'INVALID_UTF8', 'Message rejected: it was not valid UTF-8']);
      return;
    }
    if (view.includes(0)) {
      this.refuse('FAIL', ['*', 'INVALID_MESSAGE', 'Message rejected: it contained a NUL byte']);
      return;
    }
    this.enqueueLine(bytes.toString('utf8', start, end));
  }

  tooLong(): void {
    this.lastActivity = this.host.now();
    this.refuse('417', ['Input line was too long']);
  }

  /**
   * Answers a line refused before parsing. It costs flood budget like any line, and waits its turn behind held ones:
   * otherwise a client could send thousands of bad bytes a second and get a reply to each, past flood control
   * (found by the fuzz run).
   */
  private refuse(command: string, params: string[]): void {
    const reply = (): void => {
      this.host.replyRaw(this, command, params);
    };
    if (this.held !== undefined || this.busy || !this.takeToken()) {
      this.hold(reply);
      return;
    }
    reply();
  }

  private enqueueLine(text: string): void {
    if (this.held !== undefined || this.busy || !this.takeToken()) {
      this.hold(text);
      return;
    }
    this.run(text);
  }

  private takeToken(): boolean {
    const { flood } = this.host;
    if (!flood.enabled) return true;
    const now = this.host.now();
    this.tokens = Math.min(flood.burst, this.tokens + ((now - this.tokensAt) / 1000) * flood.perSecond);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private hold(line: string | (() => void)): void {
    const held = (this.held ??= []);
    held.push(line);
    const { flood } = this.host;
    if (held.length > (flood.enabled ? flood.maxQueued : MAX_HELD_WITHOUT_FLOOD)) {
      this.close(EXCESS_FLOOD);
      return;
    }
    if (!this.busy) this.host.markThrottled(this);
  }

  /** Runs held lines as budget allows; returns true while lines remain held. Called by the server's timer. */
  drainHeld(): boolean {
    const held = this.held;
    // A connection whose transport is gone (closed) runs nothing more: a held NICK/USER/CAP END would register a user
    // with no connection, whom nobody could ever remove (found by the fuzz run; test/fuzz-regressions.test.ts).
    while (held !== undefined && held.length > 0 && !this.busy && !this.closing && !this.closed) {
      if (!this.takeToken()) return true;
      const line = held.shift();
      if (held.length === 0) this.held = undefined;
      if (typeof line === 'string') this.run(line);
      else line?.();
    }
    if (held !== undefined && held.length === 0) this.held = undefined;
    return false;
  }

  private run(text: string): void {
    const message = parseMessage(text);
    if (message === undefined) return;
    // Messages waiting for the store are pipelined: the next message goes to the store behind them without waiting
    // (the store keeps their order, and so does delivery). Any other command waits until they are all delivered,
    // so what a client sends stays in order as everyone sees it.
    const pipelined = this.host.canPipeline(this, message);
    if ((!pipelined && this.inflight > 0) || (pipelined && this.inflight >= MAX_INFLIGHT)) {
      this.parked = message;
      this.parkedPipelined = pipelined;
      this.busy = true;
      return;
    }
    this.runParsed(message, pipelined);
  }

  private runParsed(message: IrcMessage, pipelined: boolean): void {
    const pending = this.host.dispatch(this, message);
    if (pending === undefined) return;
    if (pipelined) {
      this.inflight++;
      void pending.finally(() => {
        this.inflight--;
        this.resume();
      });
      return;
    }
    this.busy = true;
    void pending.finally(() => {
      this.busy = false;
      this.resume();
    });
  }

  private waiting(): boolean {
    return this.busy;
  }

  /** Runs the command parked behind pipelined messages once it may, then the lines held meanwhile. */
  private resume(): void {
    const parked = this.parked;
    if (parked !== undefined) {
      if (this.parkedPipelined ? this.inflight >= MAX_INFLIGHT : this.inflight > 0) return;
      this.parked = undefined;
      this.busy = false;
      if (this.closing || this.closed) return;
      this.runParsed(parked, this.parkedPipelined);
      // runParsed may have made the connection wait again (an asynchronous command).
      if (this.waiting()) return;
    }
    if (this.held !== undefined && !this.busy && this.drainHeld()) this.host.markThrottled(this);
  }

  // ---- output ------------------------------------------------------------------------------------

  /** SessionLink: queue a message in this connection's tag variant. */
  send(message: Outbound): void {
    if (this.closing) return;
    // While a labeled command runs, what it causes for this connection becomes part of its one response.
    const context = this.context;
    if (context.capturing && context.captures(message)) {
      context.push(message);
      return;
    }
    this.queue(wireBytes(message, tagVariantOf(this.device.caps)));
  }

  sendTagged(message: Outbound, tags: string): void {
    if (this.closing) return;
    this.queue(taggedWireBytes(message, tagVariantOf(this.device.caps), tags));
  }

  queue(bytes: Buffer): void {
    this.host.counters.linesQueued++;
    this.out.push(bytes);
    this.outBytes += bytes.length;
    // What the socket still holds counts too, so the bytes held for this client never pass the cap.
    if (this.outBytes + this.transport.writableLength > this.host.sendQueueBytes) {
      this.abort(SENDQ_EXCEEDED);
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      scheduleFlush(this);
    }
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.closed) return;
    const data = this.out.length === 1 ? (this.out[0] as Buffer) : Buffer.concat(this.out, this.outBytes);
    this.out.length = 0;
    this.outBytes = 0;
    this.transport.write(data);
    // A reader that does not keep up leaves bytes in the socket's buffer; past the limit it is dropped
    // rather than allowed to grow memory (ARCHITECTURE.md lesson 4).
    if (this.transport.writableLength > this.host.sendQueueBytes) this.abort(SENDQ_EXCEEDED);
  }

  /** SessionLink: say why in an ERROR line, then close once it is written. */
  close(reason: string): void {
    if (this.closing) return;
    this.closeReason ??= reason;
    const host = this.session.host;
    this.queue(Buffer.from(`ERROR :Closing Link: ${host} (${reason})\r\n`, 'utf8'));
    this.closing = true;
    this.closingSince = this.host.now();
    this.held = undefined;
    this.flush();
    this.transport.end();
  }

  /** Drops the connection at once, for a peer that cannot be written to. */
  abort(reason: string): void {
    if (this.closed) return;
    this.closeReason ??= reason;
    this.closing = true;
    this.out.length = 0;
    this.outBytes = 0;
    this.transport.destroy();
  }
}
