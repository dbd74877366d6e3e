/**
 * A client worker: owns a share of the benchmark's IRC connections, dials and registers them, joins the room, sends
 * its senders' messages on a timer and checks every message it receives. The main thread only orchestrates.
 */
import { connect as dial } from 'node:net';
import type { Socket } from 'node:net';
import { connect as dialTls, createSecureContext } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { nowUs } from './clock.js';
import { Histogram } from './histogram.js';
import type {
  ClientSpec,
  ConnectResult,
  JoinResult,
  LoadPlan,
  LoadResult,
  Reply,
  Request,
  StepStats,
  WorkerConfig,
} from './messages.js';
import {
  LineSplitter,
  buildTemplate,
  commandStart,
  equalsAscii,
  numericAt,
  readTrailer,
  stampLine,
  tokenEnd,
} from './scan.js';
import type { LineSink, Trailer } from './scan.js';

const port = parentPort;
if (port === null) throw new Error('bench/worker.ts must run as a worker thread');
const config = workerData as WorkerConfig;

const DIALLING = 0;
const REGISTERING = 1;
const REGISTERED = 2;
const JOINED = 3;
const CLOSED = 4;

const MAX_ERRORS = 10;
/** Replies that refuse a JOIN (RFC 2812 and modern numerics); other errors, such as 422 no MOTD, can arrive late. */
const JOIN_ERRORS = new Set([403, 405, 437, 471, 473, 474, 475, 476, 477, 479, 489, 520]);
/** Cap on the messages one sender writes in one tick, so a stalled generator cannot build an unbounded buffer. */
const MAX_BATCH = 5000;

// One read buffer for every socket of this worker: reads are handled one at a time, and the line scanner copies the
// only bytes that outlive a read (a line cut at the end) into the connection's carry buffer.
const readBuffer = Buffer.allocUnsafe(256 * 1024);
// Reused for every benchmark line: the receive path allocates nothing per message.
const trailer: Trailer = { epoch: 0, sender: 0, seq: 0, timeUs: 0 };

/** State of the current load step, shared by all connections of this worker. */
const step = {
  mode: 0 as 0 | 1, // 0 fanout, 1 dm
  epoch: -1,
  startUs: 0,
  senderCount: 0,
  expected: new Int32Array(0),
  latency: new Histogram(),
  /** Per latency group (ClientSpec.group); empty unless some client has a group. */
  groups: [] as { received: number; latency: Histogram }[],
  received: 0,
  stale: 0,
  gaps: 0,
  duplicates: 0,
  selfEchoes: 0,
  foreign: 0,
  disconnected: 0,
  deliveredLineBytes: 0,
  loadActive: false,
  errors: [] as string[],
};
/** Time of the read being processed: taken once per read, not per line. */
let readNowUs = 0;

function noteError(list: string[], text: string): void {
  if (list.length < MAX_ERRORS) list.push(text);
}

class Conn implements LineSink {
  readonly index: number;
  readonly local: number;
  readonly nick: string;
  /** The port this client dials (ClientSpec.port, else the worker's). */
  readonly port: number;
  /** Latency group, or -1 for none. */
  readonly group: number;
  readonly splitter = new LineSplitter();
  /** The connection: a TCP socket, or with the tls variant the TLS socket over `raw`. */
  socket: Socket | undefined;
  /** tls variant: the TCP socket under the TLS one (closeAll resets it). */
  raw: Socket | undefined;
  state = DIALLING;
  dialUs = 0;
  /** dm: the client this one hears from. */
  partner = -1;
  /** Set when we close the connection ourselves, so the close is not counted as a disconnect. */
  closing = false;
  joinFailed = false;
  lastError = '';
  /** Length of the last benchmark line this client received: the splitter's guess for the next one. */
  benchLineLength = 0;

  constructor(spec: ClientSpec, local: number) {
    this.index = spec.index;
    this.local = local;
    this.nick = spec.nick;
    this.port = spec.port ?? config.port;
    this.group = spec.group ?? -1;
  }

  onLine(buf: Buffer, start: number, end: number): void {
    if (readTrailer(buf, start, end, trailer)) {
      this.benchLineLength = end - start + 2;
      this.onBenchLine(end - start);
    } else this.onOtherLine(buf, start, end);
  }

  /** The hot path: one benchmark message delivered to this client. */
  private onBenchLine(length: number): void {
    if (trailer.epoch !== step.epoch) {
      step.stale++;
      return;
    }
    let slot: number;
    if (step.mode === 0) {
      if (trailer.sender === this.index) {
        step.selfEchoes++;
        return;
      }
      if (trailer.sender >= step.senderCount) {
        step.foreign++;
        return;
      }
      slot = this.local * step.senderCount + trailer.sender;
    } else {
      if (trailer.sender !== this.partner) {
        step.foreign++;
        return;
      }
      slot = this.local;
    }
    const want = step.expected[slot] ?? 0;
    if (trailer.seq < want) {
      step.duplicates++;
      return;
    }
    // Per sender and receiver the server's order is TCP's order, so a skipped sequence number is a loss.
    if (trailer.seq > want) step.gaps += trailer.seq - want;
    step.expected[slot] = trailer.seq + 1;
    step.received++;
    step.deliveredLineBytes = length + 2;
    const latencyUs = readNowUs - (step.startUs + trailer.timeUs);
    step.latency.record(latencyUs);
    if (this.group >= 0) {
      const g = step.groups[this.group];
      if (g !== undefined) {
        g.received++;
        g.latency.record(latencyUs);
      }
    }
  }

  /** Everything else: registration, NAMES, PING. Rare, so strings are fine here. */
  private onOtherLine(buf: Buffer, start: number, end: number): void {
    const c = commandStart(buf, start, end);
    if (c < 0) return;
    const ce = tokenEnd(buf, c, end);
    const numeric = numericAt(buf, c, ce);
    if (numeric === 1) {
      if (this.state === REGISTERING) {
        this.state = REGISTERED;
        registration?.onRegistered(this);
      }
    } else if (numeric === 366) {
      if (this.state === REGISTERED) {
        this.state = JOINED;
        joining?.onJoined();
      }
    } else if (numeric === 432 || numeric === 433 || numeric === 436 || numeric === 437) {
      this.fail(`nick ${this.nick} refused: ${buf.toString('latin1', start, end)}`);
    } else if (JOIN_ERRORS.has(numeric) && this.state === REGISTERED && joining !== undefined) {
      // A join error (channel full, banned, too many channels...) ends this client's join.
      joining.onJoinError(this, buf.toString('latin1', start, end));
    } else if (equalsAscii(buf, c, ce, 'PING')) {
      this.socket?.write(`PONG ${buf.toString('latin1', ce + 1, end)}\r\n`);
    } else if (equalsAscii(buf, c, ce, 'ERROR')) {
      this.lastError = buf.toString('latin1', start, end);
    }
  }

  private fail(reason: string): void {
    this.lastError = reason;
    this.socket?.destroy();
  }

  onClose(): void {
    const was = this.state;
    this.state = CLOSED;
    if (this.closing) {
      closing?.onClosed();
      return;
    }
    const why = this.lastError !== '' ? this.lastError : 'closed by server';
    if (was < REGISTERED) registration?.onFailed(this, why);
    else {
      if (step.loadActive) step.disconnected++;
      noteError(step.errors, `${this.nick}: ${why}`);
    }
  }
}

let conns: Conn[] = [];
const byIndex = new Map<number, Conn>();

function dialConn(conn: Conn, sourceAddr: string | undefined): void {
  conn.dialUs = nowUs();
  if (config.tls) {
    dialTlsConn(conn, sourceAddr);
    return;
  }
  const socket = dial({
    host: config.host,
    port: conn.port,
    ...(sourceAddr !== undefined ? { localAddress: sourceAddr } : {}),
    noDelay: true,
    onread: {
      buffer: readBuffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        readNowUs = nowUs();
        conn.splitter.feed(buf as Buffer, n, conn);
        return true;
      },
    },
  });
  conn.socket = socket;
  conn.state = REGISTERING;
  socket.on('connect', () => {
    socket.write(`NICK ${conn.nick}\r\nUSER ${conn.nick} 0 * :${conn.nick}\r\n`);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    conn.lastError = err.code ?? err.message;
  });
  socket.on('close', () => {
    conn.onClose();
  });
}

/** tls variant: one client context for the worker (a context per connection would cost an SSL_CTX each). */
const tlsContext = config.tls ? createSecureContext({}) : undefined;

/**
 * The tls variant's dial. The TLS socket runs over a TCP socket dialled like the plain path's (noDelay, source
 * address), which closeAll can reset: resetAndDestroy takes only a TCP handle, not a TLS socket's. node:tls has no
 * `onread`, so decrypted reads come as 'data' chunks (a Buffer from Node per read) fed to the same splitter; lines cut
 * at a chunk's end are carried over as with the shared read buffer. Every dial is a full handshake: no session is
 * offered for resumption. No servername (SNI takes no IP address) and no verification: the server's certificate is
 * the self-signed one Natter makes.
 */
function dialTlsConn(conn: Conn, sourceAddr: string | undefined): void {
  const raw = dial({
    host: config.host,
    port: conn.port,
    ...(sourceAddr !== undefined ? { localAddress: sourceAddr } : {}),
    noDelay: true,
  });
  raw.on('error', (err: NodeJS.ErrnoException) => {
    conn.lastError = err.code ?? err.message;
  });
  const socket = dialTls({ socket: raw, secureContext: tlsContext, rejectUnauthorized: false });
  conn.raw = raw;
  conn.socket = socket;
  conn.state = REGISTERING;
  socket.on('secureConnect', () => {
    socket.write(`NICK ${conn.nick}\r\nUSER ${conn.nick} 0 * :${conn.nick}\r\n`);
  });
  socket.on('data', (chunk: Buffer) => {
    readNowUs = nowUs();
    conn.splitter.feed(chunk, chunk.length, conn);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    conn.lastError = err.code ?? err.message;
  });
  // Also when the TCP socket under it closes: the TLS socket is destroyed with it.
  socket.on('close', () => {
    conn.onClose();
  });
}

// ---- connect ---------------------------------------------------------------------------------------------------

let registration: Registration | undefined;

class Registration {
  readonly latency = new Histogram();
  readonly errors: string[] = [];
  registered = 0;
  failed = 0;
  dialled = 0;
  firstDialUs = 0;
  lastRegisteredUs = 0;
  private readonly list: Conn[];
  private readonly ratePerSec: number;
  private readonly startUs: number;
  private readonly done: (r: ConnectResult) => void;
  private readonly timer: NodeJS.Timeout;
  private readonly deadline: NodeJS.Timeout;
  private finished = false;

  constructor(list: Conn[], ratePerSec: number, startUs: number, timeoutMs: number, done: (r: ConnectResult) => void) {
    this.list = list;
    this.ratePerSec = ratePerSec;
    this.startUs = startUs;
    this.done = done;
    // Paced dialling: every millisecond, dial the clients whose time has come.
    this.timer = setInterval(() => {
      this.dialDue();
    }, 1);
    this.deadline = setTimeout(() => {
      this.finish();
    }, timeoutMs);
  }

  private dialDue(): void {
    const now = nowUs();
    if (now < this.startUs) return;
    const due = Math.min(this.list.length, Math.floor(((now - this.startUs) * this.ratePerSec) / 1e6) + 1);
    while (this.dialled < due) {
      const conn = this.list[this.dialled];
      if (conn === undefined) break;
      if (this.dialled === 0) this.firstDialUs = now;
      // With one source address let the kernel pick it: an explicit bind before connect costs a port search.
      const addrs = config.sourceAddrs;
      dialConn(conn, addrs.length > 1 ? addrs[conn.index % addrs.length] : undefined);
      this.dialled++;
    }
    if (this.dialled >= this.list.length) clearInterval(this.timer);
  }

  onRegistered(conn: Conn): void {
    this.registered++;
    this.lastRegisteredUs = readNowUs;
    this.latency.record(readNowUs - conn.dialUs);
    this.check();
  }

  onFailed(conn: Conn, why: string): void {
    this.failed++;
    noteError(this.errors, `${conn.nick}: ${why}`);
    this.check();
  }

  private check(): void {
    if (this.registered + this.failed >= this.list.length) this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.timer);
    clearTimeout(this.deadline);
    registration = undefined;
    if (this.registered + this.failed < this.list.length) {
      noteError(this.errors, `timed out: ${this.list.length - this.registered - this.failed} not registered`);
    }
    this.done({
      dialled: this.dialled,
      registered: this.registered,
      failed: this.list.length - this.registered,
      firstDialUs: this.firstDialUs,
      lastRegisteredUs: this.lastRegisteredUs,
      latency: this.latency.snapshot(),
      errors: this.errors,
    });
  }
}

// ---- join ------------------------------------------------------------------------------------------------------

let joining: Joining | undefined;

class Joining {
  joined = 0;
  failed = 0;
  readonly errors: string[] = [];
  private readonly expectedCount: number;
  private readonly done: (r: JoinResult) => void;
  private readonly deadline: NodeJS.Timeout;
  private finished = false;

  constructor(expectedCount: number, timeoutMs: number, done: (r: JoinResult) => void) {
    this.expectedCount = expectedCount;
    this.done = done;
    this.deadline = setTimeout(() => {
      noteError(this.errors, `timed out: ${this.expectedCount - this.joined - this.failed} got no 366`);
      this.finish();
    }, timeoutMs);
  }

  onJoined(): void {
    this.joined++;
    this.check();
  }

  onJoinError(conn: Conn, line: string): void {
    if (conn.joinFailed) return;
    conn.joinFailed = true;
    this.failed++;
    noteError(this.errors, `${conn.nick}: ${line}`);
    this.check();
  }

  private check(): void {
    if (this.joined + this.failed >= this.expectedCount) this.finish();
  }

  finishNow(): void {
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    joining = undefined;
    this.done({ joined: this.joined, failed: this.expectedCount - this.joined, errors: this.errors });
  }
}

// ---- load ------------------------------------------------------------------------------------------------------

interface Sender {
  conn: Conn;
  line: Buffer;
  fields: number;
  intervalUs: number;
  offsetUs: number;
  seq: number;
}

function runLoad(plan: LoadPlan, done: (r: LoadResult) => void): void {
  step.mode = plan.mode === 'fanout' ? 0 : 1;
  step.epoch = plan.epoch;
  step.startUs = plan.startUs;
  step.senderCount = plan.senderCount;
  step.expected = new Int32Array(plan.mode === 'fanout' ? conns.length * plan.senderCount : conns.length);
  for (const [receiver, from] of plan.partners) {
    const c = byIndex.get(receiver);
    if (c !== undefined) c.partner = from;
  }
  let groups = 0;
  for (const c of conns) if (c.group + 1 > groups) groups = c.group + 1;
  step.groups = Array.from({ length: groups }, () => ({ received: 0, latency: new Histogram() }));
  resetStep();
  step.loadActive = true;

  const senders: Sender[] = [];
  for (const s of plan.senders) {
    const conn = byIndex.get(s.client);
    if (conn === undefined) continue;
    const { line, fields } = buildTemplate(s.target, plan.wireSize, plan.prefixLen);
    senders.push({ conn, line, fields, intervalUs: 1e6 / s.ratePerSec, offsetUs: s.offsetUs, seq: 0 });
  }
  const result: LoadResult = { sent: 0, writes: 0, maxSendLagUs: 0, maxWriteBacklog: 0 };
  const endRel = plan.durationUs;
  let timer: NodeJS.Timeout | undefined;

  // Open loop on a fixed grid of ticks: message k of a sender belongs to the first tick at or after its ideal time
  // (offset + k / rate), is sent at that tick together with the sender's other messages of the tick, and carries the
  // tick's time whatever happened before. A late timer or a slow server shows as latency, never as a quietly lowered
  // rate (no coordinated omission).
  const tickUs = plan.tickMs * 1000;
  const tick = (): void => {
    const rel = nowUs() - plan.startUs;
    // The last grid tick that has come; its messages and all earlier ones are due.
    const gridNow = Math.floor(rel / tickUs) * tickUs;
    let active = 0;
    for (const s of senders) {
      const firstIdeal = s.offsetUs + s.seq * s.intervalUs;
      if (firstIdeal >= endRel) continue;
      const socket = s.conn.socket;
      // A sender the server disconnected sends no more: it must not hold the step open (it counts as disconnected).
      if (socket === undefined || s.conn.state === CLOSED) continue;
      active++;
      let k = 0;
      while (k < MAX_BATCH) {
        const ideal = s.offsetUs + (s.seq + k) * s.intervalUs;
        if (ideal > gridNow || ideal >= endRel) break;
        k++;
      }
      if (k === 0) continue;
      const len = s.line.length;
      // One write per socket per tick, however many messages are due.
      const out = Buffer.allocUnsafe(k * len);
      for (let j = 0; j < k; j++) {
        const at = j * len;
        s.line.copy(out, at);
        const due = Math.ceil((s.offsetUs + s.seq * s.intervalUs) / tickUs) * tickUs;
        stampLine(out, at, s.fields, plan.epoch, s.conn.index, s.seq, due);
        s.seq++;
      }
      const lag = rel - Math.ceil(firstIdeal / tickUs) * tickUs;
      if (lag > result.maxSendLagUs) result.maxSendLagUs = lag;
      socket.write(out);
      result.writes++;
      result.sent += k;
      if (socket.writableLength > result.maxWriteBacklog) result.maxWriteBacklog = socket.writableLength;
    }
    if (active === 0) {
      if (timer !== undefined) clearInterval(timer);
      result.maxSendLagUs = Math.round(result.maxSendLagUs);
      done(result);
    }
  };
  const wait = Math.max(0, (plan.startUs - nowUs()) / 1000);
  setTimeout(() => {
    timer = setInterval(tick, plan.tickMs);
    tick();
  }, wait);
}

function resetStep(): void {
  step.latency.reset();
  for (const g of step.groups) {
    g.received = 0;
    g.latency.reset();
  }
  step.received = 0;
  step.stale = 0;
  step.gaps = 0;
  step.duplicates = 0;
  step.selfEchoes = 0;
  step.foreign = 0;
  step.disconnected = 0;
  step.deliveredLineBytes = 0;
  step.errors = [];
}

function collect(): StepStats {
  let alive = 0;
  for (const c of conns) if (c.state === REGISTERED || c.state === JOINED) alive++;
  const stats: StepStats = {
    received: step.received,
    stale: step.stale,
    gaps: step.gaps,
    duplicates: step.duplicates,
    selfEchoes: step.selfEchoes,
    foreign: step.foreign,
    disconnected: step.disconnected,
    alive,
    deliveredLineBytes: step.deliveredLineBytes,
    latency: step.latency.snapshot(),
    ...(step.groups.length > 0
      ? { byGroup: step.groups.map((g) => ({ received: g.received, latency: g.latency.snapshot() })) }
      : {}),
    errors: step.errors,
  };
  step.loadActive = false;
  step.epoch = -1;
  resetStep();
  return stats;
}

// ---- close -----------------------------------------------------------------------------------------------------

let closing: { onClosed(): void } | undefined;

function closeAll(done: (closed: number) => void): void {
  const open = conns.filter((c) => c.socket !== undefined && c.state !== CLOSED);
  let left = open.length;
  const finish = (): void => {
    closing = undefined;
    clearTimeout(deadline);
    conns = [];
    byIndex.clear();
    done(open.length);
  };
  const deadline = setTimeout(finish, 5000);
  if (left === 0) {
    finish();
    return;
  }
  closing = {
    onClosed: () => {
      if (--left === 0) finish();
    },
  };
  // A reset instead of QUIT: thousands of clients leave at once without a TIME_WAIT socket each on our side.
  for (const c of open) {
    c.closing = true;
    (c.raw ?? c.socket)?.resetAndDestroy();
  }
}

// ---- dispatch --------------------------------------------------------------------------------------------------

function reply(r: Reply): void {
  port?.postMessage(r);
}

port.on('message', (req: Request) => {
  try {
    switch (req.type) {
      case 'connect': {
        const start = conns.length;
        for (const spec of req.clients) {
          const c = new Conn(spec, conns.length);
          conns.push(c);
          byIndex.set(c.index, c);
        }
        registration = new Registration(conns.slice(start), req.ratePerSec, req.startUs, req.timeoutMs, (result) => {
          reply({ type: 'connect', id: req.id, result });
        });
        break;
      }
      case 'join': {
        const members = conns.filter((c) => c.state === REGISTERED);
        joining = new Joining(members.length, req.timeoutMs, (result) => {
          reply({ type: 'join', id: req.id, result });
        });
        for (const c of members) c.socket?.write(`JOIN ${req.channel}\r\n`);
        if (members.length === 0) joining.finishNow();
        break;
      }
      case 'load':
        runLoad(req.plan, (result) => {
          reply({ type: 'load', id: req.id, result });
        });
        break;
      case 'progress':
        reply({ type: 'progress', id: req.id, result: { received: step.received, stale: step.stale } });
        break;
      case 'collect':
        reply({ type: 'collect', id: req.id, result: collect() });
        break;
      case 'close':
        closeAll((closed) => {
          reply({ type: 'close', id: req.id, result: { closed } });
        });
        break;
    }
  } catch (err) {
    reply({ type: 'error', id: req.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});

reply({ type: 'ready', workerId: config.workerId });
