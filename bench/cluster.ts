/**
 * `npm run bench -- --nodes 1,2,3`: the fan-out scenario on a Natter cluster (issue 9). Starts N `natter serve`
 * processes on loopback that share one PostgreSQL schema (made for the run) and one Redis namespace (one per cluster),
 * spreads the room's members evenly over them (client i on node i mod N; the one sender, client 0, on node 0), and
 * measures deliveries/s, latency from send to receipt split into receivers on the sender's node and on the others, and
 * CPU per delivery (every node's /proc/PID/stat, and Redis' and PostgreSQL's apart), against one process measured the
 * same way (N = 1: `natter serve` on the same PostgreSQL, without --cluster). The single process's highest rate is
 * found first (the ramp of bench/scenarios/fanout.ts); every node count then runs at half of it.
 *
 * Bounded: --budget seconds in all (default 290), optional ramps skipped when the time is short. Every node is stopped
 * by its pid; the Redis namespaces and the PostgreSQL schema are removed at the end, also after a failure or Ctrl-C.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { nowUs, sleep } from './clock.js';
import { requireLoopback, sourceAddresses } from './loopback.js';
import { WorkerPool } from './pool.js';
import {
  machineInfo,
  parentPid,
  processCpuSeconds,
  processExists,
  processTreeCpuSeconds,
  runQueueWaitMs,
} from './proc.js';
import type { MachineInfo } from './proc.js';
import type { Context } from './scenarios/common.js';
import { runFanout, runRamp } from './scenarios/fanout.js';
import type { FanoutOptions, RampResult } from './scenarios/fanout.js';
import { describeStep } from './scenarios/step.js';
import type { StepResult } from './scenarios/step.js';
import { clusterRunKey, nodeOf, renderClusterSection, spliceClusterSection } from './cluster-report.js';
import { canConnect } from './servers.js';
import { REPO_ROOT, SERVERS_DIR, freePort, staleBuildWarning } from './servers.js';

export const CLUSTER_HELP = `Usage: npm run bench -- --nodes LIST [options]

The fan-out scenario on a Natter cluster (issue 9): N \`natter serve --cluster\` processes on loopback sharing a fresh
PostgreSQL schema and a fresh Redis namespace, the room's members spread evenly over the nodes (client i on node
i mod N), one sender on node 0. Latency is split into receivers on the sender's node (same-node) and on the others
(cross-node, through Redis). N = 1 is one \`natter serve\` on the same PostgreSQL without --cluster: the single process
the clusters are compared with. Its highest rate (p99 < 100 ms, nothing lost) is found first; every N then runs at half
of it. Writes the "Cluster mode" section of docs/BENCHMARKS.md and docs/benchmarks-cluster.json.

  --nodes LIST          node counts to run, 1 first (default 1,2,3)
  --scenario fanout     the only scenario of the cluster bench (accepted for symmetry)
  --members C           members of the room (default 200)
  --senders S           senders, all on node 0 (default 1)
  --rate R              msg/s for every node count; skips the single process's ramp
  --max-rate R          the single process's highest rate, if known: skips its ramp, runs at R/2
  --duration T          seconds of load at the fixed rate (default 10)
  --warmup T            seconds at that rate before it is measured, on a room of its own (default 5; 0 = none):
                        fresh nodes run cold code, and the single process would be warm from its ramp
  --ramp-start R        the single process's first ramp rate (default 2000)
  --step T              seconds per ramp step (default 3)
  --ramp-budget T       seconds the single process's ramp may take (default 60)
  --cluster-ramp T      also ramp each cluster for at most T seconds, if the budget allows (default 40; 0 = no)
  --precision F         bisect until fail/pass < 1 + F (default 0.1)
  --budget T            seconds the whole bench may take (default 290)
  --redis URL           Redis on loopback (default redis://127.0.0.1:6379)
  --database URL        PostgreSQL on loopback; a schema is made in it and dropped
                        (default postgres://postgres@127.0.0.1:5432/test)
  --lease-ms MS         cluster.leaseMs of the nodes (default 5000)
  --no-history          run the nodes with --no-history
  --from source|dist    run Natter from src/ through tsx (default) or from the build in dist/ (bin/natter.js)
  --cpu-prof DIR        start every node with --cpu-prof; profiles written to DIR/<N>n-node<i>/ when it stops
                        (the main thread's has thread id 0 in its name: CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile)
  --size, --tick, --drain, --workers, --sender-thread, --quiet-cores, --source-addrs: as for the other scenarios
  --quiet-wait T        wait at most T seconds for a quiet machine before a step (default 5)
  --json FILE           raw results (default docs/benchmarks-cluster.json; with --no-history
                        docs/benchmarks-cluster-nohistory.json, and a table of its own in the section)
  --md FILE             the report whose cluster section is rewritten (default docs/BENCHMARKS.md)
  --no-write            print only
  -h, --help            this text
`;

const NAMESPACE_PREFIX = 'natter-bench';
const SCHEMA_PREFIX = 'natter_bench';

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

export interface NodeCpu {
  wallSeconds: number;
  /** CPU-seconds of each node over the load step's CPU window (node 0 holds the sender). */
  nodeSeconds: number[];
  redisSeconds: number;
  postgresSeconds: number;
  /** ms each node's main thread was runnable but waiting for a CPU (schedstat run_delay); NaN without schedstats. */
  nodeRunQueueWaitMs: number[];
  redisRunQueueWaitMs: number;
}

export interface ClusterRun {
  nodes: number;
  /** The fixed-rate step at the comparison rate. */
  fixed?: StepResult;
  fixedCpu?: NodeCpu;
  ramp?: RampResult;
  /** What happened on the way (a noisy step repeated). */
  notes?: string[];
  errors: string[];
}

export interface ClusterResults {
  tool: 'natter-bench-cluster';
  format: 1;
  startedAt: string;
  finishedAt: string;
  elapsedS: number;
  command: string;
  machine: MachineInfo;
  versions: { natter: string; from: 'source' | 'dist'; redis: string; postgres: string };
  options: Record<string, unknown>;
  /** The single process's ramp (absent with --rate or --max-rate). */
  singleRamp?: RampResult;
  /** The single process's highest passing rate (msg/s) and the rate every node count ran at. */
  maxRate: number | undefined;
  rate: number;
  rateSource: 'ramp' | '--max-rate' | '--rate';
  runs: ClusterRun[];
  cleanup: string[];
}

interface RunningNode {
  index: number;
  pid: number;
  port: number;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

// Node processes still running if the bench dies: killed by pid on the way out.
const live = new Map<number, ChildProcess>();
process.on('exit', () => {
  for (const [pid, c] of live) if (c.exitCode === null && c.signalCode === null) process.kill(pid, 'SIGKILL');
});


interface NodeSpec {
  index: number;
  from: 'source' | 'dist';
  configFile: string;
  database: string;
  redis: string | undefined;
  history: boolean;
  cpuProfDir: string | undefined;
  tag: string;
}

async function startNode(spec: NodeSpec): Promise<RunningNode> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `natter-bench-node${spec.index}-`));
  const logFile = join(dir, 'output.log');
  const out = openSync(logFile, 'a');
  const nodeFlags =
    spec.cpuProfDir === undefined
      ? []
      : // A folder per node: Node writes one profile per thread (tsx's loader runs in one of its own), the main
        // thread's is the one whose name has thread id 0 (CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile).
        ['--cpu-prof', `--cpu-prof-dir=${join(spec.cpuProfDir, `${spec.tag}-node${spec.index}`)}`];
  const entry =
    spec.from === 'source'
      ? ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'run.ts')]
      : [join(REPO_ROOT, 'bin', 'natter.js')];
  const args = [
    ...nodeFlags,
    ...entry,
    'serve',
    '--listen',
    `127.0.0.1:${port}`,
    '--config',
    spec.configFile,
    '--data',
    dir,
    '--database',
    spec.database,
    ...(spec.redis === undefined ? [] : ['--cluster', spec.redis]),
    ...(spec.history ? [] : ['--no-history']),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', out, out] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`node ${spec.index}: could not start ${process.execPath}`);
  live.set(pid, child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM: Natter closes its bus (its lease, inbox and set entry leave Redis) and exits; --cpu-prof writes then.
      process.kill(pid, 'SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) {
        log(`node ${spec.index} (pid ${pid}) did not stop within 10 s: SIGKILL`);
        process.kill(pid, 'SIGKILL');
        await exited;
      }
    }
    live.delete(pid);
    rmSync(dir, { recursive: true, force: true });
  };
  const readyBy = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      live.delete(pid);
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`node ${spec.index} exited during start-up (${child.exitCode ?? child.signalCode}):\n${text}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > readyBy) {
      await stop();
      throw new Error(`node ${spec.index} did not accept connections on 127.0.0.1:${port} within 30 s`);
    }
    await sleep(100);
  }
  return { index: spec.index, pid, port, dir, logFile, stop };
}

/**
 * A process's CPU-seconds, or NaN when it is not visible here (e.g. Redis in another container). `tree`: with its
 * children, also those that exited (PostgreSQL's backends).
 */
function cpuOf(pid: number | undefined, tree = false): number {
  if (pid === undefined) return Number.NaN;
  try {
    return tree ? processTreeCpuSeconds(pid) : processCpuSeconds(pid);
  } catch {
    return Number.NaN;
  }
}

/** Cores Redis and PostgreSQL used in a step: "other processes" to the step, but part of the cluster here. */
function cpuCoresOfServices(cpu: NodeCpu | undefined): number {
  if (cpu === undefined || cpu.wallSeconds <= 0) return 0;
  const r = Number.isNaN(cpu.redisSeconds) ? 0 : cpu.redisSeconds;
  const p = Number.isNaN(cpu.postgresSeconds) ? 0 : cpu.postgresSeconds;
  return (r + p) / cpu.wallSeconds;
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Every key of a namespace (SCAN, not KEYS); deletes them and returns their names (without the namespace). */
async function clearNamespace(redis: Redis, namespace: string): Promise<string[]> {
  let cursor = '0';
  const removed: string[] = [];
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) {
      await redis.del(...keys);
      removed.push(...keys.map((k) => k.slice(namespace.length + 1)));
    }
  } while (cursor !== '0');
  return removed;
}

function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  // URLSearchParams writes spaces as '+', which libpq-style parsers in pg do not read as spaces.
  return u.toString().replace(/options=[^&]*/, `options=${encodeURIComponent(`-c search_path=${schema}`)}`);
}

export async function runClusterBench(argv: string[]): Promise<void> {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      scenario: { type: 'string' },
      members: { type: 'string' },
      senders: { type: 'string' },
      rate: { type: 'string' },
      'max-rate': { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'ramp-start': { type: 'string' },
      step: { type: 'string' },
      'ramp-budget': { type: 'string' },
      'cluster-ramp': { type: 'string' },
      precision: { type: 'string' },
      budget: { type: 'string' },
      redis: { type: 'string' },
      database: { type: 'string' },
      'lease-ms': { type: 'string' },
      'no-history': { type: 'boolean' },
      from: { type: 'string' },
      'cpu-prof': { type: 'string' },
      size: { type: 'string' },
      tick: { type: 'string' },
      drain: { type: 'string' },
      workers: { type: 'string' },
      'sender-thread': { type: 'boolean' },
      'quiet-cores': { type: 'string' },
      'quiet-wait': { type: 'string' },
      'source-addrs': { type: 'string' },
      json: { type: 'string' },
      md: { type: 'string' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (args.help === true) {
    process.stdout.write(CLUSTER_HELP);
    return;
  }
  const num = (name: keyof typeof args, def: number, min: number, max: number): number => {
    const raw = args[name];
    const v = typeof raw === 'string' ? Number(raw) : def;
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number in [${min}, ${max}]`);
    return v;
  };
  if (args.scenario !== undefined && args.scenario !== 'fanout')
    throw new Error('--nodes runs the fanout scenario only (--scenario fanout)');
  const nodeCounts = (args.nodes ?? '1,2,3').split(',').map((s) => Number(s.trim()));
  if (nodeCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) throw new Error('--nodes: node counts 1 to 8');
  if (new Set(nodeCounts).size !== nodeCounts.length) throw new Error('--nodes: each count once');
  const from = args.from ?? 'source';
  if (from !== 'source' && from !== 'dist') throw new Error('--from: source or dist');
  const opts = {
    nodes: nodeCounts,
    members: num('members', 200, 2, 50_000),
    senders: num('senders', 1, 1, 1000),
    duration: num('duration', 10, 0.5, 120),
    warmup: num('warmup', 5, 0, 60),
    rampStart: num('ramp-start', 2000, 10, 1_000_000),
    step: num('step', 3, 0.5, 60),
    rampBudget: num('ramp-budget', 60, 1, 600),
    clusterRamp: num('cluster-ramp', 40, 0, 600),
    precision: num('precision', 0.1, 0.001, 1),
    budget: num('budget', 290, 30, 3600),
    leaseMs: num('lease-ms', 5000, 500, 60_000),
    size: num('size', 150, 80, 510),
    tick: num('tick', 1, 1, 5),
    drain: num('drain', 2000, 100, 60_000),
    workers: num('workers', 2, 1, 16),
    quietCores: num('quiet-cores', 0.3, 0.01, 64),
    quietWait: num('quiet-wait', 5, 0, 600),
    sourceAddrs: num('source-addrs', 1, 1, 250),
    history: args['no-history'] !== true,
    senderThread: args['sender-thread'] === true,
    from,
  };
  if (opts.senders > opts.members) throw new Error('--senders cannot exceed --members');
  const fixedRate = args.rate === undefined ? undefined : num('rate', 0, 1, 1_000_000);
  const knownMax = args['max-rate'] === undefined ? undefined : num('max-rate', 0, 2, 10_000_000);
  if (fixedRate !== undefined && knownMax !== undefined) throw new Error('give --rate or --max-rate, not both');
  const needSingle = fixedRate === undefined && knownMax === undefined;
  if (needSingle && nodeCounts[0] !== 1)
    throw new Error('--nodes must start with 1 (the single process whose highest rate sets the rate), or give --rate');

  const redisUrl = args.redis ?? 'redis://127.0.0.1:6379';
  const baseDb = args.database ?? 'postgres://postgres@127.0.0.1:5432/test';
  requireLoopback(new URL(redisUrl).hostname, '--redis');
  requireLoopback(new URL(baseDb).hostname, '--database');
  const cpuProfDir = args['cpu-prof'];
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true });
  if (from === 'dist') {
    const stale = staleBuildWarning();
    if (stale !== undefined) log(`warning: ${stale}`);
  }

  const t0 = Date.now();
  const deadline = t0 + opts.budget * 1000;
  const left = (): number => (deadline - Date.now()) / 1000;
  const startedAt = new Date().toISOString();
  const command = `npm run bench -- ${argv.join(' ')}`.trim();
  const tag = `${process.pid}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  const schema = `${SCHEMA_PREFIX}_${tag.replace('-', '_')}`;
  const database = withSearchPath(baseDb, schema);
  const cleanupNotes: string[] = [];

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  const pgAdmin = new pg.Client({ connectionString: baseDb });
  await pgAdmin.connect();
  const namespaces: string[] = [];
  let nodes: RunningNode[] = [];
  let pool: WorkerPool | undefined;
  // Set by the signal handler (an object, so that the checks below read it afresh).
  const state = { interrupted: false };
  const interrupted = (): boolean => state.interrupted;
  const onSignal = (): void => {
    if (state.interrupted) {
      // A second Ctrl-C: go now (the exit handler still kills the nodes by pid).
      log(`stopping at once; drop schema ${schema} and the Redis keys ${NAMESPACE_PREFIX}-${tag}-* by hand`);
      process.exit(130);
    }
    state.interrupted = true;
    log('interrupted: finishing the current step, then stopping the nodes and cleaning up (Ctrl-C again: at once)');
  };
  // The budget is checked between steps; this is the backstop if a step hangs.
  const hardStop = setTimeout(() => {
    log(`still running ${opts.budget + 60} s after the start: stopping at once`);
    log(`drop schema ${schema} and the Redis keys ${NAMESPACE_PREFIX}-${tag}-* by hand`);
    process.exit(2);
  }, (opts.budget + 60) * 1000);
  hardStop.unref();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // What the report says about its surroundings.
  const redisInfo = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? '?';
  const redisPidRaw = Number(/process_id:(\d+)/.exec(redisInfo)?.[1]);
  const redisPid = processExists(redisPidRaw) && commOf(redisPidRaw).startsWith('redis') ? redisPidRaw : undefined;
  const pgVersion = String(((await pgAdmin.query('SHOW server_version')).rows[0] as { server_version?: string }).server_version);
  const backend = ((await pgAdmin.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid;
  const postmaster = parentPid(backend);
  const pgPid = postmaster !== undefined && commOf(postmaster).startsWith('postgres') ? postmaster : undefined;
  if (redisPid === undefined) log('Redis runs outside this machine view: its CPU is left out');
  if (pgPid === undefined) log('PostgreSQL runs outside this machine view: its CPU is left out');

  const natterVersion = ((): string => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
    const git = (...a: string[]): string => {
      const r = spawnSync('git', ['-C', REPO_ROOT, ...a], { encoding: 'utf8' });
      return r.status === 0 ? r.stdout.trim() : '';
    };
    const rev = git('rev-parse', '--short', 'HEAD') || 'no commit';
    const dirty = from === 'source' && git('status', '--porcelain', '--', 'src') !== '' ? ' + uncommitted changes in src/' : '';
    return `natter ${pkg.version ?? '?'} (${from === 'source' ? 'src/ through tsx' : 'dist/'}, ${rev}${dirty})`;
  })();

  // The bench's Natter config plus the cluster's namespace and lease.
  const baseConfig = JSON.parse(readFileSync(join(SERVERS_DIR, 'natter', 'natter.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const confDir = mkdtempSync(join(tmpdir(), 'natter-bench-cluster-'));

  const results: ClusterResults = {
    tool: 'natter-bench-cluster',
    format: 1,
    startedAt,
    finishedAt: '',
    elapsedS: 0,
    command,
    machine: machineInfo(),
    versions: { natter: natterVersion, from, redis: redisVersion, postgres: pgVersion },
    options: { ...opts, rate: fixedRate, maxRate: knownMax, redis: redisUrl, database: baseDb },
    maxRate: knownMax,
    rate: fixedRate ?? (knownMax !== undefined ? Math.round(knownMax / 2) : 0),
    rateSource: fixedRate !== undefined ? '--rate' : knownMax !== undefined ? '--max-rate' : 'ramp',
    runs: [],
    cleanup: cleanupNotes,
  };

  const stopAll = async (): Promise<void> => {
    if (pool !== undefined) {
      await pool.stop().catch(() => undefined);
      pool = undefined;
    }
    // In reverse: node 0 (the sender's) last.
    for (const n of [...nodes].reverse()) {
      await n.stop().catch((e: unknown) => {
        log(`stopping node ${n.index}: ${String(e)}`);
      });
    }
    nodes = [];
  };

  try {
    await pgAdmin.query(`CREATE SCHEMA "${schema}"`);
    log(
      `cluster bench: nodes ${nodeCounts.join(',')}, C=${opts.members} S=${opts.senders}, Natter from ${from}, ` +
        `PostgreSQL ${pgVersion} schema ${schema}, Redis ${redisVersion}; budget ${opts.budget} s`,
    );
    for (const n of nodeCounts) {
      if (interrupted()) break;
      const run: ClusterRun = { nodes: n, errors: [] };
      results.runs.push(run);
      const namespace = `${NAMESPACE_PREFIX}-${tag}-${n}`;
      const clustered = n > 1;
      if (clustered) namespaces.push(namespace);
      const configFile = join(confDir, `natter-${n}.json`);
      writeFileSync(
        configFile,
        JSON.stringify({ ...baseConfig, ...(clustered ? { cluster: { namespace, leaseMs: opts.leaseMs } } : {}) }),
      );
      const label = n === 1 ? 'single' : `${n} nodes`;
      const clog = (l: string): void => {
        log(`[${label}] ${l}`);
      };
      try {
        // One after another: each node joins the cluster the others already form.
        for (let i = 0; i < n; i++) {
          nodes.push(
            await startNode({
              index: i,
              from,
              configFile,
              database,
              redis: clustered ? redisUrl : undefined,
              history: opts.history,
              cpuProfDir,
              tag: `${n}n`,
            }),
          );
        }
        clog(`started: ${nodes.map((x) => `node ${x.index} pid ${x.pid} port ${x.port}`).join(', ')}`);
        const first = nodes[0];
        if (first === undefined) throw new Error('no node');
        pool = await WorkerPool.start(opts.workers + (opts.senderThread ? 1 : 0), {
          host: '127.0.0.1',
          port: first.port,
          sourceAddrs: sourceAddresses(opts.sourceAddrs),
          tls: false,
        });
        const ports = nodes.map((x) => x.port);
        const pids = nodes.map((x) => x.pid);
        // Per-node, Redis and PostgreSQL CPU over the step's own CPU window.
        let startCpu: number[] = [];
        const window: { cpu: NodeCpu | undefined } = { cpu: undefined };
        let windowStartMs = 0;
        const readAll = (): number[] => [
          ...pids.map((p) => cpuOf(p)),
          cpuOf(redisPid, true),
          cpuOf(pgPid, true),
          ...pids.map((p) => runQueueWaitMs(p)),
          redisPid === undefined ? Number.NaN : runQueueWaitMs(redisPid),
        ];
        const ctx: Context = {
          pool,
          target: { name: `natter-${n}`, host: '127.0.0.1', port: first.port, pid: first.pid, pids },
          log: clog,
          generation: n * 3,
          epoch: Math.floor(nowUs()) % 1000,
          quietCores: opts.quietCores,
          quietWaitS: opts.quietWait,
          dedicatedSenders: 0,
          senderThread: opts.senderThread,
          onCpuWindow: (edge) => {
            if (edge === 'start') {
              startCpu = readAll();
              windowStartMs = performance.now();
              return;
            }
            const end = readAll();
            const d = end.map((v, i) => Math.round((v - (startCpu[i] ?? 0)) * 1000) / 1000);
            window.cpu = {
              wallSeconds: Math.round(performance.now() - windowStartMs) / 1000,
              nodeSeconds: d.slice(0, n),
              redisSeconds: d[n] ?? Number.NaN,
              postgresSeconds: d[n + 1] ?? Number.NaN,
              nodeRunQueueWaitMs: d.slice(n + 2, 2 * n + 2).map((x) => Math.round(x)),
              redisRunQueueWaitMs: Math.round(d[2 * n + 2] ?? Number.NaN),
            };
          },
        };
        const cross = Array.from({ length: n - 1 }, (_, i) => i + 1);
        const fanout = (rate: number): FanoutOptions => ({
          members: opts.members,
          senders: opts.senders,
          rate,
          durationS: opts.duration,
          wireSize: opts.size,
          tickMs: opts.tick,
          drainMs: opts.drain,
          connectRate: 2000,
          place: (i) => ({ port: ports[nodeOf(i, opts.senders, n)] ?? first.port, group: nodeOf(i, opts.senders, n) }),
          // Joins reach the other nodes through Redis: let every node apply all of them before the first message.
          ...(clustered ? { joinSettleMs: 1000 } : {}),
          mergeGroups: { sameNode: [0], crossNode: cross },
        });
        const rampOf = (budgetS: number, start: number): Promise<RampResult> =>
          runRamp(ctx, {
            ...fanout(start),
            startRate: start,
            maxRate: 1_000_000,
            stepS: opts.step,
            precision: opts.precision,
            budgetS,
          });

        if (n === 1 && needSingle) {
          clog(`ramp: the single process's highest rate with p99 < 100 ms, nothing lost (at most ${opts.rampBudget} s)`);
          const ramp = await rampOf(opts.rampBudget, opts.rampStart);
          results.singleRamp = ramp;
          run.ramp = ramp;
          if (ramp.maxRate <= 0) throw new Error('the single process passed no ramp step: no rate to compare at');
          results.maxRate = ramp.maxRate;
          results.rate = Math.round(ramp.maxRate / 2);
          clog(`half of the highest rate: ${results.rate.toLocaleString('en-US')} msg/s`);
        }
        if (interrupted()) break;
        clog(`fixed rate: ${results.rate.toLocaleString('en-US')} msg/s for ${opts.duration} s`);
        if (opts.warmup > 0) {
          clog(`warm-up: ${opts.warmup} s at that rate, not counted`);
          await runFanout(ctx, { ...fanout(results.rate), durationS: opts.warmup });
        }
        window.cpu = undefined;
        let fixed = await runFanout(ctx, fanout(results.rate));
        // As in the ramp: a step that failed while other processes took a core is run once more before it counts.
        if (!fixed.pass && fixed.cpu.otherCores >= opts.quietCores + cpuCoresOfServices(window.cpu)) {
          clog(`other processes used ${fixed.cpu.otherCores} cores: repeating the step`);
          (run.notes ??= []).push(`a first attempt while other processes were busy was repeated: ${describeStep(fixed)}`);
          window.cpu = undefined;
          fixed = await runFanout(ctx, fanout(results.rate));
        }
        run.fixed = fixed;
        const measured = window.cpu as NodeCpu | undefined;
        if (measured !== undefined) run.fixedCpu = measured;
        const g = run.fixed.merged;
        clog(
          `same-node p50 ${g?.['sameNode']?.latencyMs.p50} p99 ${g?.['sameNode']?.latencyMs.p99} ms; ` +
            `cross-node p50 ${g?.['crossNode']?.latencyMs.p50} p99 ${g?.['crossNode']?.latencyMs.p99} ms; ` +
            `node CPU ${run.fixedCpu?.nodeSeconds.join('+')} s, Redis ${run.fixedCpu?.redisSeconds} s, ` +
            `PostgreSQL ${run.fixedCpu?.postgresSeconds} s`,
        );
        // This cluster's own highest rate, if the budget leaves room for it (and for the node counts still to come).
        const still = nodeCounts.slice(nodeCounts.indexOf(n) + 1);
        const reserve = still.reduce((a, m) => a + 3 * m + opts.duration + 15, 0);
        if (clustered && opts.clusterRamp > 0 && !interrupted()) {
          const budget = Math.min(opts.clusterRamp, left() - reserve - 15);
          if (budget >= opts.step * 3 + 10) {
            clog(`ramp: this cluster's highest rate (at most ${Math.round(budget)} s)`);
            const start = Math.max(10, Math.round(results.rate / 2));
            run.ramp = await rampOf(budget, start);
          } else clog(`no time left for this cluster's ramp (${Math.round(left())} s of the budget left)`);
        }
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        run.errors.push(msg);
        clog(`FAILED: ${msg}`);
      } finally {
        const crashed = nodes.filter((x) => !processExists(x.pid)).map((x) => x.index);
        if (crashed.length > 0) run.errors.push(`node(s) ${crashed.join(',')} died during the run`);
        await stopAll();
        if (clustered) {
          const leftover = await clearNamespace(redis, namespace);
          if (leftover.length > 0)
            cleanupNotes.push(`${namespace}: Redis keys left after the nodes stopped, removed: ${leftover.join(', ')}`);
        }
      }
      if (left() < 10) {
        log(`budget spent (${opts.budget} s): stopping here`);
        break;
      }
    }
  } finally {
    await stopAll();
    for (const ns of namespaces) {
      const leftover = await clearNamespace(redis, ns).catch(() => []);
      if (leftover.length > 0) cleanupNotes.push(`${ns}: Redis keys removed at the end: ${leftover.join(', ')}`);
    }
    await pgAdmin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch((e: unknown) => {
      cleanupNotes.push(`could not drop schema ${schema}: ${String(e)}`);
    });
    await pgAdmin.end().catch(() => undefined);
    redis.disconnect();
    rmSync(confDir, { recursive: true, force: true });
    clearTimeout(hardStop);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  results.finishedAt = new Date().toISOString();
  results.elapsedS = Math.round((Date.now() - t0) / 1000);
  log(`done in ${results.elapsedS} s; schema ${schema} dropped, Redis namespaces ${NAMESPACE_PREFIX}-${tag}-* removed`);

  const key = clusterRunKey(results);
  const jsonPath =
    args.json ?? join(REPO_ROOT, 'docs', key === 'history' ? 'benchmarks-cluster.json' : `benchmarks-cluster-${key}.json`);
  const mdPath = args.md ?? join(REPO_ROOT, 'docs', 'BENCHMARKS.md');
  const section = renderClusterSection(results, relative(REPO_ROOT, jsonPath));
  process.stdout.write(`\n${section}\n`);
  if (args['no-write'] === true || interrupted()) return;
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 1)}\n`);
  let md: string;
  try {
    md = readFileSync(mdPath, 'utf8');
  } catch {
    md = '# Benchmarks\n';
  }
  writeFileSync(mdPath, spliceClusterSection(md, section, key));
  log(`wrote ${relative(process.cwd(), mdPath)} (cluster section) and ${relative(process.cwd(), jsonPath)}`);
}
