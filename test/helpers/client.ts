/**
 * A raw-line IRC test client over a real socket (ARCHITECTURE.md lesson 8): send lines, wait for the
 * message you expect, use PING/PONG as a barrier, and see everything that arrived.
 */
import net from 'node:net';
import tls from 'node:tls';
import { parseMessage } from '../../src/protocol/message.js';
import type { IrcMessage } from '../../src/protocol/message.js';

export interface Received extends IrcMessage {
  readonly raw: string;
}

type Matcher = string | ((message: Received) => boolean);

const DEFAULT_TIMEOUT_MS = 3000;

export class TestClient {
  /** Every message received and not yet consumed by expect()/drain(). */
  readonly inbox: Received[] = [];
  /** Every line ever received, for debugging a failing test. */
  readonly log: string[] = [];
  private buffer = '';
  private waiters: Array<{ match: (m: Received) => boolean; resolve: (m: Received) => void }> = [];
  private closedResolve!: () => void;
  readonly closed: Promise<void>;
  isClosed = false;
  private barrier = 0;
  nick = '';

  private constructor(readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => {
      this.closedResolve = resolve;
    });
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let index: number;
      while ((index = this.buffer.indexOf('\n')) !== -1) {
        const raw = this.buffer.slice(0, index).replace(/\r$/, '');
        this.buffer = this.buffer.slice(index + 1);
        if (raw !== '') this.receive(raw);
      }
    });
    socket.on('error', () => {
      // A reset is a close for a test client; tests assert on `closed`.
    });
    socket.on('close', () => {
      this.isClosed = true;
      this.closedResolve();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<TestClient> {
    const socket = net.connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new TestClient(socket);
  }

  /**
   * Connects over TLS (the server's self-signed certificate is accepted), optionally presenting a client
   * certificate, e.g. for SASL EXTERNAL. The same line logic as over TCP.
   */
  static async connectTls(port: number, clientCert?: { cert: string; key: string }, host = '127.0.0.1'): Promise<TestClient> {
    const socket = tls.connect({ port, host, rejectUnauthorized: false, ...(clientCert ?? {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return new TestClient(socket);
  }

  /** A client on a socket the test connected itself (after writing a PROXY header, say). */
  static wrap(socket: net.Socket): TestClient {
    return new TestClient(socket);
  }

  /** Connects and registers with NICK/USER (after optional CAP REQ), resolving at the end of the welcome burst. */
  static async register(port: number, nick: string, options: { caps?: string[]; user?: string; realname?: string } = {}): Promise<TestClient> {
    const client = await TestClient.connect(port);
    await client.registerAs(nick, options);
    return client;
  }

  async registerAs(nick: string, options: { caps?: string[]; user?: string; realname?: string } = {}): Promise<void> {
    if (options.caps !== undefined && options.caps.length > 0) {
      this.send('CAP LS 302');
      this.send(`CAP REQ :${options.caps.join(' ')}`);
      this.send(`NICK ${nick}`);
      this.send(`USER ${options.user ?? nick} 0 * :${options.realname ?? `${nick} test`}`);
      await this.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
      this.send('CAP END');
    } else {
      this.send(`NICK ${nick}`);
      this.send(`USER ${options.user ?? nick} 0 * :${options.realname ?? `${nick} test`}`);
    }
    await this.expect('001');
    await this.expect((m) => m.command === '376' || m.command === '422');
    this.nick = nick;
    this.inbox.length = 0;
  }

  private receive(raw: string): void {
    this.log.push(raw);
    const parsed = parseMessage(raw);
    if (parsed === undefined) return;
    const message: Received = { ...parsed, raw };
    const index = this.waiters.findIndex((w) => w.match(message));
    if (index !== -1) {
      const [waiter] = this.waiters.splice(index, 1);
      waiter?.resolve(message);
      return;
    }
    this.inbox.push(message);
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  sendRaw(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves with the first message (already received or coming) that matches; rejects after a timeout. */
  expect(matcher: Matcher, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Received> {
    const match = typeof matcher === 'string' ? (m: Received) => m.command === matcher : matcher;
    const index = this.inbox.findIndex(match);
    if (index !== -1) {
      const [found] = this.inbox.splice(index, 1);
      if (found !== undefined) return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (m: Received) => {
        clearTimeout(timer);
        resolve(m);
      } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.nick || 'client'}: timed out waiting for ${typeof matcher === 'string' ? matcher : 'a matching message'}; last lines:\n${this.log.slice(-15).join('\n')}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Sends CAP LS 302 and collects its reply, which continues on further lines with "*" (cap negotiation 302):
   * the lines, and the tokens ("name" or "name=value") of all of them.
   */
  async capLs(): Promise<{ lines: Received[]; tokens: string[] }> {
    this.send('CAP LS 302');
    const lines: Received[] = [];
    for (;;) {
      const ls = await this.expect((m) => m.command === 'CAP' && m.params[1] === 'LS');
      lines.push(ls);
      if (ls.params[2] !== '*') break;
    }
    return { lines, tokens: lines.flatMap((ls) => (ls.params.at(-1) ?? '').split(' ')) };
  }

  /** Sends PING and waits for its PONG: everything the server sent before is then in the inbox. Returns and clears it. */
  async roundtrip(): Promise<Received[]> {
    const token = `barrier-${++this.barrier}`;
    this.send(`PING ${token}`);
    await this.expect((m) => m.command === 'PONG' && m.params.at(-1) === token);
    return this.drain();
  }

  drain(): Received[] {
    return this.inbox.splice(0, this.inbox.length);
  }

  /** True if any message in the inbox matches, without consuming it. */
  has(matcher: Matcher): boolean {
    const match = typeof matcher === 'string' ? (m: Received) => m.command === matcher : matcher;
    return this.inbox.some(match);
  }

  async quit(): Promise<void> {
    if (this.isClosed) return;
    this.send('QUIT :test done');
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
    this.socket.destroy();
  }

  close(): void {
    this.socket.destroy();
  }
}
