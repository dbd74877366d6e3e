/**
 * The terminal client's TCP and TLS transport, against real servers on loopback: lines framed whatever the chunks,
 * limits, errors in words, and TLS that only ever talks to a verified server (system CAs or a pinned fingerprint).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createPlainServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Transport, TransportHandlers } from '../src/client/transport.js';
import { loadOrCreateSelfSigned } from '../src/net/certificates.js';
import type { TlsMaterial } from '../src/net/certificates.js';
import { ConnectError } from '../src/tui/address.js';
import { fetchPeerCertificate, sameFingerprint, tcpTransport } from '../src/tui/tcp-transport.js';
import type { TcpTransportOptions } from '../src/tui/tcp-transport.js';

const WAIT_MS = 5_000;

/** What the transport told its handlers, with a way to wait for what a test expects. */
class Recorder implements TransportHandlers {
  opens = 0;
  readonly lines: string[] = [];
  readonly closes: string[] = [];
  private wake: () => void = () => undefined;

  open(): void {
    this.opens++;
    this.wake();
  }
  line(line: string): void {
    this.lines.push(line);
    this.wake();
  }
  close(reason: string): void {
    this.closes.push(reason);
    this.wake();
  }

  async until(what: string, condition: () => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}; lines ${JSON.stringify(this.lines)}, closes ${JSON.stringify(this.closes)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async closed(): Promise<string> {
    await this.until('close', () => this.closes.length > 0);
    return this.closes[0]!;
  }
}

/** One connection as the server saw it: every byte of IRC received, and when the TCP connection ended. */
interface Accepted {
  /** The socket IRC goes over: the TCP one, or on TLS the TLS one once its handshake is done. */
  readonly secured: Promise<Socket>;
  readonly received: Buffer[];
  readonly ended: Promise<void>;
}

/**
 * A loopback server (plain or TLS) that records its connections and hands them out in order. Connections are
 * counted at accept, not at the end of the TLS handshake: a client that hangs up during its handshake (a wrong
 * pin) may never complete it on the server's side.
 */
class LoopbackServer {
  private readonly accepted: Accepted[] = [];
  private readonly waiting: ((connection: Accepted) => void)[] = [];
  private readonly sockets = new Set<Socket>();
  /** TLS: the connection waiting for its handshake, by the client's port. */
  private readonly handshaking = new Map<number, (socket: Socket) => void>();
  port = 0;

  private constructor(
    private readonly server: Server,
    private readonly tls: boolean,
  ) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      const received: Buffer[] = [];
      const ended = new Promise<void>((resolve) => {
        socket.once('close', () => {
          resolve();
        });
      });
      const secured = new Promise<Socket>((resolve) => {
        if (!tls) resolve(socket);
        else this.handshaking.set(socket.remotePort ?? 0, resolve);
      });
      void secured.then((ircSocket) => ircSocket.on('data', (chunk: Buffer) => received.push(chunk)));
      const connection = { secured, received, ended };
      const waiter = this.waiting.shift();
      if (waiter === undefined) this.accepted.push(connection);
      else waiter(connection);
    });
    server.on('secureConnection', (socket: Socket) => {
      socket.on('error', () => undefined);
      this.handshaking.get(socket.remotePort ?? 0)?.(socket);
    });
    server.on('tlsClientError', () => undefined);
  }

  static async plain(): Promise<LoopbackServer> {
    return new LoopbackServer(createPlainServer(), false).listen();
  }

  static async tls(material: TlsMaterial): Promise<LoopbackServer> {
    return new LoopbackServer(createTlsServer({ cert: material.cert, key: material.key }), true).listen();
  }

  private async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : assert.fail('no port');
    return this;
  }

  next(): Promise<Accepted> {
    const ready = this.accepted.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The next connection, once it carries IRC (after the TLS handshake). */
  async nextSecured(): Promise<Accepted & { readonly socket: Socket }> {
    const connection = await this.next();
    return { ...connection, socket: await connection.secured };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.once('close', resolve));
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

function connect(options: Partial<TcpTransportOptions> & { port: number }): { transport: Transport; recorder: Recorder } {
  const recorder = new Recorder();
  const transport = tcpTransport({ host: '127.0.0.1', tls: false, ...options })(recorder);
  return { transport, recorder };
}

/** A port nothing listens on: taken from the system, then given back. */
async function closedPort(): Promise<number> {
  const server = await LoopbackServer.plain();
  const port = server.port;
  await server.close();
  return port;
}

/** Waits until the server has read `text` (bytes may arrive in several chunks). */
async function serverReceives(connection: Accepted, text: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!Buffer.concat(connection.received).toString('utf8').includes(text)) {
    if (Date.now() > deadline) assert.fail(`the server never received ${JSON.stringify(text)}`);
    await sleep(5);
  }
}

const servers: LoopbackServer[] = [];
async function track(server: Promise<LoopbackServer>): Promise<LoopbackServer> {
  const started = await server;
  servers.push(started);
  return started;
}
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('tcpTransport over plain TCP', () => {
  let server: LoopbackServer;
  before(async () => {
    server = await track(LoopbackServer.plain());
  });

  it('opens, sends lines ending in CR LF and receives lines without them', async () => {
    const { transport, recorder } = connect({ port: server.port });
    const connection = await server.nextSecured();
    await recorder.until('open', () => recorder.opens === 1);
    transport.send('NICK alice');
    await serverReceives(connection, 'NICK alice\r\n');
    connection.socket.write(':natter 001 alice :Welcome\r\n');
    await recorder.until('a line', () => recorder.lines.length === 1);
    assert.deepEqual(recorder.lines, [':natter 001 alice :Welcome']);
    transport.close();
  });

  it('accepts CR LF and bare LF, and skips empty lines', async () => {
    const { transport, recorder } = connect({ port: server.port });
    const connection = await server.nextSecured();
    connection.socket.write('one\r\ntwo\n\r\n\nthree\r\n');
    await recorder.until('three lines', () => recorder.lines.length === 3);
    assert.deepEqual(recorder.lines, ['one', 'two', 'three']);
    transport.close();
  });

  it('a line split across chunks, and a UTF-8 character split across chunks, arrive whole', async () => {
    const { transport, recorder } = connect({ port: server.port });
    const connection = await server.nextSecured();
    connection.socket.setNoDelay(true);
    const bytes = Buffer.from('PRIVMSG #room :héllo 👋 wörld\r\nPING :x\r\n', 'utf8');
    const emoji = bytes.indexOf(Buffer.from('👋', 'utf8'));
    // Cuts inside "é", inside the four bytes of the emoji, and between CR and LF.
    const cuts = [0, 16, emoji + 1, emoji + 3, bytes.indexOf('\r') + 1, bytes.length];
    for (let index = 1; index < cuts.length; index++) {
      connection.socket.write(bytes.subarray(cuts[index - 1], cuts[index]));
      await sleep(15);
    }
    await recorder.until('two lines', () => recorder.lines.length === 2);
    assert.deepEqual(recorder.lines, ['PRIVMSG #room :héllo 👋 wörld', 'PING :x']);
    transport.close();
  });

  it('a line longer than 64 KiB closes the connection with that reason', async () => {
    const { recorder } = connect({ port: server.port });
    const connection = await server.nextSecured();
    connection.socket.write('before\r\n');
    connection.socket.write('x'.repeat(65 * 1024));
    assert.equal(await recorder.closed(), 'the server sent a line longer than 64 KiB');
    assert.deepEqual(recorder.lines, ['before']);
    await connection.ended;
  });

  it('a complete line longer than 64 KiB closes it too, and is not delivered', async () => {
    const { recorder } = connect({ port: server.port });
    const connection = await server.nextSecured();
    connection.socket.write(`${'y'.repeat(65 * 1024)}\r\nafter\r\n`);
    assert.equal(await recorder.closed(), 'the server sent a line longer than 64 KiB');
    assert.deepEqual(recorder.lines, []);
  });

  it('a line of 64 KiB counted in bytes, not characters, is still refused', async () => {
    const { recorder } = connect({ port: server.port });
    const connection = await server.nextSecured();
    connection.socket.write('é'.repeat(33 * 1024)); // 33 Ki characters, 66 KiB
    assert.equal(await recorder.closed(), 'the server sent a line longer than 64 KiB');
  });

  it('close() flushes what was sent, reports "closed" once, and ignores later sends', async () => {
    const { transport, recorder } = connect({ port: server.port });
    const connection = await server.next();
    await recorder.until('open', () => recorder.opens === 1);
    transport.send('QUIT :bye');
    transport.close();
    transport.send('NICK late');
    transport.close();
    await connection.ended;
    assert.equal(Buffer.concat(connection.received).toString('utf8'), 'QUIT :bye\r\n');
    await sleep(20);
    assert.deepEqual(recorder.closes, ['closed']);
  });

  it('the server hanging up is reported once, naming the address', async () => {
    const { recorder } = connect({ port: server.port });
    const connection = await server.nextSecured();
    await recorder.until('open', () => recorder.opens === 1);
    connection.socket.end('ERROR :Closing link\r\n');
    assert.equal(await recorder.closed(), `127.0.0.1:${server.port} closed the connection`);
    assert.deepEqual(recorder.lines, ['ERROR :Closing link']);
    await sleep(20);
    assert.equal(recorder.closes.length, 1);
  });

  it('a handler that closes the transport gets no further lines', async () => {
    const recorder = new Recorder();
    const transport: Transport = tcpTransport({ host: '127.0.0.1', port: server.port, tls: false })({
      open: () => {
        recorder.open();
      },
      line: (line) => {
        recorder.line(line);
        transport.close();
      },
      close: (reason) => {
        recorder.close(reason);
      },
    });
    const connection = await server.nextSecured();
    connection.socket.write('first\r\nsecond\r\n');
    assert.equal(await recorder.closed(), 'closed');
    assert.deepEqual(recorder.lines, ['first']);
  });

  it('a refused connection never opens and says so', async () => {
    const port = await closedPort();
    const { recorder } = connect({ port });
    assert.equal(await recorder.closed(), `connection refused by 127.0.0.1:${port}`);
    assert.equal(recorder.opens, 0);
    await sleep(20);
    assert.equal(recorder.closes.length, 1);
  });

  it('an unknown host name says so', async () => {
    const { recorder } = connect({ host: 'no-such-host.invalid', port: 6667 });
    assert.equal(await recorder.closed(), 'no such host: no-such-host.invalid');
  });

  it('a server that never completes the TLS handshake times out', async () => {
    const { recorder } = connect({ port: server.port, tls: true, connectTimeoutMs: 150 });
    const connection = await server.next();
    assert.equal(await recorder.closed(), `no answer from 127.0.0.1:${server.port}`);
    assert.equal(recorder.opens, 0);
    await connection.ended;
  });

  it('close() before the connection is set up hangs up at once and never opens', async () => {
    const { transport, recorder } = connect({ port: server.port, tls: true, pinnedFingerprint: 'AA:BB' });
    const connection = await server.next();
    transport.close();
    await connection.ended;
    await sleep(20);
    assert.deepEqual(recorder.closes, ['closed']);
    assert.equal(recorder.opens, 0);
  });

  it('TLS to a server that speaks plain text says so', async () => {
    const { recorder } = connect({ port: server.port, tls: true, pinnedFingerprint: 'AA:BB' });
    const connection = await server.nextSecured();
    connection.socket.write(':natter NOTICE * :Looking up your hostname\r\n');
    assert.match(await recorder.closed(), /does not speak TLS/);
    assert.equal(recorder.opens, 0);
  });
});

describe('tcpTransport over TLS', () => {
  let material: TlsMaterial;
  let server: LoopbackServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'natter-tui-tls-'));
    material = await loadOrCreateSelfSigned(dir, ['localhost']);
    server = await track(LoopbackServer.tls(material));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('the pinned certificate opens the connection and lines go both ways', async () => {
    const { transport, recorder } = connect({ port: server.port, tls: true, pinnedFingerprint: material.fingerprint });
    const connection = await server.nextSecured();
    await recorder.until('open', () => recorder.opens === 1);
    transport.send('CAP LS 302');
    await serverReceives(connection, 'CAP LS 302\r\n');
    connection.socket.write(':natter CAP * LS :sasl\r\n');
    await recorder.until('a line', () => recorder.lines.length === 1);
    assert.deepEqual(recorder.lines, [':natter CAP * LS :sasl']);
    transport.close();
    assert.deepEqual(recorder.closes, ['closed']);
  });

  it('the pin is compared ignoring case and colons', async () => {
    const loose = material.fingerprint.replace(/:/g, '').toLowerCase();
    const { transport, recorder } = connect({ port: server.port, tls: true, pinnedFingerprint: loose });
    await server.next();
    await recorder.until('open', () => recorder.opens === 1);
    transport.close();
  });

  it('another certificate than the pinned one: reported, never opened, and the server receives no bytes', async () => {
    const pinned = 'AA:'.repeat(31) + 'AA';
    const mismatches: string[] = [];
    const { transport, recorder } = connect({
      port: server.port,
      tls: true,
      pinnedFingerprint: pinned,
      onCertificateMismatch: (actual) => mismatches.push(actual),
    });
    transport.send('NICK eager'); // before open: must not be written, let alone reach this server
    const connection = await server.next();
    const reason = await recorder.closed();
    assert.deepEqual(mismatches, [material.fingerprint]);
    assert.ok(reason.includes(material.fingerprint) && reason.includes(pinned), reason);
    assert.equal(recorder.opens, 0);
    await connection.ended;
    assert.equal(Buffer.concat(connection.received).length, 0);
  });

  it('no pin and a self-signed certificate: refused before anything is sent', async () => {
    const { transport, recorder } = connect({ port: server.port, tls: true });
    transport.send('NICK eager');
    const connection = await server.next();
    assert.equal(await recorder.closed(), `the TLS certificate of 127.0.0.1:${server.port} is refused: it is self-signed`);
    assert.equal(recorder.opens, 0);
    await connection.ended;
    assert.equal(Buffer.concat(connection.received).length, 0);
  });

  it('fetchPeerCertificate reads the certificate without sending anything', async () => {
    const accepted = server.next();
    const certificate = await fetchPeerCertificate('127.0.0.1', server.port);
    assert.equal(certificate.fingerprint, new X509Certificate(material.cert).fingerprint256);
    assert.equal(certificate.authorized, false);
    assert.equal(certificate.authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(certificate.subject, 'localhost');
    assert.equal(typeof certificate.validTo, 'string');
    const connection = await accepted;
    await connection.ended;
    assert.equal(Buffer.concat(connection.received).length, 0);
  });

  it('fetchPeerCertificate on a closed port rejects with the reason', async () => {
    const port = await closedPort();
    await assert.rejects(fetchPeerCertificate('127.0.0.1', port), (error: unknown) => {
      return error instanceof ConnectError && error.message === `connection refused by 127.0.0.1:${port}`;
    });
  });
});

describe('sameFingerprint', () => {
  it('ignores case and colons', () => {
    assert.equal(sameFingerprint('AB:CD:EF', 'abcdef'), true);
    assert.equal(sameFingerprint('AB:CD:EF', 'AB:CD:EE'), false);
  });
});
