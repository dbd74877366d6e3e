/**
 * A fuzz run of the whole server (issue 10, item 1): many clients send random and mutated command lines
 * (test/fuzz/generator.ts) for a bounded time, while sentinels chat in a room and check that every message they
 * expect arrives (test/fuzz/clients.ts). Afterwards the server must still answer every sentinel, serve a fresh
 * client, hold nothing of the fuzz clients (sessions, nicks, empty rooms), and its heap after a full collection must
 * be back near where it was.
 *
 * The server runs as a child process (test/fuzz/server-process.ts): a crash ends that process and is seen as such,
 * not as a failed test in the runner's own process; and its heap is measured after global.gc() (--expose-gc), which
 * is steady from run to run where RSS is not (RSS keeps pages the allocator has not given back, so it is reported,
 * not checked). The heap is measured twice: after a warm-up phase of fuzzing (so the code every command runs has
 * been compiled and the store's statements prepared), and after the measured phase. A leak per connection or per
 * command grows with the second phase; the warm-up's one-time costs do not count against it.
 *
 * Used by test/fuzz-server.test.ts (a short run in CI) and test/fuzz/main.ts (`npm run fuzz -- --seconds N
 * --clients N --seed S`). Loopback only; every phase ends by itself.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigFile } from '../../src/config/schema.js';
import { CheckClient, emptyTotals, FuzzClient, Sentinel, SentinelLedger } from './clients.js';
import type { FuzzTotals } from './clients.js';
import type { FuzzWorld } from './generator.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;

// ---- the child's protocol (test/fuzz/server-process.ts) ------------------------------------------------------------

export interface FuzzServerInput {
  readonly dataDir: string;
  readonly limits: NonNullable<ConfigFile['limits']>;
  readonly accounts: NonNullable<ConfigFile['accounts']>;
  readonly oper: { readonly name: string; readonly password: string };
}

export type FuzzServerRequest = { readonly type: 'stats'; readonly collect: boolean } | { readonly type: 'stop' };

/** What the server holds, after a full collection when asked with `collect`. */
export interface ServerStats {
  readonly heapUsed: number;
  readonly rss: number;
  readonly connections: number;
  readonly sessions: number;
  readonly nicks: number;
  readonly registered: number;
  readonly rooms: number;
  /** Rooms with no member that are not registered: they should have gone with their last member. */
  readonly orphanRooms: readonly string[];
  readonly accountSessions: number;
  readonly nickDeadlines: number;
  readonly roomWrites: number;
  /** Messages the server built with a parameter that cannot be written (server-process.ts), with their stack. */
  readonly malformed: readonly string[];
  /** Nicks held for a session that has gone, or under another name than the session's nick. */
  readonly strayNicks: readonly string[];
  /** Room members who are not on the network. */
  readonly strayMembers: readonly string[];
}

export type FuzzServerMessage = { readonly type: 'ready'; readonly port: number } | { readonly type: 'stats'; readonly stats: ServerStats };

// ---- options and report --------------------------------------------------------------------------------------------

export interface FuzzOptions {
  readonly seed: number;
  /** Fuzz clients at once (each reconnects when closed). */
  readonly clients: number;
  /** The measured phase. */
  readonly seconds: number;
  /** The warm-up phase before the first heap measurement. */
  readonly warmupSeconds: number;
  /** Average chunks per second per fuzz client, outside bursts. */
  readonly chunksPerSecond?: number;
  /** How much the heap after GC may grow from the warm-up to the end. */
  readonly heapGrowthLimitBytes?: number;
  /** Progress lines; the seed is the first. */
  readonly log?: (text: string) => void;
}

export interface FuzzReport {
  readonly options: FuzzOptions;
  readonly totals: FuzzTotals;
  readonly sentinelLinesReceived: number;
  readonly sentinelMaxLatencyMs: number;
  readonly baseline: ServerStats | undefined;
  readonly end: ServerStats | undefined;
  readonly failures: string[];
  /** The last chunks each fuzz client sent, for a failure's report. */
  readonly lastSent: ReadonlyMap<string, readonly string[]>;
  readonly serverErrors: readonly string[];
  readonly serverStderr: string;
}

/**
 * Heap growth allowed between the two measurements. Measured on this project's machine (2 cores, busy): from the
 * warm-up's baseline (26-28 MB) the heap after GC ends +0.4 to +0.9 MB after 3-20 s runs of 12-16 clients, and +1.1
 * to +1.2 MB after 60 s runs of 24 clients (about 300 connections and 30,000 chunks); the legitimate growth is state
 * the fuzz clients leave on purpose (accounts, registered rooms, whowas and failed-login entries, all bounded).
 * 16 MB is an order of magnitude above that, so a run does not fail on V8's variance; a leak of a connection's
 * worth (its session, context and buffers, some tens of KB) per connection, or of anything per line, passes it in a
 * 60 s run. The structural checks (leftovers()) catch smaller leaks of sessions, nicks and rooms exactly.
 */
const DEFAULT_HEAP_GROWTH_LIMIT = 16 * MB;
/** How long a sentinel's message or PONG may take on a busy machine before it counts as lost. */
const STALL_MS = 20_000;

/** The names of the world: fuzz clients' own, the accounts they make, and the sentinels'. */
export function fuzzWorld(clients: number): FuzzWorld {
  return {
    nicks: Array.from({ length: Math.max(8, clients * 2) }, (_, i) => `fz${i}`),
    rooms: Array.from({ length: 8 }, (_, i) => `#fz${i}`),
    accounts: Array.from({ length: 6 }, (_, i) => ({ name: `fzacct${i}`, password: `fuzz-password-${i}` })),
    oper: { name: 'fuzzoper', password: 'fuzz-oper-password' },
    sentinelNicks: ['sentinel1', 'sentinel2', 'sentinel3'],
    sentinelRoom: '#sentinels',
  };
}

/** Sentinels with different caps, so that each tag variant of a line reaches someone who checks it. */
const SENTINEL_CAPS: ReadonlyArray<readonly string[]> = [
  [],
  ['message-tags', 'server-time', 'echo-message', 'batch', 'labeled-response', 'multi-prefix', 'away-notify', 'account-notify', 'extended-join', 'chghost', 'setname', 'invite-notify'],
  ['server-time', 'account-tag', 'batch', 'draft/multiline', 'userhost-in-names', 'natter.chat/view-once', 'draft/message-redaction', 'standard-replies', 'cap-notify'],
];

// ---- the server as a child process ---------------------------------------------------------------------------------

class FuzzServer {
  stdout = '';
  stderr = '';
  private statsWaiter: ((stats: ServerStats) => void) | undefined;
  readonly exited: Promise<number | string>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode ?? 'unknown');
      child.once('exit', (code, signal) => {
        resolve(code ?? signal ?? 'unknown');
      });
    });
    child.on('message', (raw: unknown) => {
      const message = raw as FuzzServerMessage;
      if (message.type === 'stats') this.statsWaiter?.(message.stats);
    });
    child.on('error', () => {
      // A send to a child that has just died: its exit is what the run reports.
    });
  }

  private send(request: FuzzServerRequest): void {
    if (!this.alive || !this.child.connected) return;
    this.child.send(request, () => undefined);
  }

  static async start(input: FuzzServerInput): Promise<FuzzServer> {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/fuzz/server-process.ts'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NATTER_FUZZ_SERVER: JSON.stringify(input) },
    });
    // Kept short: the log is "error" level only, but a broken server may write a lot of it.
    const output = { stdout: '', stderr: '', server: undefined as FuzzServer | undefined };
    const keep = (text: string, chunk: string): string => (text + chunk).slice(-200_000);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output.stdout = keep(output.stdout, chunk);
      if (output.server !== undefined) output.server.stdout = output.stdout;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output.stderr = keep(output.stderr, chunk);
      if (output.server !== undefined) output.server.stderr = output.stderr;
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the fuzz server did not start in 60 s; stderr:\n${output.stderr}`));
      }, 60_000);
      child.on('message', (raw: unknown) => {
        const message = raw as FuzzServerMessage;
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message.port);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the fuzz server exited (${String(code)}) before it was ready; stderr:\n${output.stderr}`));
      });
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    const server = new FuzzServer(child, port);
    server.stdout = output.stdout;
    server.stderr = output.stderr;
    output.server = server;
    return server;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Counts (and, with `collect`, the heap after two full collections); undefined if the child did not answer. */
  async stats(collect: boolean): Promise<ServerStats | undefined> {
    if (!this.alive) return undefined;
    const answer = new Promise<ServerStats | undefined>((resolve) => {
      const timer = setTimeout(() => {
        resolve(undefined);
      }, 30_000);
      this.statsWaiter = (stats) => {
        clearTimeout(timer);
        resolve(stats);
      };
    });
    this.send({ type: 'stats', collect });
    const stats = await Promise.race([answer, this.exited.then(() => undefined)]);
    this.statsWaiter = undefined;
    return stats;
  }

  /** The server's log lines at level error or worse (pino: 50 and up), as "msg: err.message". */
  errors(): string[] {
    const out: string[] = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const record = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string; stack?: string }; command?: string };
        if ((record.level ?? 0) >= 50) out.push(`${record.msg ?? '?'}${record.command === undefined ? '' : ` (${record.command})`}: ${record.err?.stack ?? record.err?.message ?? ''}`);
      } catch {
        out.push(line);
      }
    }
    return out;
  }

  /** Asks the server to stop; resolves with its exit code (killed after 20 s). */
  async stop(): Promise<number | string> {
    this.send({ type: 'stop' });
    const timer = setTimeout(() => {
      this.child.kill('SIGKILL');
    }, 20_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

// ---- the run -------------------------------------------------------------------------------------------------------

/** What the server still holds that the fuzz clients made, when only `expected` sentinels should be there. */
function leftovers(stats: ServerStats, expected: number): string[] {
  const out: string[] = [];
  const counts: ReadonlyArray<readonly [string, number, number]> = [
    ['connections', stats.connections, expected],
    ['sessions', stats.sessions, expected],
    ['nicks held', stats.nicks, expected],
    ['registered users', stats.registered, expected],
    ['users logged in to accounts', stats.accountSessions, 0],
    ['nick grace deadlines', stats.nickDeadlines, 0],
    ['room write queues', stats.roomWrites, 0],
  ];
  for (const [what, actual, wanted] of counts) if (actual !== wanted) out.push(`${what}: ${actual}, expected ${wanted}`);
  if (stats.orphanRooms.length > 0) out.push(`rooms without members that are not registered: ${stats.orphanRooms.join(' ')}`);
  if (stats.strayNicks.length > 0) out.push(`nicks held for nobody: ${stats.strayNicks.join('; ')}`);
  if (stats.strayMembers.length > 0) out.push(`room members who are not on the network: ${stats.strayMembers.join('; ')}`);
  return out;
}

/** Problems the server's own checks saw (messages it could not write as meant), reported once each. */
function malformedOutput(stats: ServerStats, reported: Set<string>): string[] {
  const fresh = stats.malformed.filter((entry) => !reported.has(entry));
  for (const entry of fresh) reported.add(entry);
  return fresh.map((entry) => `the server built a message it cannot write as meant: ${entry}`);
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const startedAt = Date.now();
  const log = (text: string): void => {
    options.log?.(`${text} [${((Date.now() - startedAt) / 1000).toFixed(1)} s]`);
  };
  const world = fuzzWorld(options.clients);
  const failures: string[] = [];
  const totals = emptyTotals();
  const lastSent = new Map<string, readonly string[]>();
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-fuzz-'));
  log(`fuzz: seed ${options.seed}, ${options.clients} clients, ${options.warmupSeconds} s warm-up + ${options.seconds} s; replay with: npm run fuzz -- ${replayArgs(options)}`);

  const server = await FuzzServer.start({
    dataDir,
    // Flood control on, as in production, with room for a client that talks fast: burst 20 as by default, 20 lines a
    // second (the default is 5), 100 held. Fuzz clients pace themselves near that; their bursts and floods go past it.
    limits: { flood: { enabled: true, burst: 20, perSecond: 20, maxQueued: 100 }, connectionsPerIp: options.clients * 2 + 8 },
    // Every client comes from 127.0.0.1: with the default 5 failed logins a minute per address, one wrong password
    // would lock every client out of SASL for the rest of the run.
    accounts: { maxFailedLogins: 100 },
    oper: world.oper,
  }).catch((error: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  const ledger = new SentinelLedger();
  const sentinels: Sentinel[] = world.sentinelNicks.map(
    (nick, i) => new Sentinel({ port: server.port, nick, room: world.sentinelRoom, caps: SENTINEL_CAPS[i % SENTINEL_CAPS.length] ?? [], stallMs: STALL_MS }, ledger, () => sentinels),
  );
  let baseline: ServerStats | undefined;
  let end: ServerStats | undefined;
  const reportedMalformed = new Set<string>();
  const crashed = (): boolean => {
    if (server.alive) return false;
    if (!failures.some((f) => f.startsWith('the server exited'))) failures.push(`the server exited during the run; its stderr:\n${server.stderr.slice(-4000)}`);
    return true;
  };

  /** Fuzz clients for `seconds`, then all closed; resolves early if the server dies. */
  const phase = async (number: number, seconds: number): Promise<void> => {
    const clients = Array.from(
      { length: options.clients },
      (_, index) => new FuzzClient({ port: server.port, seed: options.seed, phase: number, index, world, chunksPerSecond: options.chunksPerSecond ?? 12, totals }),
    );
    const runs = clients.map((client) => client.run());
    await Promise.race([sleep(seconds * 1000), server.exited]);
    for (const client of clients) client.stop();
    await Promise.race([Promise.all(runs), sleep(10_000)]);
    for (const client of clients) lastSent.set(`phase ${number}, ${client.name}`, client.lastSent);
  };

  /** Waits (bounded) until the server has seen every fuzz client go; returns its stats after a full collection. */
  const settle = async (): Promise<ServerStats | undefined> => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !crashed()) {
      const counts = await server.stats(false);
      if (counts !== undefined && counts.connections === sentinels.length && counts.roomWrites === 0) break;
      await sleep(200);
    }
    return server.stats(true);
  };

  try {
    await Promise.all(sentinels.map((sentinel) => sentinel.start()));
    for (const sentinel of sentinels) sentinel.startChatting();
    log('fuzz: server and sentinels ready');

    await phase(0, options.warmupSeconds);
    baseline = await settle();
    if (baseline !== undefined) {
      for (const problem of leftovers(baseline, sentinels.length)) failures.push(`after the warm-up: ${problem}`);
      failures.push(...malformedOutput(baseline, reportedMalformed));
      log(`fuzz: after the warm-up, heap ${(baseline.heapUsed / MB).toFixed(1)} MB, RSS ${(baseline.rss / MB).toFixed(1)} MB (${totals.chunks} chunks sent)`);
    }

    if (!crashed()) await phase(1, options.seconds);
    end = await settle();

    // Every sentinel says one more thing, and then everyone must have everything.
    for (const sentinel of sentinels) await sentinel.stopChatting();
    if (!crashed()) {
      for (const sentinel of sentinels) await sentinel.sayInRoom();
      for (const sentinel of sentinels) await sentinel.ping();
      const deadline = Date.now() + STALL_MS;
      while (Date.now() < deadline && !sentinels.every((s) => s.hasEverything())) await sleep(100);
      for (const sentinel of sentinels) failures.push(...sentinel.missing());
    }
    for (const sentinel of sentinels) failures.push(...sentinel.problems);
    // What the room went through, when something went wrong there.
    const events = sentinels[0]?.roomEvents ?? [];
    if (sentinels.some((s) => s.problems.length > 0) && events.length > 0) failures.push(`(not a failure in itself) the last events of ${world.sentinelRoom}:\n${events.join('\n')}`);
    for (const invalid of totals.invalidLines) failures.push(`a fuzz client received a line the server should not send (${invalid})`);
    // What a command that threw unexpectedly answers (commands/index.ts); its stack is in the server's log.
    for (const [reply, count] of totals.replies) if (reply.endsWith(' INTERNAL_ERROR')) failures.push(`fuzz clients received "${reply}" ${count} time(s)`);

    if (end !== undefined && baseline !== undefined) {
      for (const problem of leftovers(end, sentinels.length)) failures.push(`after the run: ${problem}`);
      failures.push(...malformedOutput(end, reportedMalformed));
      const growth = end.heapUsed - baseline.heapUsed;
      const limit = options.heapGrowthLimitBytes ?? DEFAULT_HEAP_GROWTH_LIMIT;
      log(`fuzz: after the run, heap ${(end.heapUsed / MB).toFixed(1)} MB (${growth >= 0 ? '+' : ''}${(growth / MB).toFixed(1)} MB), RSS ${(end.rss / MB).toFixed(1)} MB`);
      if (growth > limit) failures.push(`the heap after GC grew by ${(growth / MB).toFixed(1)} MB (from ${(baseline.heapUsed / MB).toFixed(1)} MB), more than ${(limit / MB).toFixed(0)} MB`);
    } else if (!crashed()) {
      failures.push('the server did not answer the request for its stats');
    }

    if (!crashed()) failures.push(...(await afterChecks(server.port, sentinels, world)));
    log('fuzz: checks done');
  } catch (error) {
    failures.push(`the run itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    crashed();
    for (const sentinel of sentinels) await sentinel.quit();
    const serverErrors = server.errors();
    if (serverErrors.length > 0) failures.push(`the server logged ${serverErrors.length} error(s):\n${serverErrors.slice(0, 10).join('\n')}`);
    const wasAlive = server.alive;
    const code = await server.stop();
    if (wasAlive && code !== 0) failures.push(`the server did not stop cleanly (exit ${String(code)}); stderr:\n${server.stderr.slice(-4000)}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    options,
    totals,
    sentinelLinesReceived: sentinels.reduce((sum, s) => sum + s.received, 0),
    sentinelMaxLatencyMs: Math.max(...sentinels.map((s) => s.maxLatencyMs)),
    baseline,
    end,
    failures,
    lastSent,
    serverErrors: server.errors(),
    serverStderr: server.stderr,
  };
}

/**
 * After the run: every sentinel answers PING and still talks to the others; a fresh client registers, joins a new room
 * and the sentinels' room, and is heard there; and every nick the fuzz clients used is free again.
 */
async function afterChecks(port: number, sentinels: readonly Sentinel[], world: FuzzWorld): Promise<string[]> {
  const problems: string[] = [];
  for (const sentinel of sentinels) {
    if ((await sentinel.ping(true)) === undefined) problems.push(`after the run, ${sentinel.nick} got no PONG`);
  }
  const fresh = await CheckClient.connect(port);
  if (fresh === undefined) return [...problems, 'after the run, a fresh client could not connect'];
  try {
    const nick = 'freshcheck';
    await fresh.send(`NICK ${nick}`);
    const welcome = await fresh.ask(`USER ${nick} 0 * :fresh`, (m) => m.command === '376' || m.command === '422' || m.command === 'ERROR' || m.command === '433');
    if (welcome === undefined || (welcome.command !== '376' && welcome.command !== '422')) return [...problems, `after the run, a fresh client did not register (${welcome?.command ?? 'no answer'})`];
    const joined = await fresh.ask('JOIN #fresh-check', (m) => m.command === '366' || /^4\d\d$/.test(m.command));
    if (joined?.command !== '366') problems.push(`after the run, a fresh client could not join a new room (${joined?.command ?? 'no answer'})`);
    const joinedSentinels = await fresh.ask(`JOIN ${world.sentinelRoom}`, (m) => m.command === '366' || /^4\d\d$/.test(m.command));
    if (joinedSentinels?.command !== '366') problems.push(`after the run, a fresh client could not join ${world.sentinelRoom} (${joinedSentinels?.command ?? 'no answer'})`);
    const heard = sentinels.map((sentinel) => sentinel.ask('PING :listen', (m) => m.command === 'PRIVMSG' && m.source?.startsWith(`${nick}!`) === true && m.params[1] === 'hello sentinels', 10_000));
    await fresh.send(`PRIVMSG ${world.sentinelRoom} :hello sentinels`);
    (await Promise.all(heard)).forEach((message, i) => {
      if (message === undefined) problems.push(`after the run, ${sentinels[i]?.nick ?? '?'} did not hear a fresh client in ${world.sentinelRoom}`);
    });
    // A nick whose holder left must be free again (a nick claim left behind would refuse it with 433 for ever).
    for (const wanted of world.nicks) {
      const answer = await fresh.ask(`NICK ${wanted}`, (m) => (m.command === 'NICK' && m.params[0] === wanted) || m.command === '433' || m.command === '432', 10_000);
      if (answer?.command !== 'NICK') problems.push(`after the run, the nick ${wanted} was refused to a fresh client (${answer?.command ?? 'no answer'})`);
    }
  } finally {
    fresh.close();
  }
  return problems;
}

/** The arguments of `npm run fuzz` that replay a run. */
export function replayArgs(options: FuzzOptions): string {
  return `--seed ${options.seed} --clients ${options.clients} --seconds ${options.seconds} --warmup ${options.warmupSeconds}`;
}

/** A short summary of a run, and on failure everything needed to replay and read it. */
export function formatReport(report: FuzzReport): string {
  const { options, totals, baseline, end } = report;
  const closed = [...totals.serverClosed].map(([reason, count]) => `${reason} ×${count}`).join(', ') || 'none';
  const lines = [
    `seed ${options.seed}, ${options.clients} clients, ${options.warmupSeconds} s warm-up + ${options.seconds} s`,
    `sent ${totals.chunks} chunks (${(totals.bytes / 1024).toFixed(0)} KB) over ${totals.connections} connections (${totals.failedConnects} could not connect)`,
    `closed by the server: ${closed}`,
    `replies received: ${[...totals.replies].sort(([, a], [, b]) => b - a).map(([what, count]) => `${what} ×${count}`).join(', ')}`,
    `sentinels received ${report.sentinelLinesReceived} lines; slowest sentinel message ${report.sentinelMaxLatencyMs} ms`,
  ];
  if (baseline !== undefined && end !== undefined) {
    lines.push(`heap after GC ${(baseline.heapUsed / MB).toFixed(1)} -> ${(end.heapUsed / MB).toFixed(1)} MB; RSS ${(baseline.rss / MB).toFixed(1)} -> ${(end.rss / MB).toFixed(1)} MB`);
  }
  if (report.failures.length === 0) return lines.join('\n');
  lines.push('', `FAILED (${report.failures.length}):`, ...report.failures.map((f) => `- ${f}`), '', `replay: npm run fuzz -- ${replayArgs(options)}`, '', 'last chunks each fuzz client sent:');
  for (const [client, sent] of report.lastSent) {
    if (sent.length === 0) continue;
    lines.push(`  ${client}:`, ...sent.map((entry) => `    ${entry}`));
  }
  return lines.join('\n');
}

/** A seed from the clock and Math.random, for runs not given one. */
export function randomSeed(): number {
  return (Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) >>> 0;
}
