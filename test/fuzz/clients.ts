/**
 * The two kinds of client of a fuzz run (test/fuzz/run.ts): fuzz clients, which send what the generator makes and
 * reconnect when they are closed, and sentinels, well-behaved clients that chat in one room throughout and check
 * that every message they expect arrives, in order, and that every line the server sends them is a valid one.
 */
import { isUtf8 } from 'node:buffer';
import net from 'node:net';
import { parseMessage } from '../../src/protocol/message.js';
import type { IrcMessage } from '../../src/protocol/message.js';
import { LineGenerator, mixSeed, Random } from './generator.js';
import type { FuzzWorld, SeenMessage } from './generator.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A line the server sent, raw and parsed. */
interface ServerLine {
  readonly raw: Buffer;
  readonly message: IrcMessage | undefined;
}

/** A socket read as lines (split on LF, a CR before it dropped), with waiters for a line that matches. */
class LineSocket {
  private pending = Buffer.alloc(0);
  private waiters: Array<{ match: (message: IrcMessage) => boolean; resolve: (message: IrcMessage | undefined) => void }> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    private readonly onLine: (line: ServerLine) => void,
  ) {
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
        resolve();
      });
    });
    socket.on('error', () => {
      // A reset is a close here; 'close' follows.
    });
    socket.on('data', (data: Buffer) => {
      this.read(data);
    });
  }

  static connect(port: number, onLine: (line: ServerLine) => void, timeoutMs = 5000): Promise<LineSocket | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(undefined);
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new LineSocket(socket, onLine));
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  private read(data: Buffer): void {
    let chunk = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    let end: number;
    while ((end = chunk.indexOf(0x0a)) !== -1) {
      const raw = chunk.subarray(0, end > 0 && chunk[end - 1] === 0x0d ? end - 1 : end);
      chunk = chunk.subarray(end + 1);
      if (raw.length === 0) continue;
      const message = parseMessage(raw.toString('utf8'));
      this.onLine({ raw, message });
      if (message === undefined) continue;
      const index = this.waiters.findIndex((waiter) => waiter.match(message));
      if (index !== -1) this.waiters.splice(index, 1)[0]?.resolve(message);
    }
    this.pending = Buffer.from(chunk);
  }

  /** The next line that matches, or undefined after `timeoutMs` or when the socket closes. */
  waitFor(match: (message: IrcMessage) => boolean, timeoutMs: number): Promise<IrcMessage | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = {
        match,
        resolve: (message: IrcMessage | undefined) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Writes, waiting (bounded) for the socket to drain when its buffer is full; false if it closed meanwhile. */
  async write(bytes: Buffer | string): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return false;
    if (this.socket.write(bytes)) return true;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.socket.once('drain', () => { resolve(true); })),
      this.closedPromise.then(() => false),
      sleep(5000).then(() => false),
    ]);
    if (!drained) this.socket.destroy();
    return drained;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** What a line looks like in a report: printable ASCII as is, anything else escaped. */
export function printable(bytes: Buffer, max = 300): string {
  let out = '';
  for (const byte of bytes.subarray(0, max)) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else if (byte === 0x0d) out += '\\r';
    else if (byte === 0x0a) out += '\\n';
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > max ? `${out}… (${bytes.length} bytes)` : out;
}

/** Why a line from the server is not one a client can read (every client, fuzzing or not, gets only valid lines). */
function invalidLine(line: ServerLine): string | undefined {
  if (!isUtf8(line.raw)) return 'not UTF-8';
  if (line.raw.includes(0)) return 'a NUL byte';
  if (line.message === undefined) return 'does not parse';
  return undefined;
}

// ---- fuzz clients --------------------------------------------------------------------------------------------------

export interface FuzzTotals {
  chunks: number;
  bytes: number;
  connections: number;
  /** Connections that could not be made (refused, or past connectionsPerIp: those get an ERROR and a close). */
  failedConnects: number;
  /** ERROR lines received, by reason ("Excess Flood", "SendQ exceeded", ...). */
  serverClosed: Map<string, number>;
  /** What fuzz clients received, by command or numeric ("FAIL" with its code): which paths the run reached. */
  replies: Map<string, number>;
  /** Lines the server sent a fuzz client that are not valid (not UTF-8, a NUL, no command), one per kind. */
  invalidLines: string[];
  /**
   * Messages any fuzz client has seen, newest last: shared, so that one client redacts and replies to what another
   * sent (the generator picks one by a drawn index, see generator.ts).
   */
  seen: SeenMessage[];
}

export function emptyTotals(): FuzzTotals {
  return { chunks: 0, bytes: 0, connections: 0, failedConnects: 0, serverClosed: new Map(), replies: new Map(), invalidLines: [], seen: [] };
}

/** How many sent chunks each fuzz client remembers, for the report of a failure. */
const REMEMBERED = 15;
/** Messages the run remembers, to refer to in REDACT, replies and CHATHISTORY; and view-once ones per connection. */
const SEEN_KEPT = 256;
const SEALED_KEPT = 32;

/** What a fuzz connection knows: its nick once welcomed, and what it has seen. */
interface ConnectionView {
  nick: string;
  readonly seen: SeenMessage[];
  readonly sealed: SeenMessage[];
}

function remember(pool: SeenMessage[], message: SeenMessage, kept: number): void {
  pool.push(message);
  if (pool.length > kept) pool.shift();
}

export interface FuzzClientOptions {
  readonly port: number;
  readonly seed: number;
  /** Seeds differ between the warm-up and the measured phase, and between clients. */
  readonly phase: number;
  readonly index: number;
  readonly world: FuzzWorld;
  /** Average chunks per second while not bursting. */
  readonly chunksPerSecond: number;
  readonly totals: FuzzTotals;
}

/** One fuzz client: connection after connection until stopped, each with its own seed (seed, phase, index, n). */
export class FuzzClient {
  /** The last chunks sent, over all its connections: "[n] kind: bytes", n the connection's number. */
  readonly lastSent: string[] = [];
  private socket: LineSocket | undefined;
  private stopped = false;
  private connectionNumber = 0;

  constructor(private readonly options: FuzzClientOptions) {}

  get name(): string {
    return `fuzz client ${this.options.index}`;
  }

  /** Runs connections until stop(); resolves when the last has ended. */
  async run(): Promise<void> {
    while (this.running()) {
      await this.oneConnection();
      if (this.running()) await sleep(new Random(mixSeed(this.options.seed, this.options.index, this.connectionNumber, 99)).below(200));
    }
  }

  /** A method, not the field, where an await may have changed it (the compiler would take the field as narrowed). */
  private running(): boolean {
    return !this.stopped;
  }

  /** Closes the current connection at once; run() then resolves. */
  stop(): void {
    this.stopped = true;
    this.socket?.destroy();
  }

  private remember(entry: string): void {
    this.lastSent.push(entry);
    if (this.lastSent.length > REMEMBERED) this.lastSent.shift();
  }

  private async oneConnection(): Promise<void> {
    const { options } = this;
    const number = ++this.connectionNumber;
    const seed = mixSeed(options.seed, options.phase, options.index, number);
    const generator = new LineGenerator(seed, options.world);
    const behaviour = new Random(mixSeed(seed, 7));
    const view: ConnectionView = { nick: '', seen: options.totals.seen, sealed: [] };
    const socket = await LineSocket.connect(options.port, (line) => {
      this.read(line, view);
    });
    if (socket === undefined) {
      options.totals.failedConnects++;
      return;
    }
    this.socket = socket;
    if (!this.running()) {
      socket.destroy();
      return;
    }
    options.totals.connections++;
    this.remember(`[connection ${number}, seed ${seed}]`);
    const send = async (bytes: Buffer, kind: string): Promise<boolean> => {
      this.remember(`[${number}] ${kind}: ${printable(bytes)}`);
      options.totals.chunks++;
      options.totals.bytes += bytes.length;
      return socket.write(bytes);
    };
    // A rare slow reader: the server must drop it (SendQ exceeded) rather than hold its output without bound.
    if (behaviour.chance(0.02)) socket.socket.pause();
    if (behaviour.chance(0.7)) {
      const nick = options.world.nicks[(options.index + number * 7) % options.world.nicks.length] ?? 'fz';
      const opening = generator.registration(nick);
      if (!(await send(opening.bytes, opening.kind))) return;
      const welcomed = (m: IrcMessage): boolean => ['001', '432', '433', 'ERROR'].includes(m.command);
      const answer = await socket.waitFor(welcomed, 5000);
      // Nick taken (another fuzz client has it): one more try with a nick of this client's own.
      if ((answer?.command === '433' || answer?.command === '432') && (await send(Buffer.from(`NICK ${nick}_${options.index}\r\n`), 'NICK again'))) await socket.waitFor(welcomed, 5000);
    }
    let budget = behaviour.between(20, 400);
    const gap = 1000 / options.chunksPerSecond;
    while (budget > 0 && this.running() && !socket.closed) {
      if (behaviour.chance(0.003)) {
        // A flood: far past burst and maxQueued, to be closed with "Excess Flood".
        if (!(await send(Buffer.from('PING :flood\r\n'.repeat(200)), 'flood of PINGs'))) break;
      }
      const burst = behaviour.chance(0.04) ? behaviour.between(5, 25) : 1;
      for (let i = 0; i < burst && budget > 0; i++, budget--) {
        const next = generator.next(view);
        if (!(await send(next.bytes, next.kind))) break;
      }
      await sleep(behaviour.below(2 * gap));
    }
    if (!socket.closed) {
      const ending = behaviour.weighted<'quit' | 'destroy' | 'end'>([
        [3, 'quit'],
        [2, 'destroy'],
        [1, 'end'],
      ]);
      if (ending === 'quit') await send(Buffer.from('QUIT :fuzz client done\r\n'), 'QUIT');
      if (ending === 'end') socket.socket.end();
      if (ending !== 'destroy') await Promise.race([socket.closedPromise, sleep(1000)]);
    }
    socket.destroy();
    await socket.closedPromise;
  }

  private read(line: ServerLine, view: ConnectionView): void {
    const message = line.message;
    const invalid = invalidLine(line);
    const { invalidLines } = this.options.totals;
    if (invalid !== undefined && invalidLines.length < 20 && !invalidLines.some((known) => known.startsWith(invalid))) {
      invalidLines.push(`${invalid}: ${printable(line.raw, 200)}`);
    }
    if (message === undefined) return;
    if (message.command === '001') view.nick = message.params[0] ?? '';
    const key = message.command === 'FAIL' ? `FAIL ${message.params[0] ?? ''} ${message.params[1] ?? ''}` : message.command;
    const { replies } = this.options.totals;
    replies.set(key, (replies.get(key) ?? 0) + 1);
    if (message.command === 'ERROR') {
      // "Closing Link: host (reason)"; a QUIT's or KILL's own text is not worth counting apart.
      const reason = (/\((.*)\)\s*$/.exec(message.params[0] ?? '')?.[1] ?? message.params[0] ?? '').replace(/^(Quit|Killed)\b.*/, '$1');
      const totals = this.options.totals.serverClosed;
      totals.set(reason, (totals.get(reason) ?? 0) + 1);
    }
    const msgid = message.tags?.get('msgid');
    if (msgid !== undefined && msgid !== '' && ['PRIVMSG', 'NOTICE', 'TAGMSG'].includes(message.command)) {
      // Where it was said: the room, or the other party (the sender, unless this is the echo of our own message).
      const [to = ''] = message.params;
      const from = message.source?.split('!')[0] ?? '';
      const seen = { msgid, target: to.startsWith('#') || from === view.nick ? to : from };
      remember(view.seen, seen, SEEN_KEPT);
      if (message.tags?.has('natter.chat/view-once') === true) remember(view.sealed, seen, SEALED_KEPT);
    }
  }
}

// ---- sentinels -----------------------------------------------------------------------------------------------------

/** A sentinel message seen by one sentinel: "check <seq>" in the room, "direct <seq>" in private. */
const ROOM_TEXT = /^check (\d+)$/;
const DIRECT_TEXT = /^direct (\d+)$/;

export interface SentinelOptions {
  readonly port: number;
  readonly nick: string;
  readonly room: string;
  readonly caps: readonly string[];
  /** How long a message or a PONG may take before the sentinel calls it lost (the machine may be busy). */
  readonly stallMs: number;
}

/** When each sentinel message was sent, by sender: what receivers measure latency and stalls against. */
export class SentinelLedger {
  readonly roomSent = new Map<string, number[]>();
  readonly directSent = new Map<string, number[]>();
}

/**
 * A well-behaved client. It registers, joins the sentinels' room, then every ~250 ms says "check <n>" there and now
 * and then "direct <n>" to the next sentinel, and sends PING. It checks that it receives every other sentinel's
 * messages (and its own when it has echo-message) in order and in time, that every PING is answered in time, and
 * that every line it receives is valid UTF-8 without NUL that parses as a message. Each problem is one string.
 */
export class Sentinel {
  readonly problems: string[] = [];
  /** The last lines received, for the report of a failure. */
  readonly lastReceived: string[] = [];
  private socket: LineSocket | undefined;
  private readonly nextRoomSeq = new Map<string, number>();
  private readonly nextDirectSeq = new Map<string, number>();
  private roomSeq = 0;
  private directSeq = 0;
  private pingSeq = 0;
  private readonly pings = new Map<string, number>();
  maxLatencyMs = 0;
  received = 0;
  private chatting = false;
  private chatLoop: Promise<void> | undefined;

  constructor(
    readonly options: SentinelOptions,
    private readonly ledger: SentinelLedger,
    private readonly peers: () => readonly Sentinel[],
  ) {}

  get nick(): string {
    return this.options.nick;
  }

  get echoes(): boolean {
    return this.options.caps.includes('echo-message');
  }

  /** Connects, registers and joins the room; throws if any step does not happen in time. */
  async start(): Promise<void> {
    const { options } = this;
    const socket = await LineSocket.connect(options.port, (line) => {
      this.receive(line);
    });
    if (socket === undefined) throw new Error(`${options.nick}: could not connect`);
    this.socket = socket;
    const lines = options.caps.length > 0 ? ['CAP LS 302', `CAP REQ :${options.caps.join(' ')}`] : [];
    lines.push(`NICK ${options.nick}`, `USER ${options.nick} 0 * :sentinel`);
    if (options.caps.length > 0) lines.push('CAP END');
    await socket.write(lines.map((line) => `${line}\r\n`).join(''));
    const welcome = await socket.waitFor((m) => m.command === '376' || m.command === '422' || m.command === '433' || m.command === 'ERROR', 20_000);
    if (welcome === undefined || (welcome.command !== '376' && welcome.command !== '422')) throw new Error(`${options.nick}: did not register (${welcome?.command ?? 'timeout'})`);
    await socket.write(`JOIN ${options.room}\r\n`);
    const joined = await socket.waitFor((m) => m.command === '366' || m.command === '403' || m.command === '474' || m.command === '475', 20_000);
    if (joined?.command !== '366') throw new Error(`${options.nick}: did not join ${options.room} (${joined?.command ?? 'timeout'})`);
  }

  /** Starts saying "check <n>" and the rest; stopChatting() ends it. */
  startChatting(): void {
    this.chatting = true;
    this.chatLoop = this.chat();
  }

  async stopChatting(): Promise<void> {
    this.chatting = false;
    await this.chatLoop;
  }

  private async chat(): Promise<void> {
    let tick = 0;
    while (this.chatting && this.socket !== undefined && !this.socket.closed) {
      tick++;
      await this.sayInRoom();
      if (tick % 4 === 0) await this.ping();
      if (tick % 8 === 0) await this.sayDirect();
      this.checkStalls();
      await sleep(200 + Math.floor(Math.random() * 100));
    }
  }

  async sayInRoom(): Promise<void> {
    const sent = this.ledger.roomSent.get(this.nick) ?? [];
    this.ledger.roomSent.set(this.nick, sent);
    sent.push(Date.now());
    await this.socket?.write(`PRIVMSG ${this.options.room} :check ${this.roomSeq++}\r\n`);
  }

  private async sayDirect(): Promise<void> {
    const sent = this.ledger.directSent.get(this.nick) ?? [];
    this.ledger.directSent.set(this.nick, sent);
    sent.push(Date.now());
    await this.socket?.write(`PRIVMSG ${this.directPeer().nick} :direct ${this.directSeq++}\r\n`);
  }

  /** The sentinel this one sends its direct messages to: the next one, in a ring. */
  private directPeer(): Sentinel {
    const peers = this.peers();
    return peers[(peers.indexOf(this) + 1) % peers.length] ?? this;
  }

  /** Sends PING and resolves with the round trip in ms, or undefined if no PONG came within stallMs. */
  async ping(wait = false): Promise<number | undefined> {
    const token = `alive-${++this.pingSeq}`;
    const sentAt = Date.now();
    this.pings.set(token, sentAt);
    const pong = this.socket?.waitFor((m) => m.command === 'PONG' && m.params.at(-1) === token, this.options.stallMs);
    await this.socket?.write(`PING :${token}\r\n`);
    if (!wait) return undefined;
    return (await pong) === undefined ? undefined : Date.now() - sentAt;
  }

  /** Sends a line and waits for a line that matches (for the checks after the run). */
  async ask(line: string, match: (message: IrcMessage) => boolean, timeoutMs: number): Promise<IrcMessage | undefined> {
    const reply = this.socket?.waitFor(match, timeoutMs);
    await this.socket?.write(`${line}\r\n`);
    return reply;
  }

  /** True once every room and direct message sent to this sentinel so far has arrived. */
  hasEverything(): boolean {
    for (const peer of this.peers()) {
      const roomSent = this.ledger.roomSent.get(peer.nick)?.length ?? 0;
      if ((peer !== this || this.echoes) && (this.nextRoomSeq.get(peer.nick) ?? 0) < roomSent) return false;
      if (peer.directPeer() === this && peer !== this && (this.nextDirectSeq.get(peer.nick) ?? 0) < (this.ledger.directSent.get(peer.nick)?.length ?? 0)) return false;
    }
    return this.pings.size === 0;
  }

  /** What is still missing: for the report when the wait for everything timed out. */
  missing(): string[] {
    const out: string[] = [];
    for (const peer of this.peers()) {
      const roomSent = this.ledger.roomSent.get(peer.nick)?.length ?? 0;
      const roomNext = this.nextRoomSeq.get(peer.nick) ?? 0;
      if ((peer !== this || this.echoes) && roomNext < roomSent) out.push(`${this.nick} is missing ${peer.nick}'s room messages ${roomNext}..${roomSent - 1}`);
      const directSent = this.ledger.directSent.get(peer.nick)?.length ?? 0;
      const directNext = this.nextDirectSeq.get(peer.nick) ?? 0;
      if (peer.directPeer() === this && peer !== this && directNext < directSent) out.push(`${this.nick} is missing ${peer.nick}'s direct messages ${directNext}..${directSent - 1}`);
    }
    if (this.pings.size > 0) out.push(`${this.nick} has ${this.pings.size} PING(s) without PONG`);
    return out;
  }

  /** A message or PONG older than stallMs that has not arrived is a problem (once per kind, not once per tick). */
  private checkStalls(): void {
    const now = Date.now();
    for (const peer of this.peers()) {
      if (peer === this && !this.echoes) continue;
      const next = this.nextRoomSeq.get(peer.nick) ?? 0;
      const sentAt = this.ledger.roomSent.get(peer.nick)?.[next];
      if (sentAt !== undefined && now - sentAt > this.options.stallMs) this.problem(`stall: ${this.nick} has not received ${peer.nick}'s room message ${next} after ${now - sentAt} ms`);
    }
    for (const [token, sentAt] of this.pings) {
      if (now - sentAt > this.options.stallMs) this.problem(`stall: ${this.nick} got no PONG for ${token} after ${now - sentAt} ms`);
    }
  }

  private problem(text: string): void {
    // One report per kind of problem is enough; a stall would otherwise fill the report every tick.
    const kind = text.replace(/\d+/g, 'N');
    if (!this.problems.some((known) => known.replace(/\d+/g, 'N') === kind)) this.problems.push(text);
  }

  private receive(line: ServerLine): void {
    this.received++;
    const shown = printable(line.raw, 200);
    this.lastReceived.push(shown);
    if (this.lastReceived.length > 15) this.lastReceived.shift();
    const invalid = invalidLine(line);
    if (invalid !== undefined) this.problem(`${this.nick} received a line the server should not send (${invalid}): ${shown}`);
    const message = line.message;
    if (message === undefined) return;
    switch (message.command) {
      case 'PING':
        void this.socket?.write(`PONG :${message.params.at(-1) ?? ''}\r\n`);
        return;
      case 'PONG':
        this.pings.delete(message.params.at(-1) ?? '');
        return;
      case 'ERROR':
        this.problem(`${this.nick} was disconnected: ${shown}`);
        return;
      case 'KICK':
        if (message.params[1] === this.nick) this.problem(`${this.nick} was kicked: ${shown}`);
        this.roomEvent(shown);
        return;
      case 'NICK':
        // Renamed, its messages would come from another nick: the others would miss them all.
        if (message.source?.split('!')[0] === this.nick) this.problem(`${this.nick} was renamed: ${shown}`);
        return;
      case 'MODE':
      case 'TOPIC':
      case 'INVITE':
        if (message.params[0] === this.options.room) this.roomEvent(shown);
        return;
      case 'PRIVMSG':
        this.sentinelMessage(message);
        return;
      default:
        // A sentinel sends nothing a server should refuse: an error numeric means the server refused it something.
        if (/^[45]\d\d$/.test(message.command)) this.problem(`${this.nick} was refused: ${shown}`);
    }
  }

  /** What happened to the room (modes, kicks, topic), kept for the report of a failure. */
  readonly roomEvents: string[] = [];

  private roomEvent(shown: string): void {
    this.roomEvents.push(shown);
    if (this.roomEvents.length > 20) this.roomEvents.shift();
  }

  private sentinelMessage(message: IrcMessage): void {
    const from = message.source?.split('!')[0] ?? '';
    const sender = this.peers().find((peer) => peer.nick === from);
    if (sender === undefined) return;
    const [target = '', text = ''] = message.params;
    const room = ROOM_TEXT.exec(text);
    if (room !== null && target === this.options.room) {
      this.inOrder(this.nextRoomSeq, this.ledger.roomSent, from, Number(room[1]), 'room');
      return;
    }
    const direct = DIRECT_TEXT.exec(text);
    if (direct !== null && target === this.nick) this.inOrder(this.nextDirectSeq, this.ledger.directSent, from, Number(direct[1]), 'direct');
  }

  private inOrder(next: Map<string, number>, ledger: Map<string, number[]>, from: string, seq: number, what: string): void {
    const expected = next.get(from) ?? 0;
    if (seq !== expected) this.problem(`${this.nick} received ${from}'s ${what} message ${seq} but expected ${expected} (${seq > expected ? 'lost' : 'repeated'})`);
    next.set(from, Math.max(expected, seq + 1));
    const sentAt = ledger.get(from)?.[seq];
    if (sentAt !== undefined) this.maxLatencyMs = Math.max(this.maxLatencyMs, Date.now() - sentAt);
  }

  async quit(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined || socket.closed) return;
    await socket.write('QUIT :sentinel done\r\n');
    await Promise.race([socket.closedPromise, sleep(2000)]);
    socket.destroy();
  }
}

/** A client for the checks after the run: registers, and asks. */
export class CheckClient {
  private constructor(private readonly socket: LineSocket) {}

  static async connect(port: number): Promise<CheckClient | undefined> {
    const socket = await LineSocket.connect(port, () => undefined);
    return socket === undefined ? undefined : new CheckClient(socket);
  }

  async ask(line: string, match: (message: IrcMessage) => boolean, timeoutMs = 10_000): Promise<IrcMessage | undefined> {
    const reply = this.socket.waitFor(match, timeoutMs);
    await this.socket.write(`${line}\r\n`);
    return reply;
  }

  async send(line: string): Promise<void> {
    await this.socket.write(`${line}\r\n`);
  }

  close(): void {
    this.socket.destroy();
  }
}
